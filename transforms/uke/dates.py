"""UKE dates: 和暦 `GYYMMDD`/`GYYMM` and 西暦 `YYYYMMDD`/`YYYYMM`, told apart by length.

uke_format.md §2: the old spec writes 和暦 with a 元号 code (別表4: 1 明治 .. 5 令和), the R02 spec
writes 西暦; files of both kinds are in circulation, so the length decides (7/5 = 和暦, 8/6 = 西暦),
as OpenReceiptViewer does. A 和暦 date must fall inside its 元号 (平成32年 or 令和0年 do not exist).

Inputs are already trimmed and width-normalized digit strings (uke_parse does that); every function
returns (value, reason) Columns: reason is null when the value is good or the field is empty, else
`invalid_date` (wrong shape) or `impossible_date` (no such day).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from pyspark.sql import Column
from pyspark.sql import functions as F


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


def _era_attr(code: Column, attr: str) -> Column:
    out = F.lit(None)
    for era in reversed(ERAS):
        out = F.when(code == era.code, F.lit(getattr(era, attr))).otherwise(out)
    return out


def _in_window(value: Column, start: Column, end: Column) -> Column:
    return (value >= start) & (value <= end)


def _shape_ok(s: Column, era_len: int, seireki_len: int) -> Column:
    length = F.length(s)
    known_era = F.substring(s, 1, 1).isin(*(e.code for e in ERAS))
    return s.rlike(r"^[0-9]+$") & (((length == era_len) & known_era) | (length == seireki_len))


def date_reason(s: Column, value: Column, era_len: int = 7, seireki_len: int = 8) -> Column:
    """The date reason of a cleaned field `s` whose parsed value is `value` (null when not a good date)."""
    return (
        F.when(s.isNull(), F.lit(None))
        .when(~_shape_ok(s, era_len, seireki_len), F.lit("invalid_date"))
        .when(value.isNull(), F.lit("impossible_date"))
    )


def _era_to_date(s: Column, rest: Column) -> Column:
    """A 和暦 field `G YY <rest>` as a 西暦 date (rest: MMDD, or MM01 for a month); null for year 00 or
    an impossible date."""
    year = _era_attr(F.substring(s, 1, 1), "first_year") + F.substring(s, 2, 2).try_cast("int") - 1
    return F.try_to_date(F.when(F.substring(s, 2, 2) != "00", F.format_string("%04d%s", year, rest)), "yyyyMMdd")


def _by_length(s: Column, era_len: int, seireki_len: int, era_value: Column, seireki: Column) -> Column:
    """The 和暦 value for a field of `era_len` characters, else the 西暦 one within EARLIEST..LATEST."""
    return (
        F.when(~_shape_ok(s, era_len, seireki_len), F.lit(None))
        .when(F.length(s) == era_len, era_value)
        .otherwise(F.when(_in_window(seireki, F.lit(EARLIEST), F.lit(LATEST)), seireki))
    ).cast("date")


def date_value(s: Column) -> Column:
    """`GYYMMDD` (和暦) or `YYYYMMDD` (西暦) -> DATE; null when empty, malformed or impossible."""
    era = F.substring(s, 1, 1)
    era_date = _era_to_date(s, F.substring(s, 4, 4))
    era_ok = _in_window(era_date, _era_attr(era, "start"), _era_attr(era, "end"))
    return _by_length(s, 7, 8, F.when(era_ok, era_date), F.try_to_date(s, "yyyyMMdd"))


def ym_value(s: Column) -> Column:
    """`GYYMM` (和暦) or `YYYYMM` (西暦) -> DATE, the first day of the month; null when bad.

    A 和暦 month is valid when it overlaps its 元号: 平成31年4月 and 令和元年5月 both exist, and
    昭和64年1月 (1-7 January 1989) does too.
    """
    era = F.substring(s, 1, 1)
    era_month = _era_to_date(s, F.concat(F.substring(s, 4, 2), F.lit("01")))
    overlaps = (F.last_day(era_month) >= _era_attr(era, "start")) & (era_month <= _era_attr(era, "end"))
    return _by_length(s, 5, 6, F.when(overlaps, era_month), F.try_to_date(F.concat(s, F.lit("01")), "yyyyMMdd"))
