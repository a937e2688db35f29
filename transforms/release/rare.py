"""Rare codes (特異な記述, requirement 18): no code in a release is held by fewer than T patients.

A code held by fewer than `threshold` distinct patients climbs its hierarchy (e.g. 傷病名コード ->
ICD-10 -> block -> chapter) until the value it reaches is held by at least `threshold` patients
among the records that reach it; what never gets there is suppressed (the cell, or the whole
record). Counting is by distinct patients, not rows (DESIGN.md decision 4). Optionally the NDB
sampling-dataset rule also applies: codes are masked rarest-first until they cover
`cumulative_share` of all occurrences (practice.md [W1]), and masked codes climb the same way.

The plan is computed on small summaries (per-code counts, per-level counts); the record-level
(code, pid) pairs of rare codes stay in Spark.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.cache import NO_CACHE, Cache
from transforms.local import local_frame

SUPPRESSED = "suppressed"
ORIGINAL = "code"
DROP_ROW = "__drop_row"  # a row flagged not to be released (apply.DROP_ROW; defined here, apply imports rare)


@dataclass(frozen=True)
class RarePlan:
    """Where each rare code goes: {code: (value or None, level name or "suppressed")}."""

    moves: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    def mapping(self, df: DataFrame) -> DataFrame:
        rows = [(c, v, lvl) for c, (v, lvl) in sorted(self.moves.items())]
        schema = "__code string, __value string, __level string"
        return local_frame(df.sparkSession, rows, schema)


def masked_by_share(counts: Mapping[str, int], share: float) -> set[str]:
    """NDB-S: codes sorted rarest first are masked while their cumulative rows <= share * total."""
    total = sum(counts.values())
    masked, running = set(), 0
    for code, n in sorted(counts.items(), key=lambda kv: (kv[1], kv[0])):
        running += n
        if running > share * total:
            break
        masked.add(code)
    return masked


@dataclass(frozen=True)
class RareRequest:
    """One rare rule to plan: the rows that will be released and the rule's parameters."""

    df: DataFrame
    column: str
    threshold: int
    hierarchy: Mapping[str, Mapping[str, str]] | None = None
    levels: Sequence[str] = ()
    cumulative_share: float | None = None


def plan_rare(
    df: DataFrame,
    column: str,
    threshold: int,
    pid: str = "pid",
    hierarchy: Mapping[str, Mapping[str, str]] | None = None,
    levels: Sequence[str] = (),
    cumulative_share: float | None = None,
) -> RarePlan:
    """Decide the fate of every rare code of `column`: one pass over the table builds the distinct
    (code, patient) pairs with their row counts; the per-code and per-level counts come from those."""
    return plan_rare_many({"": RareRequest(df, column, threshold, hierarchy, levels, cumulative_share)}, pid)[""]


SAMPLE = 8  # plan_rare_many: one patient in SAMPLE is counted for the codes that are plainly common
ROWS_PER_PATIENT = 16  # ... plainly common: at least SAMPLE * ROWS_PER_PATIENT * threshold rows


