"""Rows of an erasure subject that carry no key of their own: the rejected lines of its receipts.

A rejected UKE line has only its file and line number. The lines of one receipt run from its RE line
to the line before the next RE of the same file (the layout of the 医科 file: RE starts a receipt),
so a rejected line inside that range belongs to the receipt and goes with it (requirement 46).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def receipt_line_ranges(receipts: DataFrame) -> DataFrame:
    """`(receipt_key, file_sha256, first_line, next_line)`: next_line is null for a file's last receipt."""
    by_file = Window.partitionBy("file_sha256").orderBy("line_no")
    return receipts.select("receipt_key", "file_sha256", F.col("line_no").alias("first_line"),
                           F.lead("line_no").over(by_file).alias("next_line"))


def rejects_of_receipts(receipts: DataFrame, rejects: DataFrame, receipt_keys: DataFrame) -> DataFrame:
    """Distinct `(file_sha256, line_no)` of the rejected lines inside the given receipts' line ranges.
    A file's trailer (GO) follows its last receipt but is never rejected data of a person: it is
    excluded by its record type."""
    ranges = receipt_line_ranges(receipts).join(receipt_keys.select("receipt_key"), "receipt_key", how="left_semi")
    inside = (F.col("r.line_no") > F.col("g.first_line")) & (
        F.col("g.next_line").isNull() | (F.col("r.line_no") < F.col("g.next_line")))
    joined = rejects.alias("r").join(ranges.alias("g"), F.col("r.file_sha256") == F.col("g.file_sha256"), how="inner")
    person_lines = F.coalesce(F.col("r.record_type"), F.lit("")) != "GO"
    return joined.where(inside & person_lines).select(F.col("r.file_sha256").alias("file_sha256"),
                                                     F.col("r.line_no").alias("line_no")).distinct()
