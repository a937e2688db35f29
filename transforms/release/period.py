"""The period a release covers: its first and last service month (診療年月), on Spark built-ins.

Requirement 30: the 作成時公表 states the period of the data when the same items are created
repeatedly. It is read from the released tables themselves, so the notice cannot claim a month
the data do not hold (issue 17 item 5).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

SERVICE_MONTH = "service_month"


def tables_with(frames: Mapping[str, DataFrame], column: str = SERVICE_MONTH) -> list[str]:
    """The names of the tables that have `column`, sorted."""
    return sorted(name for name, df in frames.items() if column in df.columns)


def select_month_range(frames: Mapping[str, DataFrame], column: str = SERVICE_MONTH) -> DataFrame:
    """One row `(first_month, last_month)`: the earliest and latest month (dates, truncated to the
    month) of `column` over every frame that has it; nulls are ignored. Both are null when no frame
    has a non-null value. Raises ValueError naming the frames when none has the column."""
    names = tables_with(frames, column)
    if not names:
        raise ValueError(f"no table has a {column!r} column; tables: {', '.join(sorted(frames)) or '(none)'}")
    months = [frames[n].select(F.trunc(F.col(column), "month").alias("month")) for n in names]
    union = months[0]
    for df in months[1:]:
        union = union.unionByName(df)
    return union.agg(F.min("month").alias("first_month"), F.max("month").alias("last_month"))
