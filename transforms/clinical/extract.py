"""Clinical CSV extracts (patients, labs, ...) typed by their declared layout (conf/layouts/*.yaml).

The layout is data: column names, types (string|int|bigint|double|date with a format), Japanese
labels and identification risk. Lines arrive positioned and decoded by transforms/uke/read.py (same
reader as UKE, so every line has its number); each data line is split with Spark's CSV parser
(`from_csv`, so quoted fields work), typed, and checked: a bad value is a reject with a reason, never
a silent null.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.uke.parse import clean_code
from transforms.uke.rejects import field_problem, problem, reject_context

TYPES = ("string", "int", "bigint", "double", "date")
_STRFTIME = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss"}
_EXTRA = "_extra_fields"


@dataclass(frozen=True)
class ClinicalColumn:
    name: str
    type: str
    label: str = ""
    risk: str = ""
    format: str | None = None  # dates: Spark pattern (yyyy-MM-dd) or strftime (%Y-%m-%d)
    description: str = ""
    shape: str = ""  # regex of every real value of a code column (see transforms/policy/catalog.py)


@dataclass(frozen=True)
class ClinicalLayout:
    table: str
    columns: tuple[ClinicalColumn, ...]
    label: str = ""
    description: str = ""
    encoding: str = "utf-8"  # utf-8 | cp932 | auto
    delimiter: str = ","
    header: bool = True
    files: tuple[str, ...] = ()  # globs relative to --input; else files are recognized by header

    def __post_init__(self) -> None:
        bad = [c.name for c in self.columns if c.type not in TYPES]
        if bad:
            raise ValueError(f"layout {self.table}: columns {bad} have a type outside {TYPES}")
        if self.encoding not in ("utf-8", "cp932", "auto"):
            raise ValueError(f"layout {self.table}: encoding must be utf-8, cp932 or auto, got {self.encoding!r}")
        if len(self.delimiter) != 1:
            raise ValueError(f"layout {self.table}: delimiter must be one character, got {self.delimiter!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def header_fields(self, first_line: bytes) -> list[str]:
        text = first_line.decode("utf-8-sig" if self.encoding != "cp932" else "cp932", errors="replace")
        return [f.strip().strip('"') for f in text.split(self.delimiter)]

    def matches_header(self, first_line: bytes) -> bool:
        return tuple(self.header_fields(first_line)) == self.names


def spark_date_pattern(fmt: str | None) -> str:
    """A layout date format as a Spark pattern; strftime directives are translated."""
    if not fmt:
        return "yyyy-MM-dd"
    out = fmt
    for directive, pattern in _STRFTIME.items():
        out = out.replace(directive, pattern)
    return out


def _typed(raw: Column, col: ClinicalColumn) -> tuple[Column, Column | None]:
    if col.type == "string":
        return F.nullif(raw, F.lit("")), None
    s = clean_code(raw)
    if col.type == "date":
        value = F.try_to_date(s, spark_date_pattern(col.format))
        return value, F.when(s.isNotNull() & value.isNull(), F.lit("invalid_date"))
    pattern = r"^-?[0-9]+$" if col.type in ("int", "bigint") else r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
    value = F.when(s.rlike(pattern), s.try_cast(col.type))
    return value, F.when(s.isNotNull() & value.isNull(), F.lit("bad_number"))


def parse_clinical(lines: DataFrame, layout: ClinicalLayout) -> DataFrame:
    """Positioned lines of this layout's files -> typed rows with `_problem` (header line excluded)."""
    schema = ", ".join(f"`{c}` STRING" for c in (*layout.names, _EXTRA))
    options = {"sep": layout.delimiter, "quote": '"', "escape": '"', "mode": "PERMISSIVE"}
    data = lines.where(F.col("line_no") > (1 if layout.header else 0))
    parsed = data.select("*", F.from_csv(F.col("text"), schema, options).alias("_row"))
    problems = [
        problem("undecodable_bytes", F.col("undecodable").isNotNull(), F.col("undecodable")),
        problem("empty_line", F.col("text") == ""),
        problem("too_many_fields", F.col(f"_row.{_EXTRA}").isNotNull(), f"more than {len(layout.columns)} fields"),
    ]
    typed: list[Column] = []
    for col in layout.columns:
        value, reason = _typed(F.col(f"_row.`{col.name}`"), col)
        typed.append(value.alias(col.name))
        if reason is not None:
            problems.append(field_problem(reason, col.name))
    return parsed.select(
        "file_sha256",
        F.col("line_no").cast("int").alias("line_no"),
        *typed,
        *reject_context(problems, layout.table),
    )


def select_clinical(parsed: DataFrame, layout: ClinicalLayout) -> DataFrame:
    return parsed.where(F.col("_problem").isNull()).select("file_sha256", "line_no", *layout.names)
