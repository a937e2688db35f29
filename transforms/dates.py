"""Dates and ages, coarsened (requirements 7, 17, 22): Column -> Column, Spark built-ins only.

Age follows 年齢計算ニ関スル法律 with 民法143条: a person gains a year at the start of the birthday;
someone born on 29 February gains it on 1 March in a common year. Ages are taken at the service
date, never at "today" (requirement 7), so a release does not change with the day it is built.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from transforms.pseudonym import KeyPads, hmac_sha256_hex

UNITS = ("year", "quarter", "year_month")


def generalize_date(col: Column, unit: str) -> Column:
    """A date as "2025", "2025-Q1" or "2025-03" (string); null stays null."""
    if unit == "year":
        return F.date_format(col, "yyyy")
    if unit == "year_month":
        return F.date_format(col, "yyyy-MM")
    if unit == "quarter":
        return F.concat(F.date_format(col, "yyyy"), F.lit("-Q"), F.quarter(col).cast("string"))
    raise ValueError(f"unit {unit!r}: use one of {', '.join(UNITS)}")


def age_at(birth: Column, at: Column) -> Column:
    """Completed years at `at`; null when either date is null or `at` is before the birth."""
    before_birthday = (F.month(at) * 100 + F.dayofmonth(at)) < (F.month(birth) * 100 + F.dayofmonth(birth))
    years = F.year(at) - F.year(birth) - F.when(before_birthday, 1).otherwise(0)
    return F.when(at >= birth, years)


def age(birth: Column, at: Column, top: int | None = None) -> Column:
    """Age at `at`, top-coded: every age >= top is `top` (read "top and over")."""
    years = age_at(birth, at)
    # least() skips nulls: guard so an unknown age stays unknown instead of becoming `top`.
    return years if top is None else F.when(years.isNotNull(), F.least(years, F.lit(top)))


def age_band(birth: Column, at: Column, width: int = 5, top: int | None = 90) -> Column:
    """Age band label at `at`: "00-04", ..., "85-89", "90+" (width 5, top 90)."""
    if width < 1 or (top is not None and top < 1):
        raise ValueError("width and top must be positive")
    years = age_at(birth, at)
    lo = F.floor(years / width) * width
    hi = lo + width - 1 if top is None else F.least(lo + width - 1, F.lit(top - 1))
    label = F.when(years.isNotNull(), F.format_string("%02d-%02d", lo.cast("int"), hi.cast("int")))
    if top is None:
        return label
    return F.when(years >= top, F.lit(f"{top}+")).otherwise(label)


def generalize_birth(birth: Column, unit: str, at: Column | None = None, top: int | None = None) -> Column:
    """A birth date coarsened to year/quarter/year-month; suppressed (null) at age >= top at `at`.

    Hospital practice deletes the 生年月 of people aged 90 and over (practice.md [H1]); a birth
    year alone would otherwise reveal the very old (requirement 17).
    """
    out = generalize_date(birth, unit)
    if top is None:
        return out
    if at is None:
        raise ValueError("top-coding a birth date needs the service date `at`")
    return F.when(age_at(birth, at) < top, out)


def shift_days(pid: Column, key: KeyPads, max_days: int) -> Column:
    """A per-patient offset in [-max_days, max_days] from a keyed hash of the pseudonymous id.

    Every date of a patient moves by the same offset, so intervals within a patient are kept
    (requirement 22); without the key the offset cannot be recomputed.
    """
    if max_days < 1:
        raise ValueError("max_days must be >= 1")
    h = F.conv(F.substring(hmac_sha256_hex(pid, key), 1, 12), 16, 10).cast("long")
    return (h % (2 * max_days + 1) - max_days).cast("int")


def shift_date(col: Column, offset_days: Column) -> Column:
    return F.date_add(col, offset_days)
