"""k-anonymity of the release table `patients` inside `tokumei anonymize` (issue 5 item 3).

Requirements 21-22 (legal_requirements.md): the quasi-identifiers are patient-level columns of the
released `patients` table (`params.quasi_identifiers`, default age_band, sex, area). The table is
built by the policy's rules once and cached (one row per patient); one aggregation gives the
histogram, the optimal full-domain generalization is searched on it in the driver (the same search
as `tokumei kanon`), and the recoding is a broadcast join of a mapping with one row per distinct
combination. Patients of classes that still fail k (or l) are suppressed: their row in `patients`
and every row carrying their pid in the other tables are removed, and counted per table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms.cache import NO_CACHE, Cache
from transforms.kanon.hierarchy import SUPPRESSED, Hierarchy
from transforms.kanon.histogram import COUNT, col, encode_histogram, qi_histogram
from transforms.kanon.recode import KEY, Recoding, qi_key
from transforms.kanon.solve import Solution, solve
from transforms.local import local_frame
from transforms.policy import Policy, Rule, TablePolicy
from transforms.release.apply import DROP_ROW, REMOVED_BY, Applied, Context, apply_table
from transforms.release.qi_hierarchies import UNKNOWN

FLAG = "_kanon_suppressed"
_OUT = "_kanon_out_{}"
BROADCAST_PIDS = 2_000_000  # removed patients' pids are broadcast to every table's join up to this many


@dataclass(frozen=True)
class Criteria:
    table: str  # the release table, "patients"
    qi: tuple[str, ...]
    k: int
    suppression_limit: float
    ell: int | None = None  # distinct l-diversity of `sensitive` where the policy configures it
    sensitive: str | None = None


def criteria(policy: Policy) -> Criteria:
    p = policy.params
    ell, sensitive = getattr(p, "l", None), getattr(p, "sensitive", None)
    return Criteria("patients", tuple(p.quasi_identifiers), int(p.k), float(p.suppression_limit),
                    int(ell) if ell and sensitive else None, sensitive if ell else None)


def patients_as_released(facts: DataFrame, table: TablePolicy, ctx: Context, cache: Cache = NO_CACHE) -> Applied:
    """The policy's rules on the patient facts, kept in `cache`: the input of the histogram and the release."""
    applied = apply_table(facts, table, ctx, F.col("pid"))
    return replace(applied, df=cache.keep(applied.df))


def _known(df: DataFrame, names: Sequence[str]) -> DataFrame:
    """Null quasi-identifiers as the hierarchy leaf `` so that they form a class of their own."""
    return df.select(*[F.coalesce(col(c).cast("string"), F.lit(UNKNOWN)).alias(c) if c in names else col(c)
                       for c in df.columns])


def histogram_rows(patients: DataFrame, crit: Criteria) -> list[tuple[Any, ...]]:
    """One small collect: (qi..., [sensitive], count, key hash) per finest combination."""
    keys = [*crit.qi, *([crit.sensitive] if crit.sensitive else [])]
    hist = qi_histogram(_known(patients, keys), crit.qi, crit.sensitive).withColumn(KEY, qi_key(crit.qi))
    return [tuple(r[c] for c in keys) + (int(r[COUNT]), int(r[KEY])) for r in hist.collect()]


def search(rows: Sequence[tuple[Any, ...]], crit: Criteria, hierarchies: Mapping[str, Hierarchy]) -> Solution:
    """The optimal generalization (ARX's Loss); HierarchyError / NoSolutionError pass through."""
    hist = encode_histogram([r[:-1] for r in rows], crit.qi, hierarchies, crit.sensitive)
    return solve(hist, hierarchies, crit.k, crit.suppression_limit, "loss", crit.ell, "lattice")


def mapping_frame(patients: DataFrame, recoding: Recoding, key_hash: np.ndarray) -> DataFrame:
    """Finest combination -> released values and the suppressed flag (one row per combination)."""
    outs = [T.StructField(_OUT.format(j), T.StringType()) for j in range(len(recoding.qi))]
    flag = T.StructField(FLAG, T.BooleanType())
    released = [[None if v == UNKNOWN else str(v) for v in vals] for vals in recoding.released]
    supp = [bool(s) for s in recoding.suppressed]
    keys = np.asarray(key_hash, dtype=np.int64)[recoding.source_rows]
    if len(np.unique(keys)) == len(keys):
        rows = [(int(h), *vals, s) for h, *vals, s in zip(keys, *released, supp, strict=True)]
        return local_frame(patients.sparkSession, rows, T.StructType([T.StructField(KEY, T.LongType()), *outs, flag]))
    fields = [T.StructField(q, T.StringType()) for q in recoding.qi]
    finest = [[str(v) for v in vals] for vals in recoding.finest]
    rows = [(*f, *vals, s) for f, vals, s in zip(zip(*finest, strict=True), zip(*released, strict=True), supp, strict=True)]
    return local_frame(patients.sparkSession, rows, T.StructType([*fields, *outs, flag]))


