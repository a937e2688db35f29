"""The k-anonymity stage of `tokumei anonymize` (issue 5 item 3; requirements 21-22).

I/O and errors around transforms/release/kanon.py: the hierarchies are read, the released
`patients` table is made k-anonymous (l-diverse where configured) over `params.quasi_identifiers`
before anything is written, and the rows of suppressed patients are flagged in every table that
carries `pid`. Exit codes: 2 when a hierarchy is missing or a value is not in it, 1 (refused) when
no generalization meets k within the suppression limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, Observation
from pyspark.sql import functions as F

from transforms.cache import NO_CACHE, Cache
from transforms.kanon.hierarchy import Hierarchy
from transforms.kanon.solve import Solution
from transforms.policy import Policy
from transforms.policy.catalog import PATIENT_FACTS
from transforms.release.apply import Applied, Context
from transforms.release.kanon import (
    BROADCAST_PIDS,
    Criteria,
    criteria,
    histogram_rows,
    mapping_frame,
    mark_suppressed,
    metrics,
    patients_as_released,
    recode_carrier,
    recode_carriers,
    release_policy,
    released_labels,
    search,
    split_patients,
)
from transforms.release.table_stats import stats_from_metrics


@dataclass
class KAnonStage:
    crit: Criteria
    applied: Applied  # `patients` as the policy's rules make it (cached); its observation = the rules' stats
    solution: Solution | None  # None: no patients
    frames: dict[str, DataFrame]  # what to write: patients recoded, suppressed rows flagged
    policy: Policy  # the policy to write `frames` with
    hierarchies: dict[str, str]  # quasi-identifier -> hierarchy source
    suppressed_pids: DataFrame | None = None
    labels: dict[str, dict[str, str | None]] = field(default_factory=dict)  # quasi-identifier -> leaf -> released
    recoded: dict[str, Observation] = field(default_factory=dict)  # output table -> recoded carrier cells
    cache: Cache = NO_CACHE  # what keeps `applied.df` and `suppressed_pids`
    raised_from: list[int] | None = None  # the levels the search chose, when (k, k^m) raised them (coarsen)
    broadcast_pids: int = BROADCAST_PIDS  # see transforms/release/kanon.py

    def recode(self, name: str, df: DataFrame) -> DataFrame:
        """The written frame of table `name` with its quasi-identifier carriers at the chosen levels
        (req 21: a join on pid gives nothing finer than `patients`)."""
        table = self.policy.tables[name]
        carriers = {c: self.labels[q] for c, q in table.carriers.items() if q in self.labels and c in df.columns}
        if not carriers or table.output is None:
            return df
        out, self.recoded[table.output] = recode_carriers(df, carriers, name)
        return out

    def mark(self, df: DataFrame) -> DataFrame:
        """`df` (with pid) with the rows of suppressed patients flagged for removal (counted as "kanon")."""
        if not self.suppressed or self.suppressed_pids is None:
            return df
        return mark_suppressed(df, self.suppressed_pids, self.suppressed <= self.broadcast_pids, "kanon")

    @property
    def suppressed(self) -> int:
        return int(self.solution.summary["suppressed"]) if self.solution else 0

    def table_stats(self, tables: dict[str, Any]) -> dict[str, Any]:
        """The written stats, with the `patients` entry telling what the policy's rules did to it
        and the suppressed patients as removed rows."""
        a = self.applied  # no patients: nothing may have run through the observation
        rules = a.stats() if self.solution is not None else stats_from_metrics({}, a.rules, a.absent, a.notes)
        rules["rows_removed"] += self.suppressed
        return {**tables, self.crit.table: rules}

    def record(self, outputs: list[dict[str, Any]], tables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `kanon` entry of anonymize.json; refuses to vouch for counts that do not add up.

        `tables`: the written stats; a table without input rows had nothing to suppress (its observation
        may never have seen a task, so it is not asked)."""
        released = next((o["rows"] for o in outputs if o["table"] == self.crit.table), 0)
        before = int(self.solution.summary["records"]) if self.solution else released
        if released + self.suppressed != before:
            raise RuntimeError(f"k-anonymity: {before} patients before, {released} released + {self.suppressed} "
                               f"suppressed; the counts must add up")
        empty = {t for t, st in (tables or {}).items() if not st.get("rows_in")}
        rows = {t: int(st.get("rows_removed_by", {}).get("kanon", 0)) for t, st in (tables or {}).items()
                if t != self.crit.table}
        levels = self.solution.summary["levels"] if self.solution else [0] * len(self.crit.qi)
        return {
            "table": self.crit.table,
            "quasi_identifiers": list(self.crit.qi),
            "k": self.crit.k,
            "l": self.crit.ell,
            "sensitive": self.crit.sensitive,
            "suppression_limit": self.crit.suppression_limit,
            "levels": dict(zip(self.crit.qi, levels, strict=True)),
            "hierarchies": self.hierarchies,
            "suppressed_patients": self.suppressed,
            "suppressed_rows": {self.crit.table: self.suppressed, **rows},
            "carriers": self._carriers(levels, empty),
            "metrics": metrics(self.solution.summary) if self.solution else {"patients_before": 0},
            # (k, k^m) raised the levels: the metrics above are those of the levels the search chose
            **({"levels_chosen_by_search": dict(zip(self.crit.qi, self.raised_from, strict=True))}
               if self.raised_from is not None else {}),
        }

    def _carriers(self, levels: list[int], empty: set[str]) -> dict[str, dict[str, Any]]:
        """Per output table: which columns carry which quasi-identifier, at which level, cells recoded."""
        level = dict(zip(self.crit.qi, levels, strict=True))
        out: dict[str, dict[str, Any]] = {}
        for table in self.policy.tables.values():
            if table.output is None or not table.carriers or table.output == self.crit.table:
                continue
            counts = {} if table.output in empty or table.output not in self.recoded else self.recoded[table.output].get
            out[table.output] = {c: {"quasi_identifier": q, "level": level.get(q, 0), "cells_recoded": int(counts.get(c) or 0)}
                                 for c, q in table.carriers.items()}
        return out

    @property
    def levels(self) -> list[int]:
        return list(self.solution.summary["levels"]) if self.solution else [0] * len(self.crit.qi)

    def coarsen(self, levels: Sequence[int], hierarchies: Mapping[str, Hierarchy]) -> None:
        """Release `patients` (and the carriers) at `levels`, each at least as general as the level the
        search chose: classes only merge, so k (and l) still hold and nobody more is suppressed. The
        (k, k^m) stage does this when the items cannot be protected at the chosen levels (issue 16)."""
        if self.solution is None or list(levels) == self.levels:
            return
        if any(new < old for new, old in zip(levels, self.levels, strict=True)):
            raise ValueError(f"levels {list(levels)} are finer than the chosen {self.levels}")
        self.labels = {q: released_labels(hierarchies[q], lv) for q, lv in zip(self.crit.qi, levels, strict=True)}
        released = self.frames[PATIENT_FACTS]
        leaves = self.applied.df.join(released.select("pid"), "pid", "left_semi")
        self.frames[PATIENT_FACTS] = leaves.select(*[recode_carrier(F.col(c), self.labels[c]).alias(c) if c in self.labels
                                                     else F.col(c) for c in released.columns])
        self.raised_from = self.levels
        self.solution.summary["levels"] = list(levels)

    def free(self) -> None:
        self.cache.free(self.applied.df)
        if self.suppressed_pids is not None:
            self.cache.free(self.suppressed_pids)


