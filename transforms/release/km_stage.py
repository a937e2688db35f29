"""The (k, k^m) stage of a release (issue 16; requirements 21-22, 規則34条5号), after k-anonymity.

The items of every released patient are counted with the patients' quasi-identifiers at the level
k-anonymity chose; the search (transforms/release/km.py) picks the generalization and the items to
suppress. Then every table is made to agree with it, so that no join undoes it:
- the rows of a patient's suppressed items are removed (counted as "km" in the writing pass);
- the item code column is released at the chosen level of its hierarchy;
- every month column of every released table (the time carriers: service and billing months,
  admission and start months, sample months) is released at the chosen period (its first day).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.cache import Cache
from transforms.kanon.hierarchy import Hierarchy
from transforms.policy import KmParams, Policy
from transforms.policy.catalog import PATIENT_FACTS
from transforms.release.kanon import recode_carrier, released_labels
from transforms.release.kanon_stage import KAnonStage
from transforms.release.km import KmCriteria, KmSolution, NoKmSolution, search, with_km_flags
from transforms.release.km_items import (
    TIME_LEVELS,
    UNKNOWN_CODE,
    ItemSpec,
    code_mapping,
    item_rows,
    period_label,
    period_start,
    qi_key,
    with_levels,
)
from transforms.release.risk import attacker_risk


@dataclass
class KmStage:
    solution: KmSolution
    mappings: dict[str, DataFrame]  # item name -> its code mapping (small)
    time_carriers: Mapping[str, Sequence[str]]  # source table -> its released month columns (output names)
    patients: DataFrame  # (pid, __q): the released patients and their class before this stage
    items: DataFrame  # (pid, __q, __spec, __code, __month, __rows): their items before this stage
    raised_from: list[int] | None = None  # the quasi-identifiers' levels k-anonymity chose, when raised here
    seconds: float = 0.0  # the search's wall time (the release's recoding runs as the tables are written)

    def risk_before(self) -> dict[str, Any]:
        """The attacker levels of transforms/release/risk.py on the items as they were before this stage."""
        items = self.items.select("pid", F.concat_ws("|", "__spec", "__code").alias("__code"),
                                  F.col("__month").cast("string").alias("__time"))
        return attacker_risk(self.patients, items, self.solution.crit.k, self.solution.crit.m)

    @property
    def time_level(self) -> str:
        return TIME_LEVELS[self.solution.node[-1]]

    def release(self, name: str, df: DataFrame, receipts: DataFrame) -> DataFrame:
        """Table `name` (source columns, with pid) with its suppressed items' rows flagged and its item
        code columns at the chosen level."""
        for spec, level in zip(self.solution.specs, self.solution.node[:-1], strict=True):
            if spec.table != name:
                continue
            cols = df.columns
            work = with_levels(df, spec, spec.code, self.mappings[spec.name]) if level else df
            if spec.time not in cols:
                work = work.join(receipts.select("receipt_key", F.col(spec.time).alias("__month")), "receipt_key", "left")
            else:
                work = work.withColumn("__month", F.col(spec.time))
            code = F.col(spec.code).cast("string")
            value = code if level == 0 else F.coalesce(F.col(f"__l{level}"), F.when(code.isNotNull(), F.lit(UNKNOWN_CODE)))
            item = F.concat_ws("|", F.lit(spec.name), value, period_label(F.trunc("__month", "month"), self.time_level))
            flagged = with_km_flags(work.withColumn(spec.code, value), self.solution.removed, item)
            keep = [*[c for c in cols if c != "__drop_row"], *[c for c in flagged.columns if c not in cols and c.startswith("__removed_by_")],
                    "__drop_row"]
            df = flagged.select(*keep)
        return df

    def recode_times(self, name: str, df: DataFrame) -> DataFrame:
        """The written frame of table `name` with its month columns at the chosen period."""
        if self.time_level == "month":
            return df
        carriers = [c for c in self.time_carriers.get(name, ()) if c in df.columns]
        return df.select(*[period_start(F.col(c), self.time_level).alias(c) if c in carriers else F.col(c)
                           for c in df.columns])

    def record(self, tables: Mapping[str, Any]) -> dict[str, Any]:
        """The `km` entry of anonymize.json."""
        s = self.solution
        rows = {t: int(st.get("rows_removed_by", {}).get("km", 0)) for t, st in tables.items()}
        per_item = {}
        for spec, level in zip(s.specs, s.node[:-1], strict=True):
            per_item[spec.name] = {"level": spec.code_levels[level], "levels": list(spec.code_levels),
                                   "time_level": self.time_level}
        return {**s.summary(), "items": per_item, "rows_removed": {t: n for t, n in rows.items() if n},
                "quasi_identifier_levels_raised_from": self.raised_from, "search_seconds": round(self.seconds, 2),
                "time_carriers": {t: list(c) for t, c in self.time_carriers.items() if c}}


def item_specs(km: KmParams, hierarchies: Mapping[str, Mapping[str, Mapping[str, str]]]) -> tuple[ItemSpec, ...]:
    """The policy's items with their hierarchies (file -> code -> row, read by the job)."""
    return tuple(ItemSpec(i.name, i.table, i.code, i.time, i.levels, hierarchies.get(i.file, {})) for i in km.items)


