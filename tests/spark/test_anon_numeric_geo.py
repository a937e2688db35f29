from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from transforms.columns.classification import with_hierarchy
from transforms.columns.geo import (
    address_area,
    institution_prefecture,
    municipality_code,
    postal_prefix,
    prefecture_code,
)
from transforms.columns.numeric import (
    bin_edges,
    bin_width,
    clip,
    quantile_bounds,
    quantile_bounds_by,
    round_to,
)
from transforms.local import local_frame

PREFS = {"北海道": "01", "東京都": "13", "神奈川県": "14", "京都府": "26", "大阪府": "27"}
MUNIS = {"東京都千代田区": "131016", "神奈川県横浜市": "141003", "神奈川県横浜市中区": "141046", "京都府京都市": "261009"}


def test_req19_clip_fixed_bounds_keeps_null(spark):
    df = local_frame(spark, [(5,), (800000,), (None,), (-3,)], "v long")
    assert [r[0] for r in df.select(clip(F.col("v"), 0, 700000)).collect()] == [5, 700000, None, 0]


def test_req19_quantile_bounds_are_computed_in_spark(spark):
    df = local_frame(spark, [(float(i),) for i in range(1, 101)] + [(None,)], "v double")
    b = quantile_bounds(df, "v", 0.05, 0.95, 0.0001)
    assert (b.lower, b.upper) == (5.0, 95.0)


def test_req19_quantile_bounds_per_group(spark):
    rows = [("HbA1c", float(i)) for i in range(1, 11)] + [("血糖", float(i * 100)) for i in range(1, 11)] + [(None, 1.0)]
    df = local_frame(spark, rows, "code string, v double")
    got = {r["code"]: (r["__lower"], r["__upper"]) for r in quantile_bounds_by(df, "v", "code", 0.1, 0.9, 0.0001).collect()}
    assert got == {"HbA1c": (1.0, 9.0), "血糖": (100.0, 900.0)}


def test_round_and_bins(spark):
    df = local_frame(spark, [(7, Decimal("1.26")), (19, Decimal("0.04")), (120, None), (None, Decimal("9.99")), (600, Decimal("2.5"))],
                               "beds int, q decimal(15,5)")
    rows = df.select(
        bin_edges(F.col("beds"), [20, 100, 300, 500]).alias("cls"), bin_width(F.col("beds"), 100).alias("w"),
        round_to(F.col("q"), 0.1).cast("decimal(15,5)").alias("r"), bin_edges(F.col("q"), [1, 2.5]).alias("qb"),
    ).collect()
    assert [r["cls"] for r in rows] == ["<20", "<20", "100-299", None, "500+"]
    assert [r["w"] for r in rows] == ["0-99", "0-99", "100-199", None, "600-699"]
    assert [r["r"] for r in rows] == [Decimal("1.30000"), Decimal("0E-5"), None, Decimal("10.00000"), Decimal("2.50000")]
    assert [r["qb"] for r in rows] == ["1-<2.5", "<1", None, "2.5+", "2.5+"]


def test_bins_refuse_unordered_edges():
    with pytest.raises(ValueError, match="increasing"):
        bin_edges(F.col("v"), [100, 20])


def test_req6_postal_prefix_keeps_three_digits_only(spark):
    df = local_frame(spark, [("100-0005",), ("〒１００－０００５",), ("1000005",), ("12-345",), (None,), ("東京",)], "p string")
    assert [r[0] for r in df.select(postal_prefix(F.col("p"))).collect()] == ["100", "100", "100", None, None, None]
    with pytest.raises(ValueError, match="requirement 6"):
        postal_prefix(F.col("p"), 4)


def test_req5_address_to_prefecture_and_municipality_codes(spark):
    rows = [("東京都千代田区丸の内1-1-1",), ("神奈川県横浜市中区山下町1",), ("神奈川県横浜市西区2-3",), ("京都府京都市左京区",),
            ("大阪府　大阪市北区",), ("どこか町1",), (None,)]
    df = local_frame(spark, rows, "a string")
    got = df.select(prefecture_code(F.col("a"), PREFS), municipality_code(F.col("a"), MUNIS)).collect()
    assert [tuple(r) for r in got] == [
        ("13", "131016"), ("14", "141046"), ("14", "141003"), ("26", "261009"), ("27", None), (None, None), (None, None),
    ]
    with pytest.raises(ValueError, match="level"):
        address_area(F.col("a"), "town", PREFS, MUNIS)


def test_req20_institution_code_to_prefecture(spark):
    df = local_frame(spark, [("1312345678",), ("１３１２３４５６７８",), ("1234567",), (None,)], "c string")
    assert [r[0] for r in df.select(institution_prefecture(F.col("c"))).collect()] == ["13", "13", None, None]


def test_hierarchy_mapping_suppresses_or_keeps_unmapped(spark):
    df = local_frame(spark, [(1, "8833421"), (2, "0000999"), (3, None)], "i int, code string")
    mapping = local_frame(spark, [("8833421", "E11", "E10-E14")], "code string, icd10 string, block string")
    got = {r["i"]: r["code"] for r in with_hierarchy(df, "code", mapping, "code", "block").collect()}
    kept = {r["i"]: r["out"] for r in with_hierarchy(df, "code", mapping, "code", "icd10", "out", "keep").collect()}
    assert got == {1: "E10-E14", 2: None, 3: None} and kept == {1: "E11", 2: "0000999", 3: None}
    with pytest.raises(ValueError, match="missing column"):
        with_hierarchy(df, "code", mapping, "code", "chapter")
