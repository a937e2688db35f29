"""transforms/local.py: small frames from the driver's rows through Arrow, the same rows and schema
createDataFrame gives, held by the JVM (a local relation) instead of a Python RDD."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from pyspark.sql import types as T

from transforms.columns.pseudonym import hmac_sha256_hex, with_keys
from transforms.local import local_frame

SCHEMA = T.StructType([
    T.StructField("code", T.StringType()),
    T.StructField("n", T.LongType()),
    T.StructField("small", T.IntegerType()),
    T.StructField("x", T.DoubleType()),
    T.StructField("flag", T.BooleanType()),
    T.StructField("pad", T.BinaryType(), False),
    T.StructField("day", T.DateType()),
    T.StructField("amount", T.DecimalType(10, 2)),
])
ROWS = [
    ("A00", 1, 2, 0.5, True, bytearray(b"\x00\xff"), dt.date(2024, 4, 1), Decimal("12.34")),
    ("傷病", None, None, None, None, bytearray(b""), None, None),
    (None, -(2**40), -7, -1e300, False, bytearray(b"\x01"), dt.date(1900, 1, 1), Decimal("-0.01")),
]


def test_local_frame_gives_the_rows_and_schema_create_data_frame_gives(spark):
    ours, theirs = local_frame(spark, ROWS, SCHEMA), spark.createDataFrame(ROWS, SCHEMA)
    assert ours.schema == theirs.schema == SCHEMA
    assert sorted(ours.collect(), key=str) == sorted(theirs.collect(), key=str)


def test_a_ddl_schema_and_no_rows_give_an_empty_typed_frame(spark):
    df = local_frame(spark, [], "`__code` string, __n long")
    assert df.schema.simpleString() == "struct<__code:string,__n:bigint>"
    assert df.count() == 0


def test_the_frame_is_a_local_relation_not_a_python_rdd(spark, capsys):
    """Read by the JVM alone: no Python worker unpickles it each time a query reads it."""
    local_frame(spark, [("a", 1)], "c string, n long").join(spark.range(3).selectExpr("'a' AS c"), "c").explain()
    plan = capsys.readouterr().out
    assert "LocalTableScan" in plan and "ExistingRDD" not in plan, plan
    spark.createDataFrame([("a", 1)], "c string, n long").explain()
    assert "ExistingRDD" in capsys.readouterr().out  # what the test would see without Arrow


def test_a_value_of_the_wrong_type_raises_instead_of_being_cast(spark):
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        local_frame(spark, [(1, 2)], "code string, n long")
    with pytest.raises(ValueError, match="every row needs 2 values"):
        local_frame(spark, [("a",)], "code string, n long")


def test_timestamps_are_refused_naming_the_field(spark):
    with pytest.raises(TypeError, match="'at' is a timestamp"):
        local_frame(spark, [(dt.datetime(2024, 1, 1),)], "at timestamp")


def test_req15_the_key_pads_held_in_the_plan_never_appear_in_its_descriptions(spark, capsys):
    """with_keys' one-row frame is a local relation now, its rows inside the plan: no explain mode prints
    them (Spark describes a LocalRelation by its columns), so the key cannot reach a log through a plan."""
    key = b"pads-in-a-plan-not-a-secret-0123456789"
    df, pads = with_keys(spark.range(2).selectExpr("CAST(id AS string) AS v"), {"k": key})
    out = df.select(hmac_sha256_hex(df["v"], pads["k"]).alias("h"))
    assert out.count() == 2
    for mode in ("simple", "extended", "codegen", "cost", "formatted"):
        out.explain(mode)
    plans = capsys.readouterr().out.lower()
    assert "localrelation [__key0_i" in plans or "localtablescan" in plans
    padded = key.ljust(64, b"\0")
    for pad in (bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)):
        assert pad.hex()[:16] not in plans and str(list(pad[:4]))[1:-1] not in plans
