"""Re-identification risk of a release against attackers who know more than the quasi-identifiers
(issue 16 item 4; requirements 21-22): measured on small aggregates, before and after anonymization.

Levels of knowledge (each adds to the one before):
- `qi`: the quasi-identifiers (age band, sex, area at the released level);
- `months`: the set of months the patient was treated in;
- `codes`: the set of the patient's diagnosis codes;
- `items_j` (j = 1..m): any j or fewer of the patient's (code, month) items.
For the first three, the share of patients who are unique (a class of one) and the share in a class
of fewer than k; for `items_j`, the share of patients for whom some combination of at most j of their
items, with their quasi-identifiers, is held by fewer than k patients (singled out).
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

LEVELS = ("qi", "months", "codes")


def attacker_risk(patients: DataFrame, items: DataFrame, k: int, m: int) -> dict[str, Any]:
    """`patients`: `(pid, __q)` of every patient of the release; `items`: `(pid, __code, __time)` as
    the release shows them (strings). One Spark action: every level's class sizes and the items' first
    singling-out combination are aggregated into at most 3 + m rows; nothing record-level leaves Spark."""
    distinct = items.select("pid", "__code", "__time").distinct()
    keyed = [patients.select(F.lit("qi").alias("__level"), F.col("__q").alias("__key"))]
    for level, col in (("months", "__time"), ("codes", "__code")):
        sets = distinct.groupBy("pid").agg(F.array_sort(F.collect_set(col)).alias("__set"))
        keyed.append(patients.join(sets, "pid", "left").select(F.lit(level).alias("__level"), F.concat_ws(
            "\u001e", "__q", F.concat_ws("\u001f", F.coalesce(F.col("__set"), F.array().cast("array<string>")))).alias("__key")))
    classes = _union(keyed).groupBy("__level", "__key").agg(F.count(F.lit(1)).alias("n"))
    shares = classes.groupBy("__level").agg(
        F.sum("n").alias("patients"), F.sum(F.when(F.col("n") == 1, F.col("n"))).alias("unique"),
        F.sum(F.when(F.col("n") < k, F.col("n"))).alias("below_k"), F.lit(None).cast("int").alias("j"))
    # each patient's smallest j at which some combination of j of their items is held by fewer than k
    first = _union(_singled_out(distinct, patients, k, m)).groupBy("pid").agg(F.min("j").alias("j"))
    exposed = first.groupBy("j").agg(F.count(F.lit(1)).alias("patients")).select(
        F.lit("items").alias("__level"), "patients", F.lit(None).cast("long").alias("unique"),
        F.lit(None).cast("long").alias("below_k"), "j")
    rows = shares.unionByName(exposed).collect()  # at most 3 + m rows of counts
    total = next((int(r["patients"]) for r in rows if r["__level"] == "qi"), 0)

    def share(n: Any) -> float:
        return int(n or 0) / total if total else 0.0

    out: dict[str, Any] = {"patients": total, "k": k, "m": m}
    for level in LEVELS:
        row = next((r for r in rows if r["__level"] == level), None)
        out[level] = {"unique_share": share(row["unique"] if row else 0), "below_k_share": share(row["below_k"] if row else 0)}
    firsts = {int(r["j"]): int(r["patients"]) for r in rows if r["__level"] == "items"}
    for j in range(1, m + 1):
        out[f"items_{j}"] = {"singled_out_share": share(sum(n for i, n in firsts.items() if i <= j))}
    return out


def _singled_out(distinct: DataFrame, patients: DataFrame, k: int, m: int) -> list[DataFrame]:
    """`(pid, j)`: the patients some combination of exactly j of their items singles out, j = 1..m."""
    held = distinct.join(patients, "pid").select("pid", "__q", F.concat_ws("|", "__code", "__time").alias("__item"))
    sets = held.select("pid", "__q", F.array("__item").alias("__set"), F.col("__item").alias("__last"))
    found = []
    for j in range(1, m + 1):
        if j > 1:
            nxt = held.select("pid", "__q", F.col("__item").alias("__next"))
            sets = sets.join(nxt, ["pid", "__q"]).where(F.col("__next") > F.col("__last")).select(
                "pid", "__q", F.concat("__set", F.array("__next")).alias("__set"), F.col("__next").alias("__last"))
        support = sets.groupBy("__q", "__set").agg(F.count(F.lit(1)).alias("n"))
        found.append(sets.join(support.where(F.col("n") < k), ["__q", "__set"], "left_semi").select("pid", F.lit(j).alias("j")))
    return found


def _union(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df)
    return out