def kanon_stage(frames: dict[str, DataFrame], policy: Policy, ctx: Context, hierarchies: Mapping[str, Hierarchy],
                cache: Cache = NO_CACHE, broadcast_pids: int = BROADCAST_PIDS) -> KAnonStage:
    """Search the generalization of `patients` and return the frames and policy to write them with.
    HierarchyError (a value not in its hierarchy) and NoSolutionError pass through."""
    crit = criteria(policy)
    facts = policy.tables[PATIENT_FACTS]
    sources = {q: hierarchies[q].source for q in crit.qi}
    applied = patients_as_released(frames[PATIENT_FACTS], facts, ctx, cache)
    out = dict(frames)
    try:
        rows = histogram_rows(applied.df, crit)  # the one pass over patients; fires the rules' stats
        if not rows:
            return KAnonStage(crit, applied, None, out, policy, sources, cache=cache, broadcast_pids=broadcast_pids)
        solution = search(rows, crit, hierarchies)
        mapping = mapping_frame(applied.df, solution.recoding, np.array([r[-1] for r in rows], dtype=np.int64))
        released, pids = split_patients(applied.df, mapping, crit.qi)
        out[PATIENT_FACTS] = released
        stage = KAnonStage(crit, applied, solution, out, release_policy(policy, PATIENT_FACTS, released.columns),
                           sources, labels={q: released_labels(hierarchies[q], lv)
                                            for q, lv in zip(crit.qi, solution.summary["levels"], strict=True)},
                           cache=cache, broadcast_pids=broadcast_pids)
    except BaseException:
        cache.free(applied.df)
        raise
    if stage.suppressed:
        stage.suppressed_pids = cache.materialize(pids)
        for name, df in frames.items():
            table = policy.tables[name]
            if name != PATIENT_FACTS and table.output and "pid" in df.columns:
                out[name] = stage.mark(df)
    return stage