def plan_rare_many(requests: Mapping[str, RareRequest], pid: str = "pid",
                   released: Callable[[DataFrame], DataFrame] | None = None, sample: int = SAMPLE,
                   rows_per_patient: int = ROWS_PER_PATIENT, cache: Cache = NO_CACHE) -> dict[str, RarePlan]:
    """Plans for several rare rules (several tables) from one Spark query: the pairs of every rule
    are tagged and unioned, so the scans run as one job instead of one query per table.

    `released`: the requests' frames do not carry `pid` yet, only the code column and the columns
    `released` needs to find the patient (the same names in every frame). Their union goes through
    `released` once, which adds `pid` and flags (DROP_ROW) the rows that will not be released: one
    join of the pid map for all tables. (With each frame joined on its own, Spark built the map's
    broadcast once per union branch: no exchange reuse.)

    Counting every distinct (code, patient) pair is most of the cost, and most codes are held by
    thousands of patients. With `sample` > 1, a first cheap pass counts rows per code (no patient
    needed); codes with at least `sample` * `rows_per_patient` * threshold rows are counted over the patients whose
    pid hash falls in one of `sample` buckets only. Those patients are a subset of all, so a code
    held by at least `threshold` of them is held by at least `threshold` in all: it is not rare, and
    nothing else about it is needed. Every other code is counted exactly (every pair), and a code the
    subset leaves below the threshold is counted again exactly. Rows per code are always exact (the
    cumulative-share rule reads them). The plans are the same as with `sample=1`."""
    if not requests:
        return {}
    if released is None:
        rows = reduce(DataFrame.unionByName, [
            r.df.select(F.lit(tag).alias("__tag"), F.col(r.column).cast("string").alias("__rare_code"), F.col(pid))
            .where(F.col("__rare_code").isNotNull()) for tag, r in requests.items()])
        codes, pick = rows, lambda df: df
    else:
        codes = reduce(DataFrame.unionByName, [
            r.df.select(F.lit(tag).alias("__tag"), F.col(r.column).cast("string").alias("__rare_code"),
                        *[c for c in r.df.columns if c != r.column]).where(F.col("__rare_code").isNotNull())
            for tag, r in requests.items()])

        def pick(df: DataFrame) -> DataFrame:
            out = released(df)
            return out.where(~F.coalesce(F.col(DROP_ROW), F.lit(False))) if DROP_ROW in out.columns else out

        rows = pick(codes)
    spark = codes.sparkSession
    exact = None  # (tag, code) of the codes counted over every patient; None: all of them
    if sample > 1:
        least = {tag: r.threshold * sample * rows_per_patient for tag, r in requests.items()}
        counts = codes.groupBy("__tag", "__rare_code").count().collect()  # one row per code: a summary
        exact = [(r["__tag"], r["__rare_code"]) for r in counts if r["count"] < least[r["__tag"]]]
    pairs = cache.keep(_pairs(rows, pid, None if exact is None else local_frame(spark, exact, "__tag string, __rare_code string"),
                              sample))
    recount: DataFrame | None = None
    try:
        stats = {(r["__tag"], r["__code"]): r for r in pairs.groupBy("__tag", "__code").agg(
            F.sum("__n").alias("rows"), F.count("__pid").alias("patients"), F.min("__exact").alias("exact")).collect()}
        low = [k for k, r in stats.items() if not r["exact"] and r["patients"] < requests[k[0]].threshold]
        if low:  # common by rows, yet the subset holds too few patients: count them exactly
            chosen = local_frame(spark, low, "__tag string, __rare_code string")
            recount = _pairs(pick(codes.join(F.broadcast(chosen), ["__tag", "__rare_code"], "left_semi")), pid, None, 1)
            recount = cache.keep(recount)
            stats.update({(r["__tag"], r["__code"]): r for r in recount.groupBy("__tag", "__code").agg(
                F.sum("__n").alias("rows"), F.count("__pid").alias("patients"), F.min("__exact").alias("exact")).collect()})
            exact_pairs = pairs.where(F.col("__exact")).unionByName(recount)
        else:
            exact_pairs = pairs.where(F.col("__exact"))
        by_tag: dict[str, list[Any]] = {}
        for (tag, _), r in stats.items():
            by_tag.setdefault(tag, []).append(r)
        return {tag: _plan(exact_pairs.where(F.col("__tag") == tag).drop("__tag", "__exact"), by_tag.get(tag, []), req)
                for tag, req in requests.items()}
    finally:
        cache.free(pairs)
        if recount is not None:
            cache.free(recount)


