"""transforms/uke/write.py (typed columns -> UKE line) and the check digit of the generator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from synth.draws import check_digit, check_digit_py, zipf_index
from transforms.local import local_frame
from transforms.uke.layout import CO, HO, SI
from transforms.uke.write import (
    format_decimal,
    format_line,
    select_typed,
    typed_schema,
    wareki_date,
    wareki_ym,
)

# Real numbers printed in the public sample file (fixtures/uke, receiptisan): 協会けんぽ, 共済,
# 国保 (6 digits) 保険者番号 and 公費負担者番号 (生活保護 12, 28, 81).
REAL_VALID = ("01130012", "01010016", "34130021", "133066", "12143210", "28140507", "81140048")


def test_check_digit_matches_real_numbers(spark):
    for length in (8, 6):
        numbers = [n for n in REAL_VALID if len(n) == length]
        df = local_frame(spark, [(n[:-1], None) for n in numbers] + [(None, None)], "body string, other string")
        got = [r[0] for r in df.select(check_digit(F.col("body"), length - 1)).collect()]
        assert got == [n[-1] for n in numbers] + [None]
    assert [check_digit_py(n[:-1]) for n in REAL_VALID] == [n[-1] for n in REAL_VALID]


@pytest.mark.parametrize(
    ("day", "gyymmdd", "gyymm"),
    [
        (dt.date(2019, 5, 1), "5010501", "50105"),
        (dt.date(2019, 4, 30), "4310430", "43104"),
        (dt.date(1995, 2, 8), "4070208", "40702"),
        (dt.date(1989, 1, 8), "4010108", "36401"),  # 平成元年1月8日, but January 1989 begins in 昭和64年
        (dt.date(1989, 1, 7), "3640107", "36401"),
        (dt.date(1926, 12, 25), "3011225", "21512"),
        (dt.date(1926, 12, 24), "2151224", "21512"),
        (dt.date(1912, 7, 30), "2010730", "14507"),
        (dt.date(1912, 7, 29), "1450729", "14507"),
    ],
)
def test_wareki_dates_at_era_boundaries(spark, day, gyymmdd, gyymm):
    row = local_frame(spark, [(day,)], "d date").select(
        wareki_date(F.col("d")).alias("w"), wareki_ym(F.col("d")).alias("ym")
    ).first()
    assert (row["w"], row["ym"]) == (gyymmdd, gyymm)


def test_format_decimal_drops_trailing_zeros(spark):
    df = local_frame(spark, [(Decimal("1"),), (Decimal("0.5"),), (Decimal("100"),), (Decimal("2.25"),), (None,)],
                               "x decimal(15,5)")
    assert [r[0] for r in df.select(format_decimal(F.col("x"))).collect()] == ["1", "0.5", "100", "2.25", None]


def _ho_row(insurer_no, symbol):
    return (insurer_no, symbol, "１２", 1, 13642, None, None, None, None, 4090, None, None, None)


HO_SCHEMA = ("insurer_no string, card_symbol string, card_number string, days int, points bigint, meal_count int, "
             "meal_amount bigint, occupational string, certificate_no string, copay_amount bigint, "
             "reduction_class string, reduction_rate int, reduction_amount bigint")


def test_format_line_pads_insurer_and_keeps_trailing_empty_fields(spark):
    df = local_frame(spark, [_ho_row("133066", "東京"), _ho_row("01130012", None)], HO_SCHEMA)
    lines = [r[0] for r in df.select(format_line(HO)).collect()]
    assert lines == ["HO,  133066,東京,１２,1,13642,,,,,,4090,,,", "HO,01130012,,１２,1,13642,,,,,,4090,,,"]
    assert all(len(line.split(",")) == HO.width + 1 for line in lines)


def test_format_line_days_and_era_dates(spark):
    days = [None] * 31
    days[2], days[30] = 1, 2
    row = {f.name: None for f in SI.kept()}
    row.update(care_class="60", burden_class="1", procedure_code="160008010", points=21, count=3, day_counts=days,
               comment_code_1="850100001", comment_text_1="診療開始日")
    schema = ", ".join(f"{n} {t}" for n, t in typed_schema(SI))
    df = local_frame(spark, [tuple(row[f.name] for f in SI.kept())], schema)
    line = df.select(format_line(SI)).first()[0]
    fields = line.split(",")
    assert len(fields) == SI.width + 1
    assert fields[:8] == ["SI", "60", "1", "160008010", "", "21", "3", "850100001"]
    assert fields[8] == "診療開始日"
    assert fields[13:] == ["", "", "1"] + [""] * 27 + ["2"]


def test_select_typed_names_missing_columns(spark):
    df = local_frame(spark, [("60", "1")], "care_class string, burden_class string")
    with pytest.raises(ValueError, match=r"select_typed\(CO\): missing columns \['comment_code', 'comment_text'\]"):
        select_typed(df, CO)


def test_zipf_index_has_a_long_tail(spark):
    n = 200_000
    ranks = spark.range(n).select(zipf_index(F.rand(1), 400, 1.1).alias("r")).groupBy("r").count()
    counts = {r["r"]: r["count"] for r in ranks.collect()}
    assert min(counts) == 0 and max(counts) == 399
    assert counts[0] > 100 * counts.get(399, 1)  # the head is far more frequent than the tail
    assert sum(c for r, c in counts.items() if r >= 350) < 0.03 * n  # the last 50 ranks are rare
