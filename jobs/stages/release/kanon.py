"""The k-anonymity stage of `tokumei anonymize` (issue 5 item 3; requirements 21-22).

I/O and errors around transforms/release/kanon.py: the hierarchies are read, the released
`patients` table is made k-anonymous (l-diverse where configured) over `params.quasi_identifiers`
before anything is written, and the rows of suppressed patients are flagged in every table that
carries `pid`. Exit codes: 2 when a hierarchy is missing or a value is not in it, 1 (refused) when
no generalization meets k within the suppression limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, Observation

from jobs.runtime.errors import ConfigError, InputError, RefusedError
from jobs.stages.release.policy_files import hierarchy_dir
from transforms.kanon.hierarchy import HierarchyError
from transforms.kanon.lattice import NoSolutionError
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
    recode_carriers,
    release_policy,
    released_labels,
    search,
    split_patients,
)
from transforms.release.patients import materialized
from transforms.release.qi_hierarchies import patient_hierarchies
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
        return mark_suppressed(df, self.suppressed_pids, self.suppressed <= BROADCAST_PIDS, "kanon")

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

    def unpersist(self) -> None:
        self.applied.df.unpersist()
        if self.suppressed_pids is not None:
            self.suppressed_pids.unpersist()


def kanon_stage(frames: dict[str, DataFrame], policy: Policy, policy_file: Path, ctx: Context) -> KAnonStage:
    """Search the generalization of `patients` and return the frames and policy to write them with."""
    crit = criteria(policy)
    facts = policy.tables[PATIENT_FACTS]
    try:
        hierarchies = patient_hierarchies(facts, crit.qi, hierarchy_dir(policy))
    except HierarchyError as exc:
        raise ConfigError(policy_file, "params.quasi_identifiers", str(exc)) from None
    sources = {q: h.source for q, h in hierarchies.items()}
    applied = patients_as_released(frames[PATIENT_FACTS], facts, ctx)
    out = dict(frames)
    try:
        rows = histogram_rows(applied.df, crit)  # the one pass over patients; fires the rules' stats
        if not rows:
            return KAnonStage(crit, applied, None, out, policy, sources)
        try:
            solution = search(rows, crit, hierarchies)
        except HierarchyError as exc:
            raise InputError(f"table patients: {exc}") from None
        except NoSolutionError as exc:
            raise RefusedError(f"k-匿名化（規則34条5号）: 指定の k={crit.k}・抑制上限 {crit.suppression_limit:g} を"
                               f"満たす一般化がありません。リリースを中止します ({exc})") from None
        mapping = mapping_frame(applied.df, solution.recoding, np.array([r[-1] for r in rows], dtype=np.int64))
        released, pids = split_patients(applied.df, mapping, crit.qi)
        out[PATIENT_FACTS] = released
        stage = KAnonStage(crit, applied, solution, out, release_policy(policy, PATIENT_FACTS, released.columns),
                           sources, labels={q: released_labels(hierarchies[q], lv)
                                            for q, lv in zip(crit.qi, solution.summary["levels"], strict=True)})
    except BaseException:
        applied.df.unpersist()
        raise
    if stage.suppressed:
        stage.suppressed_pids = materialized(pids)
        for name, df in frames.items():
            table = policy.tables[name]
            if name != PATIENT_FACTS and table.output and "pid" in df.columns:
                out[name] = stage.mark(df)
    return stage