def _pairs(rows: DataFrame, pid: str, exact: DataFrame | None, sample: int) -> DataFrame:
    """`__tag, __code, __pid, __n, __exact`: rows per (code, patient) where the code is in `exact`
    (every code when None), else per (code, patient of the sampled subset), the other patients'
    rows under a null `__pid` (they count as rows, not as patients).

    Patients are told apart by a 64-bit hash of their pid (8 bytes shuffled instead of the hex
    characters). Two patients sharing a hash (about 3e-8 at a million patients) would count as one:
    a code would look rarer than it is and be generalized sooner, never kept wrongly."""
    if exact is not None:
        rows = rows.join(F.broadcast(exact.withColumn("__exact", F.lit(True))), ["__tag", "__rare_code"], "left")
        is_exact = F.coalesce(F.col("__exact"), F.lit(False))
    else:
        is_exact = F.lit(True)
    hashed = F.xxhash64(F.col(pid))
    keep = is_exact | (F.pmod(hashed, F.lit(sample)) == 0) if sample > 1 else is_exact
    return (rows.select("__tag", "__rare_code", F.when(F.col(pid).isNotNull() & keep, hashed).alias("__pid"), is_exact.alias("__exact"))
            .groupBy("__tag", F.col("__rare_code").alias("__code"), "__pid", "__exact")
            .agg(F.count(F.lit(1)).alias("__n")))


def _plan(pairs: DataFrame, stats: list[Any], req: RareRequest) -> RarePlan:
    rows = {r["__code"]: int(r["rows"]) for r in stats}
    patients = {r["__code"]: int(r["patients"]) for r in stats}
    rare = {c for c, n in patients.items() if n < req.threshold}
    if req.cumulative_share:
        rare |= masked_by_share(rows, req.cumulative_share)
    moves: dict[str, tuple[str | None, str]] = {}
    remaining = set(rare)
    if rare and req.levels and req.hierarchy is not None:
        rare_df = local_frame(pairs.sparkSession, [(c,) for c in sorted(rare)], "__code string")
        pairs_of_rare = pairs.join(F.broadcast(rare_df), "__code", "inner").select("__code", "__pid")
        for level in req.levels:
            moves.update(_climb(pairs_of_rare, remaining, req.hierarchy, level, req.threshold))
            remaining -= set(moves)
            if not remaining:
                break
    for c in remaining:
        moves[c] = (None, SUPPRESSED)
    generalized: dict[str, int] = {}
    for _, lvl in moves.values():
        generalized[lvl] = generalized.get(lvl, 0) + 1
    suppressed = generalized.pop(SUPPRESSED, 0)
    summary = {"codes": len(rows), "rare_codes": len(rare), "threshold": req.threshold}
    return RarePlan(moves, {**summary, "generalized": generalized, "suppressed_codes": suppressed})


def _climb(
    pairs: DataFrame, remaining: set[str], hierarchy: Mapping[str, Mapping[str, str]], level: str, threshold: int
) -> dict[str, tuple[str | None, str]]:
    """Codes that reach `threshold` patients at `level`, counted over the codes still climbing."""
    assign = [(c, hierarchy[c][level]) for c in sorted(remaining) if hierarchy.get(c, {}).get(level)]
    if not assign:
        return {}
    spark = pairs.sparkSession
    step = local_frame(spark, assign, "__code string, __value string")
    counts = (
        pairs.join(F.broadcast(step), "__code", "inner")
        .groupBy("__value")
        .agg(F.countDistinct("__pid").alias("patients"))
        .collect()
    )
    enough = {r["__value"] for r in counts if int(r["patients"]) >= threshold}
    return {c: (v, level) for c, v in assign if v in enough}


def apply_rare(df: DataFrame, column: str, plan: RarePlan, out: str, level_out: str) -> DataFrame:
    """Add `out` (the code, its generalized value, or null) and `level_out` ("code", the level
    reached, or "suppressed"; null for a null code). Removing the records of suppressed codes
    (action "record") is the caller's step, so that the removed rows are counted."""
    src = F.col(column).cast("string")
    mapped = df.join(F.broadcast(plan.mapping(df)), src == F.col("__code"), "left")
    level = F.col("__level")
    return (
        mapped.withColumn(level_out, F.when(src.isNull(), None).otherwise(F.coalesce(level, F.lit(ORIGINAL))))
        .withColumn(out, F.when(level.isNull(), src).otherwise(F.col("__value")))
        .drop("__code", "__value", "__level")
    )