def split_patients(patients: DataFrame, mapping: DataFrame, qi: Sequence[str]) -> tuple[DataFrame, DataFrame]:
    """(released patients with generalized quasi-identifiers, pids of the suppressed patients)."""
    known = _known(patients, qi)
    on: Any = KEY if KEY in mapping.columns else list(qi)
    if KEY in mapping.columns:
        known = known.withColumn(KEY, qi_key(qi))
    joined = known.join(F.broadcast(mapping), on=on, how="left")
    position = {q: j for j, q in enumerate(qi)}
    released = joined.where(~F.col(FLAG)).select(
        *[col(_OUT.format(position[c])).alias(c) if c in position else col(c) for c in patients.columns])
    return released, joined.where(F.col(FLAG)).select("pid")


def mark_suppressed(df: DataFrame, pids: DataFrame, broadcast: bool, reason: str = "kanon") -> DataFrame:
    """Flag the rows of the patients in `pids` for removal (DROP_ROW), with the reason column
    `__removed_by_<reason>` that apply_table counts in the pass that writes the table."""
    flag = f"{REMOVED_BY}{reason}"
    right = pids.select("pid", F.lit(True).alias(flag))
    joined = df.join(F.broadcast(right) if broadcast else right, on="pid", how="left")
    hit = F.coalesce(F.col(flag), F.lit(False))
    before = F.coalesce(F.col(DROP_ROW), F.lit(False)) if DROP_ROW in df.columns else F.lit(False)
    return joined.select(*[c for c in df.columns if c != DROP_ROW], (before | hit).alias(DROP_ROW), hit.alias(flag))


def released_labels(hierarchy: Hierarchy, level: int) -> dict[str, str | None]:
    """Leaf -> the value `patients` releases for it at `level` (the unknown leaf stays null below `*`)."""
    out: dict[str, str | None] = {}
    for i, row in enumerate(hierarchy.rows):
        label = hierarchy.label(level, i)
        out[row[0]] = None if label == UNKNOWN else label
    return out


def recode_carrier(c: Column, labels: Mapping[str, str | None]) -> Column:
    """A column that carries a quasi-identifier, at the level `patients` is released with (req 21).

    The recoding is a literal map (hierarchies of patient attributes are small); a value that is not
    a leaf of the hierarchy is released as `*`, never as itself."""
    pairs = [x for leaf, label in labels.items() if leaf != UNKNOWN for x in (F.lit(leaf), F.lit(label))]
    s = c.cast("string")
    unknown = labels.get(UNKNOWN, SUPPRESSED)
    known = F.coalesce(F.create_map(*pairs)[s], F.lit(SUPPRESSED)) if pairs else F.lit(SUPPRESSED)
    return F.when(s.isNull() | (s == UNKNOWN), F.lit(unknown).cast("string")).otherwise(known)


def recode_carriers(df: DataFrame, carriers: Mapping[str, Mapping[str, str | None]], name: str
                    ) -> tuple[DataFrame, Observation]:
    """Recode the carrier columns of one output table; the observation counts changed cells per column
    in the pass that writes the table."""
    exprs = {c: recode_carrier(F.col(c), labels) for c, labels in carriers.items()}
    obs = Observation(f"kanon_recoded_{name}")
    recoded = df.select(*df.columns, *[e.alias(f"__rc_{c}") for c, e in exprs.items()])
    recoded = recoded.observe(obs, *[F.sum((~F.col(c).cast("string").eqNullSafe(F.col(f"__rc_{c}"))).cast("long")).alias(c)
                                      for c in exprs])
    return recoded.select(*[F.col(f"__rc_{c}").alias(c) if c in exprs else F.col(c) for c in df.columns]), obs


def release_table(source: TablePolicy, columns: Sequence[str]) -> TablePolicy:
    """The write-side rules of the already anonymized `patients` frame: every column as it is."""
    keep = {c: Rule("keep", {}, c) for c in columns if c != "pid"}
    return TablePolicy(f"{source.name}_kanon", source.output, keep, dict(source.derived))


def release_policy(policy: Policy, facts: str, columns: Sequence[str]) -> Policy:
    return replace(policy, tables={**policy.tables, facts: release_table(policy.tables[facts], columns)})


def metrics(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Issue 5 item 4: risk before and after, utility of the chosen generalization."""
    before, after = summary["risk_before"], summary["risk_after"]
    return {
        "patients_before": summary["records"],
        "patients_released": summary["records"] - summary["suppressed"],
        "prosecutor_risk_max_before": before["prosecutor_risk_max"],
        "prosecutor_risk_mean_before": before["prosecutor_risk_mean"],
        "prosecutor_risk_max_after": after["prosecutor_risk_max"],
        "prosecutor_risk_mean_after": after["prosecutor_risk_mean"],
        "share_below_k_before": before["share_below_k"],
        "sample_uniques_before": before["sample_uniques"],
        "sample_uniques_after": after["sample_uniques"],
        "loss": summary["loss"],
        "loss_per_attribute": summary["loss_per_attribute"],
        "discernibility": summary["discernibility"],
        "classes": summary["classes"],
        "min_class_size": summary["min_class_size"],
        "average_class_size": summary["average_class_size"],
        "suppressed_share": summary["suppressed_share"],
        "search": summary["search"],
    }