def km_stage(frames: Mapping[str, DataFrame], policy: Policy, km: KmParams, kanon: KAnonStage,
             receipts: DataFrame, qi_hierarchies: Mapping[str, Hierarchy],
             hierarchies: Mapping[str, Mapping[str, Mapping[str, str]]],
             time_carriers: Mapping[str, Sequence[str]], cache: Cache) -> KmStage:
    """Search the items' generalization for the patients k-anonymity released, with their quasi-
    identifiers at the levels it chose. When no generalization of the items stays within the
    suppression limit there, the quasi-identifiers are raised (the least ARX loss first) until one
    does, and k-anonymity's release is coarsened to those levels (Poulis et al. generalize the
    relational part too); NoKmSolution when even the coarsest fails."""
    specs = item_specs(km, hierarchies)
    crit = KmCriteria(int(policy.params.k), km.m, km.suppression_limit)
    qi = list(kanon.crit.qi)
    leaves = kanon.applied.df.join(kanon.frames[PATIENT_FACTS].select("pid"), "pid", "left_semi")
    raw = cache.keep(item_rows(frames, specs, receipts, leaves.select("pid", F.lit("").alias("__q"))).drop("__q"))
    started = time.perf_counter()
    error: NoKmSolution | None = None
    before: DataFrame | None = None  # the patients' classes at the levels k-anonymity chose
    for levels in _qi_nodes(qi, kanon.levels, qi_hierarchies):
        labels = {q: released_labels(qi_hierarchies[q], lv) for q, lv in zip(qi, levels, strict=True)}
        released = leaves.select("pid", *[recode_carrier(F.col(q), labels[q]).alias(q) for q in qi])
        patients = released.select("pid", qi_key(qi).alias("__q"))
        before = patients if before is None else before
        try:
            solution = search(raw.join(patients, "pid"), specs, crit, cache)
        except NoKmSolution as exc:
            error = error or exc
            continue
        kanon.coarsen(levels, qi_hierarchies)
        mappings = {s.name: cache.keep(code_mapping(s, patients)) for s in specs}
        carriers = {name: cols for name, cols in time_carriers.items() if name != PATIENT_FACTS}
        return KmStage(solution, mappings, carriers, before, raw.join(before, "pid"), raised_from=kanon.raised_from,
                       seconds=time.perf_counter() - started)
    assert error is not None
    raise error


def _qi_nodes(qi: Sequence[str], chosen: Sequence[int], hierarchies: Mapping[str, Hierarchy]) -> list[list[int]]:
    """Every combination of levels at least as general as `chosen`, by ARX loss (the mean over the
    quasi-identifiers of the mean share of leaves a value stands for), then by the sum of levels."""
    ranges = [range(c, hierarchies[q].depth) for q, c in zip(qi, chosen, strict=True)]

    def loss(levels: Sequence[int]) -> float:
        return sum(float(hierarchies[q].share(lv).mean()) for q, lv in zip(qi, levels, strict=True)) / max(len(qi), 1)

    return sorted((list(n) for n in itertools.product(*ranges)), key=lambda n: (loss(n), sum(n), n))
