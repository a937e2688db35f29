"""Dates and ages, coarsened (requirements 7, 17, 22): Column -> Column, Spark built-ins only.

Age follows 年齢計算ニ関スル法律 with 民法143条: a person gains a year at the start of the birthday;
someone born on 29 February gains it on 1 March in a common year. Ages are taken at the service
date, never at "today" (requirement 7), so a release does not change with the day it is built.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from transforms.columns.pseudonym import KeyPads, hmac_sha256_hex

UNITS = ("year", "quarter", "year_month")
# Without a top, band_of_age writes a band for any age, however old; the list of its labels (the leaves
# of k-anonymity's age hierarchy, the values validation accepts) stops below this age. Nobody has
# lived to 150 (the oldest on record: 122), so an older age is a wrong birth or service date, which
# validation refuses instead of releasing it.
AGE_LIMIT = 150


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
    """Completed years at `at`; null when either date is null or `at` is before the birth.

    (yyyymmdd(at) - yyyymmdd(birth)) div 10000: the year difference, less one before the birthday
    (29 February counts as reached on 1 March in a common year, as the law reads)."""
    def ymd(d: Column) -> Column:
        return F.year(d) * 10000 + F.month(d) * 100 + F.dayofmonth(d)

    return F.when(at >= birth, F.floor((ymd(at) - ymd(birth)) / 10000).cast("int"))


def age(birth: Column, at: Column, top: int | None = None) -> Column:
    """Age at `at`, top-coded: every age >= top is `top` (read "top and over")."""
    return top_age(age_at(birth, at), top)


def top_age(years: Column, top: int | None) -> Column:
    """An age top-coded at `top`; null stays null."""
    # least() skips nulls: guard so an unknown age stays unknown instead of becoming `top`.
    return years if top is None else F.when(years.isNotNull(), F.least(years, F.lit(top)))


def age_band(birth: Column, at: Column, width: int = 5, top: int | None = 90) -> Column:
    """Age band label at `at`: "00-04", ..., "85-89", "90+" (width 5, top 90)."""
    return band_of_age(age_at(birth, at), width, top)


def band_of_age(years: Column, width: int = 5, top: int | None = 90) -> Column:
    """The band label of an age (the Spark twin of `band_label`). `years` is used several times: on a
    large frame pass a column computed in an earlier projection (apply_table does), not the age_at
    expression, which would then run once per use (apply_table on 1.1M receipts: 7.75 s that way,
    3.30 s with the column)."""
    _check_band(width, top)
    lo = F.floor(years / width).cast("int") * width
    hi = lo + width - 1 if top is None else F.least(lo + width - 1, F.lit(top - 1))
    label = F.when(years.isNotNull(), F.concat(_two_digits(lo), F.lit("-"), _two_digits(hi)))
    if top is None:
        return label
    return F.when(years >= top, F.lit(f"{top}+")).otherwise(label)


def _two_digits(n: Column) -> Column:
    """`"%02d"` without java.util.Formatter (which costs more per row than the age itself)."""
    return F.when((n >= 0) & (n < 10), F.concat(F.lit("0"), n.cast("string"))).otherwise(n.cast("string"))


def band_label(age: int, width: int = 5, top: int | None = 90) -> str:
    """The label band_of_age writes for `age` (for a band, pass its youngest age): "00-04", "85-89",
    "90+" (width 5, top 90); a band that reaches the top ends below it ("85-85" with top 86); without
    a top, three digits from 100 ("100-104")."""
    _check_band(width, top)
    if top is not None and age >= top:
        return f"{top}+"
    lo = age // width * width
    hi = lo + width - 1 if top is None else min(lo + width - 1, top - 1)
    return f"{lo:02d}-{hi:02d}"


def band_starts(width: int = 5, top: int | None = 90) -> tuple[int, ...]:
    """The youngest age of every band, in order: the top band starts at `top`; without a top, the
    bands stop below AGE_LIMIT."""
    _check_band(width, top)
    return tuple(range(0, AGE_LIMIT, width)) if top is None else (*range(0, top, width), top)


def band_labels(width: int = 5, top: int | None = 90) -> tuple[str, ...]:
    """Every label band_of_age can write for an age below AGE_LIMIT, youngest first ("90+" last)."""
    return tuple(band_label(age, width, top) for age in band_starts(width, top))


def _check_band(width: int, top: int | None) -> None:
    if width < 1 or (top is not None and top < 1):
        raise ValueError("width and top must be positive")


def generalize_birth(birth: Column, unit: str, at: Column | None = None, top: int | None = None) -> Column:
    """A birth date coarsened to year/quarter/year-month; suppressed (null) at age >= top at `at`.

    Hospital practice deletes the 生年月 of people aged 90 and over (practice.md [H1]); a birth
    year alone would otherwise reveal the very old (requirement 17).
    """
    if top is None:
        return generalize_date(birth, unit)
    if at is None:
        raise ValueError("top-coding a birth date needs the service date `at`")
    return birth_below_top(birth, unit, age_at(birth, at), top)


def birth_below_top(birth: Column, unit: str, years: Column, top: int) -> Column:
    """generalize_birth with the age already computed (`years`)."""
    return F.when(years < top, generalize_date(birth, unit))


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
