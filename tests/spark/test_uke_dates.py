import datetime as dt

import pytest
from pyspark.sql import functions as F

from transforms.local import local_frame
from transforms.uke.dates import date_reason, date_value, ym_value
from transforms.uke.parse import code_sql

D = dt.date


# How transforms/uke/parse.py types a date field: the value, then the reason from its lengths (和暦, 西暦).
DATE, YM = (date_value, (7, 8)), (ym_value, (5, 6))


def _dates(spark, values, kind):
    value_of, lengths = kind
    df = local_frame(spark, [(i, v) for i, v in enumerate(values)], "i int, s string")
    s = code_sql("s")
    value = value_of(s)
    rows = df.select("i", F.expr(value).alias("v"), F.expr(date_reason(s, value, *lengths)).alias("r")).orderBy("i").collect()
    return [(r["v"], r["r"]) for r in rows]


def test_era_and_seireki_dates_parse_by_length(spark):
    got = _dates(spark, ["4070208", "5010501", "19930702", "3640107", "4010108", "１９９３０７０２", None, ""], DATE)
    assert got == [
        (D(1995, 2, 8), None),  # 平成7年2月8日
        (D(2019, 5, 1), None),  # 令和元年5月1日
        (D(1993, 7, 2), None),
        (D(1989, 1, 7), None),  # 昭和64年1月7日, the last day of 昭和
        (D(1989, 1, 8), None),  # 平成元年1月8日, the first day of 平成
        (D(1993, 7, 2), None),  # full-width digits
        (None, None),
        (None, None),
    ]


def test_impossible_era_dates_are_rejected_with_a_date_reason(spark):
    got = _dates(spark, ["4320101", "5000101", "3641301", "3640108", "4310501", "20210230", "18000101"], DATE)
    assert got == [(None, "impossible_date")] * 7


def test_malformed_dates_are_invalid(spark):
    got = _dates(spark, ["202110", "6010101", "0010101", "2021-10-01", "4O70208", "123456789"], DATE)
    assert got == [(None, "invalid_date")] * 6


def test_year_months_in_both_systems(spark):
    got = _dates(spark, ["43101", "202111", "36401", "50105", "43105", "50104", "202113", "4310", "令和"], YM)
    assert got == [
        (D(2019, 1, 1), None),  # 平成31年1月
        (D(2021, 11, 1), None),
        (D(1989, 1, 1), None),  # 昭和64年1月 existed for 7 days
        (D(2019, 5, 1), None),
        (None, "impossible_date"),  # 平成31年5月: 平成 ended 30 April
        (None, "impossible_date"),  # 令和元年4月: 令和 began 1 May
        (None, "impossible_date"),
        (None, "invalid_date"),
        (None, "invalid_date"),
    ]


@pytest.mark.parametrize(("era", "first", "last"), [("1", "1010101", "1450729"), ("2", "2010730", "2151224"),
                                                     ("3", "3011225", "3640107"), ("4", "4010108", "4310430")])
def test_every_era_accepts_its_bounds_and_refuses_the_day_after(spark, era, first, last):
    after = {"1": "1450730", "2": "2151225", "3": "3640108", "4": "4310501"}[era]
    got = _dates(spark, [first, last, after], DATE)
    assert [r for _, r in got] == [None, None, "impossible_date"]
