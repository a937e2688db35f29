"""Positioned UKE lines -> typed columns of one record type (layouts in transforms/uke/layout.py).

Parse by position (uke_format.md §1): split on commas (the spec forbids commas and quotes inside
fields), pad omitted trailing fields with null, strip the space padding (HO 保険者番号 is
right-justified), turn full-width digits into ASCII in number, code and date fields, and type each
field by its kind. Every line gets a `_problem` struct (reason, detail) that is null for a good line;
the checks and their order are in transforms/uke/rejects.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.uke.dates import date_reason, date_value, ym_value
from transforms.uke.layout import Field, RecordLayout, table_fields
from transforms.uke.rejects import REASONS
from transforms.uke.sql import NO_PROBLEM, coalesce, ident, lit, reason_detail, when

_FULL = "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ．－"
_HALF = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-"
_SQL_TYPES = {"int": "int", "bigint": "bigint", "decimal": "decimal(15,5)"}
_PADDING = " \u3000"  # half- and full-width space

# Columns every positioned line carries into parsing (transforms/uke/read.py).
LINE_COLUMNS = ("file_sha256", "file_path", "line_no", "receipt_ordinal", "after_go", "text", "undecodable", "raw_hex")
META_COLUMNS = ("receipt_key", "file_sha256", "line_no")
# Lambda variables: names no column of the parse has.
_I, _X, _A, _B = "lv_i", "lv_x", "lv_a", "lv_b"


def clean_code(raw: Column) -> Column:
    """Code, number and date fields: space padding (half- and full-width) off, full-width -> ASCII.
    The Column form of `code_sql`, for the clinical extracts."""
    return F.nullif(F.btrim(F.translate(raw, _FULL, _HALF), F.lit(_PADDING)), F.lit(""))


def code_sql(raw: str) -> str:
    """SQL of `clean_code`."""
    return strip_padding(f"translate({raw}, {lit(_FULL)}, {lit(_HALF)})")


def strip_padding(raw: str) -> str:
    """Half- and full-width space padding off; an empty field is null."""
    return f"nullif(btrim({raw}, {lit(_PADDING)}), '')"


def clean_str(raw: str) -> str:
    """英数 identifiers: only surrounding half-width spaces are padding; the content stays as written."""
    return f"nullif(trim({raw}), '')"


def clean_text(raw: str) -> str:
    """漢字 text is kept verbatim; an empty field is null."""
    return f"nullif({raw}, '')"


def number_reason(s: str, value: str) -> str:
    return when(f"{s} IS NOT NULL AND {value} IS NULL", "'bad_number'")


def _days_cleaned(ascii_fields: str, pos: int) -> str:
    """The 31 per-day positions as cleaned strings, padded with null where the line stops early.

    A lambda, though it runs interpreted: the 31 positions spelled out make the generated code of the
    projection too large for the JIT (measured: SI lines checked 2x slower)."""
    return f"transform(sequence({pos}, {pos + 30}), {_I} -> {strip_padding(f'get({ascii_fields}, {_I})')})"


def _days_values(cleaned: str) -> str:
    """ARRAY<INT>: a day that is not a number is null (a try_cast of an array casts element by element)."""
    return f"try_cast({cleaned} AS array<int>)"


# Every day empty or at most 9 digits (always an int): the usual line, told by one match over the days
# joined (concat_ws skips the empty ones) instead of comparing arrays with lambdas. No `{1,9}`: the SQL
# is a template of spark.sql, where braces are placeholders.
_DIGITS = "[0-9]" + "[0-9]?" * 8
_PLAIN_DAYS = f"^({_DIGITS}(,{_DIGITS})*)?$"


def _days_problem(cleaned: str, values: str, name: str) -> str:
    """bad_number naming the first bad day, e.g. `day_counts[3]` (the search runs only on the lines the
    plain-days match rejects: a sign, a long number, a letter)."""
    plain = f"concat_ws(',', {cleaned}) RLIKE {lit(_PLAIN_DAYS)}"
    first_bad = f"array_position(zip_with({cleaned}, {values}, ({_A}, {_B}) -> {_A} IS NOT NULL AND {_B} IS NULL), true)"
    return when(f"NOT {plain} AND {first_bad} > 0",
                reason_detail("'bad_number'", f"format_string({lit(name + '[%d]')}, {first_bad})"))


def _check(reason: str, condition: str, detail: str = "''") -> str:
    """A (reason, detail) struct where `condition` holds, else null; `detail` is SQL."""
    assert reason in REASONS, reason
    return when(condition, reason_detail(lit(reason), detail))


def _named(reason: str, name: str) -> str:
    """A (reason, detail=column name) struct when a field check returned a reason code."""
    return when(f"{reason} IS NOT NULL", reason_detail(reason, lit(name)))


def _structural_problems(layout: RecordLayout) -> list[str]:
    rtype = layout.record_type
    misplaced = "after_go OR line_no != 1" if layout.role == "file" else "after_go"
    problems = [
        _check("undecodable_bytes", "undecodable IS NOT NULL", "undecodable"),
        _check("misplaced_record", misplaced, lit("the file header must be line 1; nothing may follow GO")),
    ]
    if layout.role == "child":
        problems.append(_check("child_before_re", "receipt_ordinal = 0", lit("no RE before this line")))
    too_many = f"format_string('%d fields, layout %s has %d', _n_fields, {lit(rtype)}, {layout.width})"
    problems.append(_check("too_many_fields", f"_n_fields > {layout.width}", too_many))
    return problems


def _member_cleaned(at: str, kind: str) -> str:
    return clean_text(f"get(_f, {at})") if kind == "text" else strip_padding(f"get(_g, {at})")


def _groups_cleaned(pos: int, field: Field) -> str:
    """The repeated groups as structs of cleaned strings; groups with every member empty left out."""
    m = len(field.members)
    members = ", ".join(f"{lit(name)}, {_member_cleaned(f'{_I} * {m} + {pos + j}', kind)}"
                        for j, (name, kind) in enumerate(field.members))
    groups = f"transform(sequence(0, {field.repeat - 1}), {_I} -> named_struct({members}))"
    some = " OR ".join(f"{_X}.{ident(name)} IS NOT NULL" for name, _ in field.members)
    return f"filter({groups}, {_X} -> {some})"


def _groups_values(cleaned: str, field: Field) -> str:
    members = ", ".join(
        f"{lit(name)}, " + (f"try_cast({_X}.{ident(name)} AS int)" if kind == "int" else f"{_X}.{ident(name)}")
        for name, kind in field.members)
    return f"transform({cleaned}, {_X} -> named_struct({members}))"


def _groups_problem(cleaned: str, values: str, field: Field) -> str:
    """bad_number naming the first group with a bad number, by member, e.g. `additions[2].quantity`."""
    details = []
    for name, kind in field.members:
        if kind != "int":
            continue
        bad = f"{_A}.{ident(name)} IS NOT NULL AND {_B}.{ident(name)} IS NULL"
        first_bad = f"array_position(zip_with({cleaned}, {values}, ({_A}, {_B}) -> {bad}), true)"
        details.append(when(f"{first_bad} > 0", f"format_string({lit(f'{field.name}[%d].{name}')}, {first_bad})"))
    if not details:
        return NO_PROBLEM
    detail = coalesce(details)
    return when(f"{detail} IS NOT NULL", reason_detail("'bad_number'", detail))


def receipt_key(sha: str, ordinal: str) -> str:
    """Deterministic receipt key: file sha256 + ':' + RE ordinal in the file, zero-padded to 9.

    concat and lpad, not format_string('%s:%09d'): that is Java's String.format on every line, twice as
    slow; the width never cuts (an ordinal of 10 digits keeps them, as %09d does)."""
    digits = f"CAST({ordinal} AS STRING)"
    return when(f"{ordinal} > 0", f"concat({sha}, ':', lpad({digits}, greatest(length({digits}), 9), '0'))")


def _cleaned(pos: int, field: Field) -> str:
    """Stage 1: the field's string, cleaned for its kind (the final value for string kinds).

    `_g` is the line split after one width translation of the whole line (cheaper than one per field;
    the translation maps character to character and never touches a comma, so positions agree); string
    and text fields come from the untouched split `_f`.
    """
    if field.kind == "days":
        return _days_cleaned("_g", pos)
    if field.kind == "groups":
        return _groups_cleaned(pos, field)
    if field.kind == "str":
        return clean_str(f"get(_f, {pos})")
    if field.kind in ("text", "reserve"):
        return clean_text(f"get(_f, {pos})")
    return strip_padding(f"get(_g, {pos})")


def _typed(s: str, field: Field) -> str:
    """Stage 2: the typed value (null when the field is bad)."""
    if field.kind in _SQL_TYPES:
        return f"try_cast({s} AS {_SQL_TYPES[field.kind]})"
    if field.kind == "date":
        return date_value(s)
    if field.kind == "ym":
        return ym_value(s)
    if field.kind == "days":
        return _days_values(s)
    if field.kind == "groups":
        return _groups_values(s, field)
    return s


def _field_problem(s: str, value: str, field: Field) -> str | None:
    """Stage 3: (reason, detail) when the field is bad."""
    if field.kind in _SQL_TYPES:
        return _named(number_reason(s, value), field.name)
    if field.kind in ("date", "ym"):
        lengths = (7, 8) if field.kind == "date" else (5, 6)
        return _named(date_reason(s, value, *lengths), field.name)
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


def _typed_sql(layout: RecordLayout, source: str, carry: tuple[str, ...]) -> str:
    """The lines of `source` with their fields split, cleaned (`_s_<name>`) and typed (`<name>`)."""
    kept = [(f, pos) for f, pos in _positions(layout) if f.kind != "reserve"]
    columns = ", ".join(carry)
    split = (f"SELECT {columns}, split(text, ',', -1) AS _f, "
             f"split(translate(text, {lit(_FULL)}, {lit(_HALF)}), ',', -1) AS _g FROM {source}")
    cleaned = ", ".join(f"{_cleaned(pos, f)} AS {ident('_s_' + f.name)}" for f, pos in kept)
    typed = ", ".join(f"{_typed(ident('_s_' + f.name), f)} AS {ident(f.name)}" for f, _ in kept)
    return f"SELECT *, {typed} FROM (SELECT {columns}, size(_f) - 1 AS _n_fields, {cleaned} FROM ({split}))"


def _problem_sql(layout: RecordLayout) -> str:
    """The first problem of a line of `_typed_sql`, or null."""
    problems = _structural_problems(layout)
    for f in layout.kept():
        p = _field_problem(ident("_s_" + f.name), ident(f.name), f)
        if p is not None:
            problems.append(p)
    return coalesce(problems)


def checked_sql(layout: RecordLayout, source: str) -> str:
    """A query giving the lines of one record layout in relation `source` (SQL: a table, a view or a
    subquery with LINE_COLUMNS) LINE_COLUMNS + `_problem`: their first problem, null for a good line.

    Parsing runs in nested projections (split, clean, type, check) so that each generated expression
    stays small: one expression per line exceeds the JVM's 64 KB method limit and loses Spark's code
    generation.
    """
    return f"SELECT {', '.join(LINE_COLUMNS)}, {_problem_sql(layout)} AS _problem FROM ({_typed_sql(layout, source, LINE_COLUMNS)})"


def parse_sql(layout: RecordLayout, source: str, *, checked: bool = False) -> str:
    """A query turning the lines of one record layout in `source` into META_COLUMNS + the layout's kept
    fields + `_problem` and the raw line. `checked`: `source` is the output of `checked_sql` and its
    `_problem` is taken as it is; else the lines are checked here."""
    carry = (*LINE_COLUMNS, "_problem") if checked else LINE_COLUMNS
    out = [
        f"{receipt_key('file_sha256', 'receipt_ordinal')} AS receipt_key",
        "file_sha256",
        "CAST(line_no AS INT) AS line_no",
        *(ident(f.name) for f in layout.kept()),
        f"{'_problem' if checked else _problem_sql(layout)} AS _problem",
        "file_path AS _file_path",
        "text AS _text",
        "raw_hex AS _raw_hex",
        f"{lit(layout.record_type)} AS _record_type",
    ]
    return f"SELECT {', '.join(out)} FROM ({_typed_sql(layout, source, carry)})"


def parse_records(lines: DataFrame, layout: RecordLayout) -> DataFrame:
    """Lines of one record layout -> META_COLUMNS + the layout's kept fields + `_problem` and the raw line.

    The input has LINE_COLUMNS; pass only lines whose record id is `layout.record_type`."""
    missing = [c for c in LINE_COLUMNS if c not in lines.columns]
    if missing:
        raise ValueError(f"parse_records({layout.record_type}): missing {missing}; have {lines.columns}")
    return lines.sparkSession.sql(parse_sql(layout, "{lines}"), lines=lines)


def select_parsed(parsed: DataFrame, layout: RecordLayout, fields: tuple[Field, ...] | None = None) -> DataFrame:
    """The good lines in bronze shape: META_COLUMNS + kept fields.

    `fields`: the table's columns when several layouts feed it (`table_fields`); a column this layout
    lacks is a typed null."""
    return parsed.where("_problem IS NULL").selectExpr(*META_COLUMNS, *conformed(layout, fields))


def conformed(layout: RecordLayout, fields: tuple[Field, ...] | None = None) -> list[str]:
    """SQL of the columns `fields` (default: the layout's kept fields) from a parse of `layout`: a field
    the layout lacks is a typed null."""
    have = {f.name for f in layout.kept()}
    return [ident(f.name) if f.name in have else f"CAST(NULL AS {f.sql_type}) AS {ident(f.name)}"
            for f in (fields if fields is not None else layout.kept())]


# What a parse keeps of the line besides its fields, for rejects (`select_rejected`).
RAW_COLUMNS = ("_problem", "_file_path", "_text", "_raw_hex", "_record_type")


def table_sql(table: str, layouts: Sequence[RecordLayout], source: str) -> str:
    """A query parsing, typing and checking the lines of every layout in `layouts` (all feeding `table`)
    of relation `source` (LINE_COLUMNS + `record_type`, the layout key) into one shape: META_COLUMNS,
    the table's columns, RAW_COLUMNS and `_key` (the layout key)."""
    fields = table_fields(table)
    branches = []
    for layout in layouts:
        assert layout.table == table, (layout.key, layout.table, table)
        lines = f"(SELECT * FROM {source} WHERE record_type = {lit(layout.key)})"
        columns = ", ".join([*META_COLUMNS, *conformed(layout, fields), *RAW_COLUMNS, f"{lit(layout.key)} AS _key"])
        branches.append(f"SELECT {columns} FROM ({parse_sql(layout, lines)})")
    return " UNION ALL ".join(branches)


def select_rejected(parsed: DataFrame) -> DataFrame:
    """The bad lines in `_rejects` shape (the ingest conforms them to its REJECTS_SCHEMA)."""
    return parsed.where("_problem IS NOT NULL").selectExpr(
        "file_sha256",
        "_file_path AS file_path",
        "CAST(line_no AS INT) AS line_no",
        "_record_type AS record_type",
        "_problem.reason AS reason",
        "_problem.detail AS detail",
        "_text AS raw_text",
        "_raw_hex AS raw_hex",
    )
