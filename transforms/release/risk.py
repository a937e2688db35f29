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


def _shares(keys: DataFrame, k: int, total: int) -> dict[str, float]:
    """`keys`: one row per patient with `__key`: shares of patients alone and in classes of < k."""
    sizes = keys.groupBy("__key").agg(F.count(F.lit(1)).alias("n"))
    row = sizes.agg(F.sum(F.when(F.col("n") == 1, F.col("n"))).alias("unique"),
                    F.sum(F.when(F.col("n") < k, F.col("n"))).alias("below_k")).first()
    unique = int(row["unique"] or 0) if row is not None else 0
    below = int(row["below_k"] or 0) if row is not None else 0
    return {"unique_share": unique / total if total else 0.0, "below_k_share": below / total if total else 0.0}


def attacker_risk(patients: DataFrame, items: DataFrame, k: int, m: int) -> dict[str, Any]:
    """`patients`: `(pid, __q)` of every patient of the release; `items`: `(pid, __code, __time)` as
    the release shows them (strings). A handful of aggregations; nothing record-level leaves Spark."""
    total = patients.count()
    out: dict[str, Any] = {"patients": total, "k": k, "m": m}
    distinct = items.select("pid", "__code", "__time").distinct()
    out["qi"] = _shares(patients.select(F.col("__q").alias("__key")), k, total)
    for level, col in (("months", "__time"), ("codes", "__code")):
        sets = distinct.groupBy("pid").agg(F.array_sort(F.collect_set(col)).alias("__set"))
        keyed = patients.join(sets, "pid", "left").select(
            F.concat_ws("\u001e", "__q", F.concat_ws("\u001f", F.coalesce(F.col("__set"), F.array().cast("array<string>")))).alias("__key"))
        out[level] = _shares(keyed, k, total)
    held = distinct.join(patients, "pid").select("pid", "__q", F.concat_ws("|", "__code", "__time").alias("__item"))
    sets = held.select("pid", "__q", F.array("__item").alias("__set"), F.col("__item").alias("__last"))
    exposed: DataFrame | None = None  # patients singled out by some combination of at most j items
    for j in range(1, m + 1):
        if j > 1:
            nxt = held.select("pid", "__q", F.col("__item").alias("__next"))
            sets = sets.join(nxt, ["pid", "__q"]).where(F.col("__next") > F.col("__last")).select(
                "pid", "__q", F.concat("__set", F.array("__next")).alias("__set"), F.col("__next").alias("__last"))
        support = sets.groupBy("__q", "__set").agg(F.count(F.lit(1)).alias("n"))
        found = sets.join(support.where(F.col("n") < k), ["__q", "__set"], "left_semi").select("pid")
        exposed = found if exposed is None else exposed.unionByName(found)
        n = exposed.distinct().count()
        out[f"items_{j}"] = {"singled_out_share": n / total if total else 0.0}
    return out
