"""Requirement 30: the period of a release is its first and last service month, read from its tables
(transforms/release/period.py on a real Spark)."""

import datetime as dt

import pytest

from transforms.local import local_frame
from transforms.release.period import select_month_range, tables_with

D = dt.date


def test_req30_the_range_spans_every_table_with_a_service_month_and_ignores_nulls(spark):
    frames = {
        "receipts": local_frame(spark, [("a", D(2019, 4, 1)), ("b", D(2019, 5, 1)), ("c", None)],
                                          "pid string, service_month date"),
        "diagnoses": local_frame(spark, [("a", "糖尿病", D(2019, 3, 15))], "pid string, name string, service_month date"),
        "patients": local_frame(spark, [("a", "1"), ("b", None)], "pid string, sex string"),
    }
    assert tables_with(frames) == ["diagnoses", "receipts"]
    row = select_month_range(frames).collect()
    assert [tuple(r) for r in row] == [(D(2019, 3, 1), D(2019, 5, 1))]


def test_req30_only_nulls_give_an_empty_range_and_no_month_column_is_named(spark):
    nulls = {"receipts": local_frame(spark, [("a", None)], "pid string, service_month date")}
    assert [tuple(r) for r in select_month_range(nulls).collect()] == [(None, None)]
    without = {"patients": local_frame(spark, [("a", "患者")], "pid string, label string")}
    with pytest.raises(ValueError, match="no table has a 'service_month' column; tables: patients"):
        select_month_range(without)
