"""Codes mapped up a classification from conf/hierarchies (ICD-10 code -> block -> chapter, 医薬品
コード -> 薬効分類): a broadcast join with the small reference table, Spark built-ins only."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def check_columns(df: DataFrame, needed: list[str], what: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {', '.join(missing)}; available: {', '.join(df.columns)}")


def with_hierarchy(
    df: DataFrame, column: str, mapping: DataFrame, key: str, level: str, out: str | None = None, unmapped: str = "suppress"
) -> DataFrame:
    """Replace `column` (or add `out`) by its `level` value in `mapping`.

    A code absent from the mapping is suppressed (null) or kept as is (`unmapped="keep"`).
    """
    check_columns(df, [column], "table")
    check_columns(mapping, [key, level], "hierarchy")
    if unmapped not in ("suppress", "keep"):
        raise ValueError("unmapped: use suppress or keep")
    out = out or column
    lookup = mapping.select(F.col(key).cast("string").alias("__hk"), F.col(level).cast("string").alias("__hv"))
    lookup = lookup.dropDuplicates(["__hk"])
    joined = df.join(F.broadcast(lookup), F.col(column).cast("string") == F.col("__hk"), "left")
    value = F.col("__hv") if unmapped == "suppress" else F.coalesce(F.col("__hv"), F.col(column).cast("string"))
    return joined.withColumn(out, value).drop("__hk", "__hv")
