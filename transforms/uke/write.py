"""Typed columns -> one UKE line: the inverse of transforms/uke/parse.py, driven by the same layouts.

A DataFrame whose columns are named after a layout's fields (typed as `Field.sql_type` says) becomes the
comma-joined line of that record, positions as in transforms/uke/layout.py, reserve fields empty.
Dates are 西暦 (`YYYYMMDD`/`YYYYMM`, the R02 spec) or 和暦 (`GYYMMDD`/`GYYMM` with the 元号 code of
別表4) as asked (uke_format.md §2). Nulls become empty fields; trailing empty fields are kept, so
every line has exactly `layout.width + 1` fields.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.uke.dates import ERAS
from transforms.uke.layout import Field, RecordLayout

# Fixed-width fields written right-justified and space-padded (uke_format.md §1, padding quirk).
PADDED: dict[tuple[str, str], int] = {("HO", "insurer_no"): 8}


def era_code(d: Column) -> Column:
    """元号 code (別表4: 1 明治 .. 5 令和) of a DATE."""
    out: Column = F.lit(ERAS[0].code)
    for era in ERAS[1:]:
        out = F.when(d >= F.lit(era.start), F.lit(era.code)).otherwise(out)
    return out


def _era_year(d: Column) -> Column:
    first: Column = F.lit(ERAS[0].first_year)
    for era in ERAS[1:]:
        first = F.when(d >= F.lit(era.start), F.lit(era.first_year)).otherwise(first)
    return F.year(d) - first + 1


def wareki_date(d: Column) -> Column:
    """`GYYMMDD`, e.g. 2019-05-01 -> 5010501, 1995-02-08 -> 4070208."""
    return F.concat(era_code(d), F.lpad(_era_year(d).cast("string"), 2, "0"), F.date_format(d, "MMdd"))


def wareki_ym(d: Column) -> Column:
    """`GYYMM` of the month's first day, e.g. 2019-01 -> 43101; 1989-01 -> 36401 (昭和64年1月)."""
    first = F.trunc(d, "month")
    return F.concat(era_code(first), F.lpad(_era_year(first).cast("string"), 2, "0"), F.date_format(first, "MM"))


def format_date(d: Column, era_dates: bool) -> Column:
    return wareki_date(d) if era_dates else F.date_format(d, "yyyyMMdd")


def format_ym(d: Column, era_dates: bool) -> Column:
    return wareki_ym(d) if era_dates else F.date_format(d, "yyyyMM")


def format_decimal(value: Column) -> Column:
    """DECIMAL(15,5) without trailing zeros: 1.00000 -> "1", 0.50000 -> "0.5" (as producers write)."""
    text = value.cast("decimal(15,5)").cast("string")
    return F.regexp_replace(text, r"\.?0+$", "")


def format_days(days: Column) -> Column:
    """ARRAY<INT> of 31 -> 31 comma-separated positions (null elements and a null array -> empty)."""
    # Unrolled rather than `transform`: compiled by codegen, and this runs for most lines.
    return F.concat_ws(",", *[F.coalesce(F.get(days, i).cast("string"), F.lit("")) for i in range(31)])


def format_groups(field: Field, groups: Column) -> Column:
    """ARRAY<STRUCT> of a `groups` field -> its repeat x members positions, groups written from the first
    (a group the array lacks, and a null member, -> empty fields)."""
    return F.concat_ws(",", *[F.coalesce(F.get(groups, i).getField(name).cast("string"), F.lit(""))
                              for i in range(field.repeat) for name, _ in field.members])


def format_field(record_type: str, field: Field, value: Column, era_dates: bool) -> Column:
    kind = field.kind
    if kind == "reserve":
        return F.lit("")
    if kind == "days":
        return format_days(value)
    if kind == "groups":
        return format_groups(field, value)
    if kind == "date":
        text = format_date(value, era_dates)
    elif kind == "ym":
        text = format_ym(value, era_dates)
    elif kind == "decimal":
        text = format_decimal(value)
    else:
        text = value.cast("string")
    width = PADDED.get((record_type, field.name))
    if width is not None:
        text = F.lpad(text, width, " ")
    return F.coalesce(text, F.lit(""))


def format_line(layout: RecordLayout, era_dates: bool = False) -> Column:
    """The line (without CRLF) of `layout` from columns named after its kept fields."""
    parts = [F.lit(layout.record_type)]
    parts += [format_field(layout.record_type, f, F.col(f.name) if f.kind != "reserve" else F.lit(None), era_dates)
              for f in layout.fields]
    return F.concat_ws(",", *parts)


def typed_schema(layout: RecordLayout) -> list[tuple[str, str]]:
    """(column, SQL type) of the layout's kept fields: the bronze/truth shape of the record."""
    return [(f.name, f.sql_type) for f in layout.kept()]


def select_typed(df: DataFrame, layout: RecordLayout, *extra: str) -> DataFrame:
    """Exactly the layout's kept fields, cast to their types, then `extra` columns as they are."""
    wanted = [name for name, _ in typed_schema(layout)] + list(extra)
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise ValueError(
            f"select_typed({layout.record_type}): missing columns {missing}; available {sorted(df.columns)}"
        )
    return df.select(*[F.col(n).cast(t).alias(n) for n, t in typed_schema(layout)], *extra)
