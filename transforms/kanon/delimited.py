"""Quote-free delimited text <-> string columns, with Spark built-ins only.

Splitting lines on a single-character separator is exact CSV parsing when no field is quoted, and it
is about twice as fast as Spark's CSV reader on wide scans (bench/kanon_bench.py). The split adds two
check columns so that the caller can prove the fast path applies in the same pass: a quote seen
anywhere, or a line with the wrong number of fields, sends it to the CSV reader or to an error.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.kanon.histogram import col

FIELDS = "_kanon_fields"
QUOTED = "_kanon_quoted"
_REGEX_META = set(".$|()[]{}^?*+\\")


def split_pattern(sep: str) -> str:
    """The Java regex matching `sep` literally (single characters take Java's non-regex fast path)."""
    if len(sep) != 1:
        raise ValueError(f"the separator must be one character, got {sep!r}")
    return "\\" + sep if sep in _REGEX_META else sep


def split_delimited(lines: DataFrame, columns: Sequence[str], sep: str, header_line: str | None) -> DataFrame:
    """Lines (column `value`) -> one string column per name, plus `_kanon_fields` and `_kanon_quoted`.

    Blank lines and lines equal to the header are skipped, as Spark's CSV reader does.
    """
    value = F.col("value")
    keep = value != F.lit("")
    if header_line is not None:
        keep = keep & (value != F.lit(header_line))
    parts = lines.where(keep).select(value, F.split(value, split_pattern(sep), -1).alias("_kanon_parts"))
    fields = F.col("_kanon_parts")
    return parts.select(
        *[F.get(fields, i).alias(name) for i, name in enumerate(columns)],  # null past the end (ANSI)
        F.size(fields).alias(FIELDS),
        value.contains('"').alias(QUOTED),  # a byte scan; instr() decodes characters
    )


def join_delimited(df: DataFrame, columns: Sequence[str], sep: str) -> DataFrame:
    """String columns -> one `value` column of `sep`-joined fields (nulls written as empty fields)."""
    cells: list[Column] = [F.coalesce(col(c), F.lit("")) for c in columns]
    return df.select(F.concat_ws(sep, *cells).alias("value"))


def needs_quoting(values: Sequence[str], sep: str) -> bool:
    """True if any released value would need CSV quoting, so the plain text writer cannot be used."""
    return any(sep in v or '"' in v or "\n" in v or "\r" in v for v in values)
