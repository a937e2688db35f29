"""Detail lines (SI 診療行為, IY 医薬品, TO 特定器材, CO コメント) of one receipt as an array of structs.

Each component of care builds an array of `item()` structs; `finish_details()` sorts them by their
sort key (診療識別 order, then unit, then line), blanks 診療識別 after the first line of each group,
and sets 負担区分. A 算定単位 (unit) may span several lines: 点数 is written on its last line only;
回数 and the day columns are on every line and 回数 = the sum of the day columns (uke_format.md §3 SI,
and the public sample file, which repeats 回数 on each line of a unit).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

DETAIL_TYPES: tuple[tuple[str, str], ...] = (
    ("sk", "int"),  # sort key, see sk()
    ("rec", "string"),
    ("cc", "string"),  # the line's 診療識別 (blanked on the output line after a group's first line)
    ("code", "string"),
    ("quantity", "decimal(15,5)"),
    ("points", "int"),
    ("count", "int"),
    ("comment_code_1", "string"),
    ("comment_text_1", "string"),
    ("comment_code_2", "string"),
    ("comment_text_2", "string"),
    ("comment_code_3", "string"),
    ("comment_text_3", "string"),
    ("days", "array<int>"),
    ("unit_code", "string"),
    ("unit_price", "decimal(15,5)"),
    ("product_name", "string"),
    ("text", "string"),
)
DETAIL_STRUCT = "struct<" + ",".join(f"{n}:{t}" for n, t in DETAIL_TYPES) + ">"


def sk(cc: int, comp: int, unit_no: Column | int = 0, line: Column | int = 0) -> Column:
    """Sort key of a detail line: 診療識別 order, then component, unit and line."""
    return F.lit(cc * 100000 + comp * 1000) + F.lit(unit_no) * 50 + F.lit(line)


def _lit(value: Column | str | int | float | None) -> Column:
    return value if isinstance(value, Column) else F.lit(value)


# The 31 day columns are built and summed with unrolled expressions, not `transform`/`aggregate`:
# Spark evaluates higher-order functions interpreted, and these run for every line of every
# receipt (about 20x slower measured); plain expressions are compiled by whole-stage codegen.
# Given SQL text instead of Columns, they are parsed from one string: one py4j call instead of ~150.
def days_on(day_list: Column | str, per_day: Column | int = 1) -> Column:
    """ARRAY<INT> of 31: `per_day` on each day in `day_list` (a Column or SQL text), null elsewhere."""
    if isinstance(day_list, str) and isinstance(per_day, int):
        return F.expr("array(" + ", ".join(f"CASE WHEN array_contains({day_list}, {d}) THEN {per_day} END"
                                           for d in range(1, 32)) + ")")
    days = F.expr(day_list) if isinstance(day_list, str) else day_list
    return F.array(*[F.when(F.array_contains(days, F.lit(d)), _lit(per_day)) for d in range(1, 32)])


def day_on(day: Column | str, value: Column | int | str) -> Column:
    """ARRAY<INT> of 31 with `value` on `day` only (Columns, or SQL text for both)."""
    if isinstance(day, str) and isinstance(value, (str, int)):
        return F.expr("array(" + ", ".join(f"CASE WHEN {day} = {d} THEN {value} END" for d in range(1, 32)) + ")")
    day_c = F.expr(day) if isinstance(day, str) else day
    value_c = F.expr(value) if isinstance(value, str) else _lit(value)
    return F.array(*[F.when(day_c == d, value_c) for d in range(1, 32)])


def day_total(days: Column) -> Column:
    total: Column = F.lit(0)
    for i in range(31):
        total = total + F.coalesce(F.get(days, i), F.lit(0))
    return total


def item(sk: Column | int, rec: str, cc: str | Column, code: Column | str, days: Column, *,
         points: Column | int | None = None, quantity: Column | float | None = None,
         comment: tuple[Column | str, Column | str] | None = None, product: Column | str | None = None,
         unit_code: Column | str | None = None, unit_price: Column | float | None = None,
         text: Column | str | None = None, count: Column | int | None = None) -> Column:
    """One detail line; `count` (回数) is the sum of the day columns: pass it when known, else it is
    computed (null for CO)."""
    values: dict[str, Column] = {
        "sk": _lit(sk), "rec": F.lit(rec), "cc": _lit(cc), "code": _lit(code),
        "quantity": _lit(quantity), "points": _lit(points),
        "count": F.lit(None) if rec == "CO" else (day_total(days) if count is None else _lit(count)),
        "comment_code_1": _lit(comment[0] if comment else None),
        "comment_text_1": _lit(comment[1] if comment else None),
        "comment_code_2": F.lit(None), "comment_text_2": F.lit(None),
        "comment_code_3": F.lit(None), "comment_text_3": F.lit(None),
        "days": F.lit(None) if rec == "CO" else days,
        "unit_code": _lit(unit_code), "unit_price": _lit(unit_price),
        "product_name": _lit(product), "text": _lit(text),
    }
    return F.struct(*[values[n].cast(t).alias(n) for n, t in DETAIL_TYPES])


def one(cond: Column, *items: Column) -> Column:
    """`items` as an array when `cond` holds, else an empty array of the detail type."""
    return F.when(cond, F.array(*items)).otherwise(empty())


def empty() -> Column:
    return F.array().cast(f"array<{DETAIL_STRUCT}>")


def unit(sk: Column, rec: str, cc: str | Column, codes: Column, days: Column, points: Column,
         count: Column | int | None, max_lines: int) -> Column:
    """A multi-line 算定単位: one line per code in `codes` (at most `max_lines`), `points` on the
    last line. Unrolled into `max_lines` conditional lines (see days_on)."""
    n = F.size(codes)
    lines = [one(n > j, item(sk + j, rec, cc, F.get(codes, j), days, points=F.when(n == j + 1, points), count=count))
             for j in range(max_lines)]
    return F.concat(*lines)


def drug_points(yen: Column) -> Column:
    """薬剤料: 15円以下 1点; above, 1点 more per 10円 or part of it."""
    return F.when(yen <= 15, F.lit(1)).otherwise(F.lit(1) + F.ceil((yen - 15) / 10)).cast("int")


def finished_details(sorted_column: str, burden_class: Column) -> Column:
    """The receipt's detail lines from an array already sorted by key (a column, so the lambda
    refers to it instead of re-evaluating it per element): repeated 診療識別 blanked, 負担区分 set."""
    ordered = F.col(sorted_column)

    def finish(x: Column, i: Column) -> Column:
        prev = F.get(ordered, i - 1)
        shown = F.when(prev.isNull() | (prev.getField("cc") != x.getField("cc")), x.getField("cc"))
        return x.withField("care_class", shown).withField("burden_class", burden_class)

    return F.transform(ordered, finish)


def total_points(details: Column) -> Column:
    """Σ 点数 × 回数 over the units (点数 sits on each unit's last line only)."""
    return F.aggregate(
        details, F.lit(0).cast("bigint"),
        lambda acc, x: acc + F.coalesce(x.getField("points") * x.getField("count"), F.lit(0)).cast("bigint"),
    )
