"""停止の求め at every release (requirement 42(b)), on Spark built-ins.

Ingest withholds and purges the people the registry names when it runs; a request registered after
the last ingest must still keep the person out of the next release. The release therefore maps the
registry's matches (receipts and clinical patients, transforms/identity/optout.opted_out_nodes) to
their pids and leaves out every patient one of whose records matched: all their linked records, not
only the matching receipt (a stop request must rather exclude too much than too little, 42(c) still
holds: the match itself is exact). The patients go before the waiting period and k-anonymity, so
k is reached among the patients actually released.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.cache import NO_CACHE, Cache
from transforms.policy import Policy
from transforms.policy.catalog import FIRST_SERVICE, PATIENT_FACTS
from transforms.release.kanon import BROADCAST_PIDS, mark_suppressed
from transforms.release.patients import NODE_KEYS, node_keys

OPTOUT = "optout"  # the removal reason: tables count `rows_removed_by.optout`


def opted_out_pids(pid_map: DataFrame, nodes: DataFrame) -> DataFrame:
    """`pid` of every patient with a node in `nodes` (`node` strings); `pid_map` in join_map's form."""
    keyed = nodes.select(*node_keys(F.col("node")))
    hits = pid_map.join(keyed, list(NODE_KEYS), how="left_semi")
    return hits.select(F.lower(F.hex("__pid")).alias("pid")).distinct()


@dataclass(frozen=True)
class FactCounts:
    """One pass over the patient facts: who has no data, who has, who of those opted out."""

    without_data: int
    patients_in: int  # patients with a claim or a lab sample: the release's input
    opted_out: int  # of patients_in


def fact_counts(facts: DataFrame, opted: DataFrame | None) -> FactCounts:
    """Counted in one aggregation (the opted-out list is small and broadcast)."""
    has_data = F.col(FIRST_SERVICE).isNotNull()
    if opted is not None:
        facts = facts.join(F.broadcast(opted.select("pid", F.lit(True).alias("__opted"))), "pid", how="left")
        opted_col = has_data & F.coalesce(F.col("__opted"), F.lit(False))
    else:
        opted_col = F.lit(False)
    row = facts.agg(F.count_if(~has_data).alias("without"), F.count_if(has_data).alias("with"),
                    F.count_if(opted_col).alias("opted")).first()
    assert row is not None
    return FactCounts(int(row["without"] or 0), int(row["with"] or 0), int(row["opted"] or 0))


@dataclass
class OptOut:
    """What the release left out for the registry; `applied` False when no registry was configured."""

    applied: bool
    patients_in: int = 0
    opted: int = 0  # of patients_in
    pids: DataFrame | None = None
    listed: int = 0  # rows of `pids` (also patients without data, who are never released anyway)
    cache: Cache = NO_CACHE  # what keeps `pids`
    broadcast_pids: int = BROADCAST_PIDS
    table: str = "patients"  # the release table the patient facts are written as

    def mark(self, df: DataFrame) -> DataFrame:
        """`df` (with pid) with the rows of opted-out patients flagged for removal (counted as "optout")."""
        if not self.listed or self.pids is None:
            return df
        return mark_suppressed(df, self.pids, self.listed <= self.broadcast_pids, OPTOUT)

    def table_stats(self, tables: dict[str, Any]) -> dict[str, Any]:
        """The written stats with the opted-out patients as input rows of `patients` removed for this
        reason (they were taken out before the writing pass)."""
        if not self.opted or self.table not in tables:
            return tables
        st = dict(tables[self.table])
        st["rows_in"] = st.get("rows_in", 0) + self.opted
        st["rows_removed"] = st.get("rows_removed", 0) + self.opted
        st["rows_removed_by"] = {**st.get("rows_removed_by", {}), OPTOUT: self.opted}
        return {**tables, self.table: st}

    def record(self, released: int, held_back: int, suppressed: int, tables: dict[str, Any]) -> dict[str, Any]:
        """The counts of the `optout` entry of anonymize.json; they must add up:
        patients_in = patients_after + patients_opted_out + patients_held_back + patients_suppressed."""
        rows = {t: int(st.get("rows_removed_by", {}).get(OPTOUT, 0)) for t, st in tables.items()}
        return {
            "applied": self.applied,
            "patients_in": self.patients_in,
            "patients_opted_out": self.opted,
            "patients_held_back": held_back,
            "patients_suppressed": suppressed,
            "patients_after": released,
            "reconciled": self.patients_in == released + self.opted + held_back + suppressed,
            "rows_removed": {t: n for t, n in rows.items() if n},
        }


def opt_out(frames: dict[str, DataFrame], policy: Policy, pids: DataFrame | None, counts: FactCounts,
            cache: Cache = NO_CACHE, broadcast_pids: int = BROADCAST_PIDS) -> tuple[dict[str, DataFrame], OptOut]:
    """The frames without the opted-out patients (`pids`, materialized by the caller; None: no registry)."""
    listed = pids.count() if pids is not None else 0
    stage = OptOut(pids is not None, counts.patients_in, counts.opted_out, pids, listed, cache, broadcast_pids,
                   policy.tables[PATIENT_FACTS].output or PATIENT_FACTS)
    if not listed:
        return frames, stage
    assert pids is not None
    out = dict(frames)
    for name, df in frames.items():
        if name != PATIENT_FACTS and policy.tables[name].output and "pid" in df.columns:
            out[name] = stage.mark(df)
    out[PATIENT_FACTS] = frames[PATIENT_FACTS].join(pids, "pid", "left_anti")
    return out, stage
