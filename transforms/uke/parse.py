"""Positioned UKE lines -> typed columns of one record type (layouts in transforms/uke/layout.py).

Parse by position (uke_format.md §1): split on commas (the spec forbids commas and quotes inside
fields), pad omitted trailing fields with null, strip the space padding (HO 保険者番号 is
right-justified), turn full-width digits into ASCII in number, code and date fields, and type each
field by its kind. Every line gets a `_problem` struct (reason, detail) that is null for a good line;
the checks and their order are in transforms/uke/rejects.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.uke.dates import date_reason, date_value, ym_value
from transforms.uke.layout import Field, RecordLayout
from transforms.uke.rejects import field_problem, problem, reject_context

_FULL = "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ．－"
_HALF = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-"
_SQL_TYPES = {"int": "int", "bigint": "bigint", "decimal": "decimal(15,5)"}

# Columns every positioned line carries into parsing (transforms/uke/read.py).
LINE_COLUMNS = ("file_sha256", "file_path", "line_no", "receipt_ordinal", "after_go", "text", "undecodable", "raw_hex")
META_COLUMNS = ("receipt_key", "file_sha256", "line_no")


def clean_code(raw: Column) -> Column:
    """Code, number and date fields: space padding (half- and full-width) off, full-width -> ASCII."""
    return strip_padding(F.translate(raw, _FULL, _HALF))


def strip_padding(raw: Column) -> Column:
    """Half- and full-width space padding off; an empty field is null."""
    return F.nullif(F.btrim(raw, F.lit(" \u3000")), F.lit(""))


def clean_str(raw: Column) -> Column:
    """英数 identifiers: only surrounding half-width spaces are padding; the content stays as written."""
    return F.nullif(F.trim(raw), F.lit(""))


def clean_text(raw: Column) -> Column:
    """漢字 text is kept verbatim; an empty field is null."""
    return F.nullif(raw, F.lit(""))


def number_value(s: Column, kind: str) -> Column:
    """INT, BIGINT or DECIMAL(15,5) from a cleaned field; null when not a number that fits."""
    return s.try_cast(_SQL_TYPES[kind])


def number_reason(s: Column, value: Column) -> Column:
    return F.when(s.isNotNull() & value.isNull(), F.lit("bad_number"))


def _days_cleaned(ascii_fields: Column, pos: int) -> Column:
    """The 31 per-day positions as cleaned strings, padded with null where the line stops early."""
    return F.transform(F.sequence(F.lit(pos), F.lit(pos + 30)), lambda i: strip_padding(F.get(ascii_fields, i)))


def _days_values(cleaned: Column) -> Column:
    """ARRAY<INT>: one native cast for the usual all-good line; element by element only when it fails."""
    return F.coalesce(cleaned.try_cast("array<int>"), F.transform(cleaned, lambda x: x.try_cast("int")))


def _days_problem(cleaned: Column, values: Column, name: str) -> Column:
    """bad_number naming the first bad day, e.g. `day_counts[3]` (the search runs only on bad lines)."""
    some_bad = F.size(F.array_compact(cleaned)) != F.size(F.array_compact(values))
    first_bad = F.array_position(F.zip_with(cleaned, values, lambda s, v: s.isNotNull() & v.isNull()), True)
    detail = F.format_string(f"{name}[%d]", first_bad)
    return F.when(some_bad, F.struct(F.lit("bad_number").alias("reason"), detail.alias("detail")))


def _structural_problems(layout: RecordLayout) -> list[Column]:
    rtype = layout.record_type
    misplaced = F.col("after_go") | (F.lit(layout.role == "file") & (F.col("line_no") != 1))
    problems = [
        problem("undecodable_bytes", F.col("undecodable").isNotNull(), F.col("undecodable")),
        problem("misplaced_record", misplaced, "the file header must be line 1; nothing may follow GO"),
    ]
    if layout.role == "child":
        problems.append(problem("child_before_re", F.col("receipt_ordinal") == 0, "no RE before this line"))
    n_fields = F.col("_n_fields")
    too_many = F.format_string("%d fields, layout %s has %d", n_fields, F.lit(rtype), F.lit(layout.width))
    problems.append(problem("too_many_fields", n_fields > layout.width, too_many))
    return problems


def _member_cleaned(fields: Column, ascii_fields: Column, at: Column, kind: str) -> Column:
    return clean_text(F.get(fields, at)) if kind == "text" else strip_padding(F.get(ascii_fields, at))


def _groups_cleaned(fields: Column, ascii_fields: Column, pos: int, field: Field) -> Column:
    """The repeated groups as structs of cleaned strings; groups with every member empty left out."""
    m = len(field.members)
    groups = F.transform(F.sequence(F.lit(0), F.lit(field.repeat - 1)), lambda i: F.struct(*(
        _member_cleaned(fields, ascii_fields, i * m + pos + j, kind).alias(name)
        for j, (name, kind) in enumerate(field.members))))
    return F.filter(groups, lambda g: reduce(lambda a, b: a | b, (g[name].isNotNull() for name, _ in field.members)))


def _groups_values(cleaned: Column, field: Field) -> Column:
    return F.transform(cleaned, lambda g: F.struct(*(
        (g[name].try_cast("int") if kind == "int" else g[name]).alias(name) for name, kind in field.members)))


def _member_bad(name: str) -> Callable[[Column, Column], Column]:
    return lambda s, v: s[name].isNotNull() & v[name].isNull()


def _groups_problem(cleaned: Column, values: Column, field: Field) -> Column:
    """bad_number naming the first group with a bad number, by member, e.g. `additions[2].quantity`."""
    details = []
    for name, kind in field.members:
        if kind != "int":
            continue
        first_bad = F.array_position(F.zip_with(cleaned, values, _member_bad(name)), True)
        details.append(F.when(first_bad > 0, F.format_string(f"{field.name}[%d].{name}", first_bad)))
    if not details:
        return F.lit(None).cast("struct<reason:string,detail:string>")
    detail = F.coalesce(*details) if len(details) > 1 else details[0]
    return F.when(detail.isNotNull(), F.struct(F.lit("bad_number").alias("reason"), detail.alias("detail")))


def receipt_key(sha: Column, ordinal: Column) -> Column:
    """Deterministic receipt key: file sha256 + ':' + RE ordinal in the file, zero-padded to 9."""
    return F.when(ordinal > 0, F.format_string("%s:%09d", sha, ordinal))


def _cleaned(fields: Column, ascii_fields: Column, pos: int, field: Field) -> Column:
    """Stage 1: the field's string, cleaned for its kind (the final value for string kinds).

    `ascii_fields` is the line split after one width translation of the whole line (cheaper than one
    per field; the translation maps character to character and never touches a comma, so positions
    agree); string and text fields come from the untouched split.
    """
    if field.kind == "days":
        return _days_cleaned(ascii_fields, pos)
    if field.kind == "groups":
        return _groups_cleaned(fields, ascii_fields, pos, field)
    if field.kind == "str":
        return clean_str(F.get(fields, pos))
    if field.kind in ("text", "reserve"):
        return clean_text(F.get(fields, pos))
    return strip_padding(F.get(ascii_fields, pos))


def _typed(s: Column, field: Field) -> Column:
    """Stage 2: the typed value (null when the field is bad)."""
    if field.kind in _SQL_TYPES:
        return number_value(s, field.kind)
    if field.kind == "date":
        return date_value(s)
    if field.kind == "ym":
        return ym_value(s)
    if field.kind == "days":
        return _days_values(s)
    if field.kind == "groups":
        return _groups_values(s, field)
    return s


def _field_problem(s: Column, value: Column, field: Field) -> Column | None:
    """Stage 3: (reason, detail) when the field is bad."""
    if field.kind in _SQL_TYPES:
        return field_problem(number_reason(s, value), field.name)
    if field.kind in ("date", "ym"):
        lengths = (7, 8) if field.kind == "date" else (5, 6)
        return field_problem(date_reason(s, value, *lengths), field.name)
    if field.kind == "days":
        return _days_problem(s, value, field.name)
    if field.kind == "groups":
        return _groups_problem(s, value, field)
    return None


def _positions(layout: RecordLayout) -> list[tuple[Field, int]]:
    out, pos = [], 1
    for f in layout.fields:
        out.append((f, pos))
        pos += f.width
    return out


def parse_records(lines: DataFrame, layout: RecordLayout) -> DataFrame:
    """Lines of one record layout (its `key` partition) -> META_COLUMNS + the layout's kept fields + `_problem` and the raw line.

    The input has LINE_COLUMNS; pass only lines whose record id is `layout.record_type`. Parsing runs
    in projections (split, clean, type, check) so that each generated expression stays small: one
    expression per line exceeds the JVM's 64 KB method limit and loses Spark's code generation.
    """
    missing = [c for c in LINE_COLUMNS if c not in lines.columns]
    if missing:
        raise ValueError(f"parse_records({layout.record_type}): missing {missing}; have {lines.columns}")
    kept = [(f, pos) for f, pos in _positions(layout) if f.kind != "reserve"]
    carry = [F.col(c) for c in LINE_COLUMNS]
    split = lines.select(
        *carry,
        F.split(F.col("text"), ",", -1).alias("_f"),
        F.split(F.translate(F.col("text"), _FULL, _HALF), ",", -1).alias("_g"),
    )
    cleaned = split.select(
        *carry,
        (F.size("_f") - 1).alias("_n_fields"),
        *(_cleaned(F.col("_f"), F.col("_g"), pos, f).alias(f"_s_{f.name}") for f, pos in kept),
    )
    typed = cleaned.select("*", *(_typed(F.col(f"_s_{f.name}"), f).alias(f.name) for f, _ in kept))
    problems = _structural_problems(layout)
    for f, _ in kept:
        p = _field_problem(F.col(f"_s_{f.name}"), F.col(f.name), f)
        if p is not None:
            problems.append(p)
    return typed.select(
        receipt_key(F.col("file_sha256"), F.col("receipt_ordinal")).alias("receipt_key"),
        "file_sha256",
        F.col("line_no").cast("int").alias("line_no"),
        *(F.col(f.name) for f, _ in kept),
        *reject_context(problems, layout.record_type),
    )


def select_parsed(parsed: DataFrame, layout: RecordLayout, fields: tuple[Field, ...] | None = None) -> DataFrame:
    """The good lines in bronze shape: META_COLUMNS + kept fields.

    `fields`: the table's columns when several layouts feed it (`table_fields`); a column this layout
    lacks is a typed null."""
    have = {f.name for f in layout.kept()}
    cols = [F.col(f.name) if f.name in have else F.lit(None).cast(f.sql_type).alias(f.name)
            for f in (fields if fields is not None else layout.kept())]
    return parsed.where(F.col("_problem").isNull()).select(*META_COLUMNS, *cols)



def select_rejected(parsed: DataFrame) -> DataFrame:
    """The bad lines in `_rejects` shape (the ingest conforms them to its REJECTS_SCHEMA)."""
    return parsed.where(F.col("_problem").isNotNull()).select(
        "file_sha256",
        F.col("_file_path").alias("file_path"),
        F.col("line_no").cast("int").alias("line_no"),
        F.col("_record_type").alias("record_type"),
        F.col("_problem.reason").alias("reason"),
        F.col("_problem.detail").alias("detail"),
        F.col("_text").alias("raw_text"),
        F.col("_raw_hex").alias("raw_hex"),
    )
