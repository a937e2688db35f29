"""transforms/local.py: small frames from the driver's rows through Arrow, the same rows and schema
createDataFrame gives, held by the JVM (a local relation) instead of a Python RDD."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from pyspark.sql import types as T

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
