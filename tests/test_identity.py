import datetime as dt

import pytest
from pyspark.sql import functions as F

from transforms.identity import (
    id1_of_parts,
    id1_source,
    id2_of_parts,
    id2_source,
    normalize_branch,
    normalize_card,
    normalize_digits,
    normalize_insurer,
    normalize_kana,
    with_id_parts,
)


def _one(spark, expr, value, schema="v string"):
    return spark.createDataFrame([(value,)], schema).select(expr(F.col("v")).alias("o")).first()["o"]


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("ヤマダ　タロウ", "ヤマダタロウ"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"),
        ("やまだ たろう", "ヤマダタロウ"),
        ("ｷｮｳｺ", "キヨウコ"),
        ("キョウコ", "キヨウコ"),
        ("ﾊﾟｸ ｼﾞｭﾝ", "パクジユン"),
        ("ヴァン・ゴッホ", "ヴアンゴツホ"),
        ("", None),
        (None, None),
    ],
)
def test_req42_kana_forms_normalize_to_one_key(spark, raw, want):
    assert _one(spark, normalize_kana, raw) == want


@pytest.mark.parametrize(
    ("fn", "raw", "want"),
    [
        (normalize_digits, "  133066", "133066"),
        (normalize_digits, "１３３０６６", "133066"),
        (normalize_digits, "   ", None),
        (normalize_insurer, " 6139992", "06139992"),
        (normalize_insurer, "  133066", "133066"),
        (normalize_card, "１２３－４５", "12345"),
        (normalize_card, "ａｂ 12", "AB12"),
        (normalize_branch, "1", "01"),
        (normalize_branch, "０２", "02"),
        (normalize_branch, None, ""),
    ],
)
def test_req42_number_fields_normalize(spark, fn, raw, want):
    assert _one(spark, fn, raw) == want


def test_req42_id1_and_id2_sources_match_across_writing_styles_and_need_core_fields(spark):
    rows = [
        ("06139992", "１２３", "４５６", "01", dt.date(1950, 2, 3), "1", "ヤマダ　タロウ"),
        (" 6139992", "123", "456", "1", dt.date(1950, 2, 3), "1", "ﾔﾏﾀﾞ ﾀﾛｳ"),
        ("06139992", None, "456", None, dt.date(1950, 2, 3), "1", None),
        (None, "123", "456", "01", dt.date(1950, 2, 3), "1", "ヤマダタロウ"),
    ]
    df = spark.createDataFrame(rows, "ins string, sym string, num string, br string, born date, sex string, kana string")
    out = df.select(
        id1_source(F.col("ins"), F.col("sym"), F.col("num"), F.col("br"), F.col("born"), F.col("sex")).alias("id1"),
        id2_source(F.col("kana"), F.col("born"), F.col("sex")).alias("id2"),
    ).collect()
    assert out[0]["id1"] == "ID1\x1f06139992\x1f123\x1f456\x1f01\x1f19500203\x1f1"
    assert out[1]["id1"] == out[0]["id1"]  # spaces, full-width digits, a lost leading zero, 枝番 "1"
    assert out[2]["id1"] == "ID1\x1f06139992\x1f\x1f456\x1f\x1f19500203\x1f1"
    assert out[3]["id1"] is None
    assert out[0]["id2"] == out[1]["id2"] == out[3]["id2"] == "ID2\x1fヤマダタロウ\x1f19500203\x1f1"
    assert out[2]["id2"] is None


def test_req42_ids_from_parts_equal_the_one_expression_ids(spark):
    """with_id_parts + id1_of_parts / id2_of_parts (the fast form linkage and opt-out use) give the
    same strings as id1_source / id2_source, including voiced marks and hiragana."""
    rows = [
        ("06139992", "１２３", "４５６", "01", dt.date(1950, 2, 3), "1", "ﾊﾟｸ ｼﾞｭﾝ"),
        (" 6139992", None, "456", None, dt.date(1950, 2, 3), "2", "やまだ　はなこ"),
        (None, "123", "456", "01", dt.date(1950, 2, 3), "1", "カ゛ハ゜"),
        ("06139992", "1", "2", "3", None, "1", "ア"),
    ]
    df = spark.createDataFrame(rows, "ins string, sym string, num string, br string, born date, sex string, kana string")
    c = F.col
    want = df.select(
        id1_source(c("ins"), c("sym"), c("num"), c("br"), c("born"), c("sex")).alias("a"),
        id1_source(c("ins"), c("sym"), c("num"), F.lit(None), c("born"), c("sex")).alias("b"),
        id2_source(c("kana"), c("born"), c("sex")).alias("c"),
    ).collect()
    parts = with_id_parts(df, c("ins"), c("sym"), c("num"), c("br"), c("born"), c("sex"), c("kana"))
    got = parts.select(id1_of_parts().alias("a"), id1_of_parts(with_branch=False).alias("b"), id2_of_parts().alias("c"))
    assert got.collect() == want
    assert want[2]["c"] == "ID2\x1fガパ\x1f19500203\x1f1" and want[0]["c"] == "ID2\x1fパクジユン\x1f19500203\x1f1"
    assert want[3] == (None, None, None)
