"""The waiting period after the opt-out notice inside `tokumei anonymize` (requirement 43).

With `notice` configured in the pipeline settings, patients whose first visit after the notice is
less than `wait_days` before the extraction date (or who had no visit after it) are held back from
this release: their row of `patients` and every row carrying their pid are removed and counted per
table, before k-anonymity, so they are not counted in any class. Without it the record says that no
waiting period was applied, so that the compliance officer sees it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from pyspark.sql import DataFrame

from jobs.runtime.config import NoticeSettings
from transforms.policy import Policy
from transforms.policy.catalog import PATIENT_FACTS
from transforms.release.kanon import BROADCAST_PIDS, mark_suppressed
from transforms.release.patients import materialized
from transforms.release.waiting import claim_visits, first_notified_visits, held_back, sample_visits

JST = ZoneInfo("Asia/Tokyo")


def today_jst() -> dt.date:
    return dt.datetime.now(JST).date()


@dataclass
class WaitingPeriod:
    notice: NoticeSettings
    extraction_date: dt.date
    held: int = 0
    pids: DataFrame | None = None

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
        return mark_suppressed(df, self.pids, self.held <= BROADCAST_PIDS, "notice")

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

    def unpersist(self) -> None:
        if self.pids is not None:
            self.pids.unpersist()


def waiting_period(frames: dict[str, DataFrame], policy: Policy, notice: NoticeSettings, extraction: dt.date,
                   receipts: DataFrame, labs: DataFrame | None) -> tuple[dict[str, DataFrame], WaitingPeriod]:
    """The frames without the patients held back, and what was held back (counted as tables are written)."""
    wp = WaitingPeriod(notice, extraction)
    if not notice.applies:
        return frames, wp
    visits = claim_visits(receipts)
    if labs is not None:
        visits = visits.unionByName(sample_visits(labs))
    first = first_notified_visits(visits, notice.started, notice.institutions)
    facts = frames[PATIENT_FACTS]
    wp.pids = materialized(held_back(facts, first, notice.wait_days, extraction).select("pid"))
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
