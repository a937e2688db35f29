"""UKE dates: 和暦 `GYYMMDD`/`GYYMM` and 西暦 `YYYYMMDD`/`YYYYMM`, told apart by length.

uke_format.md §2: the old spec writes 和暦 with a 元号 code (別表4: 1 明治 .. 5 令和), the R02 spec
writes 西暦; files of both kinds are in circulation, so the length decides (7/5 = 和暦, 8/6 = 西暦),
as OpenReceiptViewer does. A 和暦 date must fall inside its 元号 (平成32年 or 令和0年 do not exist).

The functions take and return SQL text (transforms/uke/sql.py): `s` is an expression of a trimmed,
width-normalized digit string (transforms/uke/parse.py cleans it); a value is null when the field is
empty or bad, and its reason is null when the value is good or the field is empty, else `invalid_date`
(wrong shape) or `impossible_date` (no such day).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from transforms.uke.sql import lit, when


class Era(NamedTuple):
    code: str
    name: str
    first_year: int  # 西暦 of 元年
    start: dt.date
    end: dt.date


# 元号 bounds. 明治 is taken from 1868-01-01: the 改元の詔 made all of 慶応4年 明治元年.
ERAS: tuple[Era, ...] = (
    Era("1", "明治", 1868, dt.date(1868, 1, 1), dt.date(1912, 7, 29)),
    Era("2", "大正", 1912, dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
    Era("3", "昭和", 1926, dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    Era("4", "平成", 1989, dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    Era("5", "令和", 2019, dt.date(2019, 5, 1), dt.date(2099, 12, 31)),
)
# Any UKE date outside this window is a typo, not a claim: nothing is billed before 明治 or after 2099.
EARLIEST, LATEST = ERAS[0].start, ERAS[-1].end


def _era_attr(code: str, attr: str) -> str:
    cases = " ".join(f"WHEN {lit(era.code)} THEN {_value(getattr(era, attr))}" for era in ERAS)
    return f"(CASE {code} {cases} END)"


def _value(v: int | dt.date) -> str:
    return f"DATE'{v.isoformat()}'" if isinstance(v, dt.date) else lit(v)


def _in_window(value: str, start: str, end: str) -> str:
    return f"({value} >= {start} AND {value} <= {end})"


def _shape_ok(s: str, era_len: int, seireki_len: int) -> str:
    known_era = f"substring({s}, 1, 1) IN ({', '.join(lit(e.code) for e in ERAS)})"
    return (f"({s} RLIKE '^[0-9]+$' AND ((length({s}) = {era_len} AND {known_era}) "
            f"OR length({s}) = {seireki_len}))")


def date_reason(s: str, value: str, era_len: int = 7, seireki_len: int = 8) -> str:
    """The date reason of a cleaned field `s` whose parsed value is `value` (null when not a good date)."""
    return (f"CASE WHEN {s} IS NULL THEN NULL WHEN NOT {_shape_ok(s, era_len, seireki_len)} THEN 'invalid_date' "
            f"WHEN {value} IS NULL THEN 'impossible_date' END")


def iso_date(year: str, month: str, day: str) -> str:
    """A DATE from SQL strings of a 4-digit year, a 2-digit month and day; null for no such day.

    A cast of `YYYY-MM-DD` rather than `try_to_date(.., 'yyyyMMdd')`: the same answer on digit strings
    (a strict calendar check, 2023-02-30 is null) without a DateTimeFormatter per value, which made the
    three dates of an RE line two thirds of its parsing (issue 18)."""
    return f"try_cast(concat({year}, '-', {month}, '-', {day}) AS DATE)"


def _era_to_date(s: str, day: str) -> str:
    """A 和暦 field `G YY MM ..` as a 西暦 date on `day` (SQL: a 2-digit string) of its month; null for
    year 00 or an impossible date."""
    year = f"({_era_attr(f'substring({s}, 1, 1)', 'first_year')} + try_cast(substring({s}, 2, 2) AS int) - 1)"
    date = iso_date(f"CAST({year} AS STRING)", f"substring({s}, 4, 2)", day)
    return when(f"substring({s}, 2, 2) != '00'", date)


def _seireki(s: str, day: str) -> str:
    """A 西暦 field `YYYY MM ..` as a date on `day` (SQL: a 2-digit string) of its month."""
    return iso_date(f"substring({s}, 1, 4)", f"substring({s}, 5, 2)", day)


def _by_length(s: str, era_len: int, seireki_len: int, era_value: str, seireki: str) -> str:
    """The 和暦 value for a field of `era_len` characters, else the 西暦 one within EARLIEST..LATEST."""
    in_window = _in_window(seireki, _value(EARLIEST), _value(LATEST))
    return (f"CAST(CASE WHEN NOT {_shape_ok(s, era_len, seireki_len)} THEN NULL "
            f"WHEN length({s}) = {era_len} THEN {era_value} ELSE {when(in_window, seireki)} END AS DATE)")


def date_value(s: str) -> str:
    """`GYYMMDD` (和暦) or `YYYYMMDD` (西暦) -> DATE; null when empty, malformed or impossible."""
    era = f"substring({s}, 1, 1)"
    era_date = _era_to_date(s, f"substring({s}, 6, 2)")
    era_ok = _in_window(era_date, _era_attr(era, "start"), _era_attr(era, "end"))
    return _by_length(s, 7, 8, when(era_ok, era_date), _seireki(s, f"substring({s}, 7, 2)"))


def ym_value(s: str) -> str:
    """`GYYMM` (和暦) or `YYYYMM` (西暦) -> DATE, the first day of the month; null when bad.

    A 和暦 month is valid when it overlaps its 元号: 平成31年4月 and 令和元年5月 both exist, and
    昭和64年1月 (1-7 January 1989) does too.
    """
    era = f"substring({s}, 1, 1)"
    era_month = _era_to_date(s, "'01'")
    overlaps = f"(last_day({era_month}) >= {_era_attr(era, 'start')} AND {era_month} <= {_era_attr(era, 'end')})"
    return _by_length(s, 5, 6, when(overlaps, era_month), _seireki(s, "'01'"))
