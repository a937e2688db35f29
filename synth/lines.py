"""Typed record tables -> the text lines of the UKE files, with their file and line number."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from synth.records import LAYOUT_OF_TABLE
from transforms.uke.layout import GO, IR, RecordLayout
from transforms.uke.write import format_line

LINE_COLUMNS = ("institution_dir", "month_dir", "file_name", "line_no", "line")


def _lines(df: DataFrame, layout: RecordLayout, era_dates: bool) -> DataFrame:
    parts = F.split(F.col("file"), "/")
    return df.select(
        F.get(parts, 1).alias("institution_dir"), F.get(parts, 2).alias("month_dir"), F.get(parts, 3).alias("file_name"),
        "line_no", format_line(layout, era_dates).alias("line"),
    )


def uke_lines(tables: dict[str, DataFrame], ir: DataFrame, go: DataFrame, era_dates: bool,
              layouts: dict[str, RecordLayout] | None = None, header: RecordLayout = IR) -> DataFrame:
    """All lines of all files: (institution_dir, month_dir, file_name, line_no, line), unordered. `layouts`
    maps truth table -> layout (default 医科; synth/pharmacy.py and synth/dpc.py have theirs), `header` the
    file header. A directory may hold two files (RECEIPTC.UKE and RECEIPTD.UKE): `file_name` tells them apart."""
    out = _lines(ir, header, era_dates).unionByName(_lines(go, GO, era_dates))
    for table, layout in (LAYOUT_OF_TABLE if layouts is None else layouts).items():
        out = out.unionByName(_lines(tables[table], layout, era_dates))
    return out
