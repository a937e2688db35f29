"""The waiting period after the opt-out notice (requirement 43), on Spark built-ins.

次世代医療基盤法 lets a certified producer receive a patient's data by notice instead of consent; in
practice the first provision comes at least a month after the patient's first visit following the
notice (legal_requirements.md 43: records whose `first_notified_visit + wait_days` is later than the
extraction date are held back). The visits we know are the claims' service months and the clinical
extracts' sampling days, each at an institution whose notice began on its own date.

A month is only known to follow the notice when it starts on or after the notice's first day, and
its visit is dated at the month's last day: both err towards holding a patient back. A patient with
no visit after the notice was never notified and is held back too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

VISIT = "__visit"  # the latest day the visit can have been
SINCE = "__since"  # the earliest day the visit can have been


def notice_start(institution: Column, started: dt.date | None, institutions: Mapping[str, dt.date]) -> Column:
    """The day the notice began at `institution` (null: no notice there)."""
    default = F.lit(started).cast("date") if started is not None else F.lit(None).cast("date")
    if not institutions:
        return default
    pairs = [x for code, day in sorted(institutions.items()) for x in (F.lit(code), F.lit(day).cast("date"))]
    return F.coalesce(F.create_map(*pairs)[institution.cast("string")], default)


def claim_visits(receipts: DataFrame) -> DataFrame:
    """(pid, institution_code, __since, __visit) of every claim: a service month spans its days."""
    month = F.trunc(F.col("service_month"), "month")
    return receipts.where(F.col("pid").isNotNull()).select(
        "pid", F.col("institution_code").cast("string").alias("institution_code"),
        month.alias(SINCE), F.last_day(month).alias(VISIT))


def sample_visits(labs: DataFrame) -> DataFrame:
    """(pid, institution_code, __since, __visit) of every lab sample: its day is known."""
    day = F.col("sampled_on").cast("date")
    return labs.where(F.col("pid").isNotNull()).select(
        "pid", F.col("institution_code").cast("string").alias("institution_code"), day.alias(SINCE), day.alias(VISIT))


def first_notified_visits(visits: DataFrame, started: dt.date | None, institutions: Mapping[str, dt.date]) -> DataFrame:
    """(pid, first_notified): the first visit known to follow the notice at its institution."""
    start = notice_start(F.col("institution_code"), started, institutions)
    after = visits.where(start.isNotNull() & (F.col(SINCE) >= start))
    return after.groupBy("pid").agg(F.min(VISIT).alias("first_notified"))


def held_back(pids: DataFrame, first: DataFrame, wait_days: int, extraction: dt.date) -> DataFrame:
    """(pid, first_notified) of the patients whose data may not be provided on `extraction`:
    never notified, or notified less than `wait_days` before it."""
    joined = pids.select("pid").distinct().join(first, "pid", "left")
    due = F.date_add(F.col("first_notified"), wait_days)
    return joined.where(F.col("first_notified").isNull() | (due > F.lit(extraction).cast("date")))
