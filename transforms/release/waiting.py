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
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.cache import NO_CACHE, Cache
from transforms.policy import Policy
from transforms.policy.catalog import PATIENT_FACTS
from transforms.release.kanon import BROADCAST_PIDS, mark_suppressed


@dataclass(frozen=True)
class NoticeSettings:
    """通知による同意に代わる手続 (requirement 43): a patient's data are provided no earlier than
    `wait_days` after their first visit following the notice. `started`: the day the notice began
    (for every institution without its own date in `institutions`, keyed by 医療機関コード).
    Neither set: no waiting period is applied, and the release record and report say so.
    (The `notice` section of conf/pipeline.yaml.)"""

    started: dt.date | None = None
    wait_days: int = 30
    institutions: dict[str, dt.date] = field(default_factory=dict)

    @property
    def applies(self) -> bool:
        return self.started is not None or bool(self.institutions)


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


@dataclass
class WaitingPeriod:
    notice: NoticeSettings
    extraction_date: dt.date
    held: int = 0
    pids: DataFrame | None = None
    cache: Cache = NO_CACHE  # what keeps `pids`
    broadcast_pids: int = BROADCAST_PIDS  # see transforms/release/kanon.py

    def record(self, tables: dict[str, Any]) -> dict[str, Any]:
        """The `waiting_period` entry of anonymize.json."""
        if not self.notice.applies:
            return {"applied": False, "extraction_date": self.extraction_date.isoformat(),
                    "note": "notice.started が未設定のため、通知後の待機期間（要件43）は適用していません"}
        rows = {t: int(st.get("rows_removed_by", {}).get("notice", 0)) for t, st in tables.items() if t != "patients"}
        return {
            "applied": True, "extraction_date": self.extraction_date.isoformat(), "wait_days": self.notice.wait_days,
            "notice_started": self.notice.started.isoformat() if self.notice.started else None,
            "institutions_with_own_date": len(self.notice.institutions),
            "patients_held_back": self.held, "rows_held_back": {"patients": self.held, **rows},
        }

    def mark(self, df: DataFrame) -> DataFrame:
        """`df` (with pid) with the rows of held-back patients flagged for removal (counted as "notice")."""
        if not self.held or self.pids is None:
            return df
        return mark_suppressed(df, self.pids, self.held <= self.broadcast_pids, "notice")

    def table_stats(self, tables: dict[str, Any]) -> dict[str, Any]:
        """The written stats with the held-back patients as input rows of `patients` removed for this
        reason (they were taken out before k-anonymity, so the writing pass never saw them)."""
        if not self.held or "patients" not in tables:
            return tables
        st = dict(tables["patients"])
        st["rows_in"] = st.get("rows_in", 0) + self.held
        st["rows_removed"] = st.get("rows_removed", 0) + self.held
        st["rows_removed_by"] = {**st.get("rows_removed_by", {}), "notice": self.held}
        return {**tables, "patients": st}

    def free(self) -> None:
        if self.pids is not None:
            self.cache.free(self.pids)


def waiting_period(frames: dict[str, DataFrame], policy: Policy, notice: NoticeSettings, extraction: dt.date,
                   receipts: DataFrame, labs: DataFrame | None, cache: Cache = NO_CACHE,
                   broadcast_pids: int = BROADCAST_PIDS) -> tuple[dict[str, DataFrame], WaitingPeriod]:
    """The frames without the patients held back, and what was held back (counted as tables are written)."""
    wp = WaitingPeriod(notice, extraction, cache=cache, broadcast_pids=broadcast_pids)
    if not notice.applies:
        return frames, wp
    visits = claim_visits(receipts)
    if labs is not None:
        visits = visits.unionByName(sample_visits(labs))
    first = first_notified_visits(visits, notice.started, notice.institutions)
    facts = frames[PATIENT_FACTS]
    wp.pids = cache.materialize(held_back(facts, first, notice.wait_days, extraction).select("pid"))
    wp.held = wp.pids.count()
    if not wp.held:
        return frames, wp
    out = dict(frames)
    for name, df in frames.items():
        table = policy.tables[name]
        if name != PATIENT_FACTS and table.output and "pid" in df.columns:
            out[name] = wp.mark(df)
    out[PATIENT_FACTS] = facts.join(wp.pids, "pid", "left_anti")
    return out, wp
