"""(k, k^m)-anonymity over the items of the claims (Poulis et al., ECML PKDD 2013; Terrovitis et al.,
VLDB 2008), counted on Spark.

The guarantee: for every released patient, every combination of at most m of their items, together
with their quasi-identifiers at the released level, is held by at least k patients. The items are
recoded globally (one level per code hierarchy and one for time: transforms/release/km_items.py);
what still violates after recoding is suppressed item by item, never whole patients:

1. while some item (size 1) is held by fewer than k patients of a class, it is removed from those
   patients (fewer than k of them);
2. else, for the smallest size j <= m with a violating combination, each patient holding it loses the
   combination's item that the fewest patients of the class hold (ties: the greatest item); then 1 again.

Removing an item never creates a violation among the combinations that do not contain it, so the
loop ends; each round is a few Spark aggregations, and combinations of size j are only formed once
every smaller combination holds k (Apriori).

The generalization is chosen to minimise information loss, measured as the Normalized Certainty
Penalty (NCP, Xu et al. 2006) per item row: a code value standing for n of the N codes of its
hierarchy costs (n - 1) / (N - 1), a period of p months in a span of M months (p - 1) / (M - 1), a
row costs the mean over its code and time, and a suppressed row costs 1. Levels are searched in
order of the loss their recoding alone costs, which bounds any total: the search stops as soon as
no untried level can beat the best total found. Refused (NoKmSolution) when no level stays within
the suppression limit (a share of item rows).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.cache import NO_CACHE, Cache
from transforms.release.km_items import (
    MONTHS_IN,
    TIME_LEVELS,
    UNKNOWN_CODE,
    ItemSpec,
    code_mapping,
    period_label,
)

SEP = "|"  # item = spec | code value | period label
MAX_ROUNDS = 50


class NoKmSolution(ValueError):
    """No generalization meets (k, k^m) within the suppression limit."""


@dataclass(frozen=True)
class KmCriteria:
    k: int
    m: int
    suppression_limit: float  # share of item rows that may be suppressed


Node = tuple[int, ...]  # a code level per item spec, then the time level


@dataclass
class Evaluation:
    node: Node
    feasible: bool
    rows_suppressed: int
    loss: Fraction  # mean NCP per item row, suppressed rows at 1
    rounds: int
    removed: DataFrame | None = None  # (pid, __q, __item, __rows) removed, when feasible


@dataclass
class KmSolution:
    specs: tuple[ItemSpec, ...]
    crit: KmCriteria
    node: Node
    rows_total: int
    rows_suppressed: int
    loss: Fraction
    generalization_loss: Fraction  # the recoding's loss alone, before suppression
    removed: DataFrame  # (pid, __q, __item, __rows): the items each patient lost
    tried: list[dict[str, Any]] = field(default_factory=list)

    def levels(self) -> dict[str, str]:
        """Item column -> its released level; and `time` -> the time level."""
        out = {s.name: s.code_levels[lv] for s, lv in zip(self.specs, self.node[:-1], strict=True)}
        return {**out, "time": TIME_LEVELS[self.node[-1]]}

    def summary(self) -> dict[str, Any]:
        return {
            "k": self.crit.k, "m": self.crit.m, "suppression_limit": self.crit.suppression_limit,
            "levels": self.levels(), "item_rows": self.rows_total, "item_rows_suppressed": self.rows_suppressed,
            "suppressed_share": float(self.rows_suppressed / self.rows_total) if self.rows_total else 0.0,
            "loss_ncp": float(self.loss), "generalization_loss_ncp": float(self.generalization_loss),
            "search": self.tried,
        }


class ItemLoss:
    """NCP of item values, from the code hierarchies and the span of months in the data."""

    def __init__(self, specs: Sequence[ItemSpec], months: int) -> None:
        self.specs = {s.name: s for s in specs}
        self.leaves = {s.name: [s.leaves(lv) for lv in range(len(s.code_levels))] for s in specs}
        self.all = {s.name: max(len(s.hierarchy), 2) for s in specs}
        self.months = max(months, 2)

    def code(self, spec: str, value: str, level: int) -> Fraction:
        if level == 0:
            return Fraction(0)
        n = self.leaves[spec][level].get(value, 1)
        return Fraction(n - 1, self.all[spec] - 1)

    def time(self, level: int) -> Fraction:
        return Fraction(min(MONTHS_IN[TIME_LEVELS[level]], self.months) - 1, self.months - 1)

    def value(self, spec: str, code: str, level: int) -> str:
        """The value of a leaf `code` at `level` of its spec's hierarchy."""
        if level == 0:
            return code
        row = self.specs[spec].hierarchy.get(code)
        return (row.get(self.specs[spec].levels[level - 1]) if row else None) or UNKNOWN_CODE

    def row(self, spec: str, code_value: str, code_level: int, time_level: int) -> Fraction:
        return (self.code(spec, code_value, code_level) + self.time(time_level)) / 2


def base_items(items: DataFrame, specs: Sequence[ItemSpec], cache: Cache = NO_CACHE) -> DataFrame:
    """`items` (km_items.item_rows) with every code's value at every level of its hierarchy (`__l1..`), kept."""
    width = max(len(s.levels) for s in specs)
    parts = []
    for spec in specs:
        mapping = code_mapping(spec, items)
        mine = items.where(F.col("__spec") == spec.name)
        joined = mine.join(F.broadcast(mapping), mine["__code"] == mapping["__code"], "left").drop(mapping["__code"])
        levels = [F.coalesce(F.col(f"__l{i}"), F.lit(UNKNOWN_CODE)).alias(f"__l{i}") for i in range(1, len(spec.levels) + 1)]
        pad = [F.lit(None).cast("string").alias(f"__l{i}") for i in range(len(spec.levels) + 1, width + 1)]
        parts.append(joined.select("pid", "__q", "__spec", "__code", "__month", "__rows", *levels, *pad))
    return cache.keep(reduce(DataFrame.unionByName, parts))


def item_at(specs: Sequence[ItemSpec], node: Node) -> Column:
    """The item string of a base row at `node`: spec | code value at its level | period label."""
    time = period_label(F.col("__month"), TIME_LEVELS[node[-1]])
    code: Column = F.lit(None).cast("string")
    for spec, level in zip(specs, node[:-1], strict=True):
        value = F.col("__code") if level == 0 else F.col(f"__l{level}")
        code = F.when(F.col("__spec") == spec.name, value).otherwise(code)
    return F.concat_ws(SEP, F.col("__spec"), code, time)


def recode(base: DataFrame, specs: Sequence[ItemSpec], node: Node) -> DataFrame:
    """`(pid, __q, __item, __rows)`: each patient's distinct items at `node`."""
    return (base.select("pid", "__q", item_at(specs, node).alias("__item"), "__rows")
            .groupBy("pid", "__q", "__item").agg(F.sum("__rows").alias("__rows")))


def _drops(items: DataFrame, crit: KmCriteria, size: int) -> DataFrame:
    """`(pid, __q, __item)`: what the violations of combinations of `size` items take away (see the
    module docstring; lazy). Size 1: the items held by fewer than k patients of the class. Larger: of
    each violating combination, its item the fewest patients of the class hold."""
    singles = items.groupBy("__q", "__item").agg(F.count(F.lit(1)).alias("__n"))
    if size == 1:
        bad = singles.where(F.col("__n") < crit.k).select("__q", "__item")
        return items.join(bad, ["__q", "__item"], "left_semi").select("pid", "__q", "__item")
    sets = items.select("pid", "__q", F.col("__item").alias("__i1"))
    for i in range(2, size + 1):
        nxt = items.select("pid", "__q", F.col("__item").alias(f"__i{i}"))
        sets = sets.join(nxt, ["pid", "__q"], "inner").where(F.col(f"__i{i}") > F.col(f"__i{i - 1}"))
    cols = [f"__i{i}" for i in range(1, size + 1)]
    support = sets.groupBy("__q", *cols).agg(F.count(F.lit(1)).alias("__n"))
    held = sets.join(support.where(F.col("__n") < crit.k).select("__q", *cols), ["__q", *cols], "left_semi")
    for i in range(1, size + 1):
        s = singles.select("__q", F.col("__item").alias(f"__i{i}"), F.col("__n").alias(f"__s{i}"))
        held = held.join(s, ["__q", f"__i{i}"], "left")
    return held.select("pid", "__q", _least_support_greatest_item(size).alias("__item")).distinct()


def _least_support_greatest_item(size: int) -> Column:
    """Of the set's items, the one the fewest patients of the class hold; ties: the greatest item."""
    best_s, best_i = F.col("__s1"), F.col("__i1")
    for i in range(2, size + 1):
        s, item = F.col(f"__s{i}"), F.col(f"__i{i}")
        better = (s < best_s) | ((s == best_s) & (item > best_i))
        best_i = F.when(better, item).otherwise(best_i)
        best_s = F.when(better, s).otherwise(best_s)
    return best_i


def suppress(items: DataFrame, crit: KmCriteria, budget: int, cache: Cache
             ) -> tuple[list[DataFrame] | None, DataFrame, int, int]:
    """The item suppression loop on `(pid, __q, __item, __rows)`: (the items removed round by round, or
    None when more than `budget` rows had to go; the items kept; rows removed; rounds). Each round's
    frames are materialized (their lineage cut: the rounds would otherwise nest their plans) and the
    previous round's let go."""
    current = cache.materialize(items)
    removed: list[DataFrame] = []
    rows = 0
    keys = ["pid", "__q", "__item"]
    for rounds in range(1, MAX_ROUNDS + 1):
        for size in range(1, crit.m + 1):  # the smallest size with a violation this round
            gone = cache.materialize(current.join(_drops(current, crit, size), keys, "left_semi"))
            n = gone.agg(F.count(F.lit(1)).alias("items"), F.sum("__rows").alias("rows")).first()
            if n is not None and n["items"]:
                break
            cache.free(gone)
        else:
            return removed, current, rows, rounds - 1
        rows += int(n["rows"] or 0)
        nxt = cache.materialize(current.join(gone, keys, "left_anti"))
        cache.free(current)
        current = nxt
        removed.append(gone)
        if rows > budget:
            return None, current, rows, rounds
    raise RuntimeError(f"(k, k^m) suppression did not settle in {MAX_ROUNDS} rounds")


def search(items: DataFrame, specs: Sequence[ItemSpec], crit: KmCriteria, cache: Cache) -> KmSolution:
    """The least-loss generalization with its suppression (see the module docstring)."""
    if crit.m < 1 or crit.k < 1:
        raise ValueError("k and m must be >= 1")
    base = base_items(items, specs, cache)
    hist = base.groupBy("__spec", "__code", "__month").agg(F.sum("__rows").alias("n")).collect()  # codes x months
    total = sum(int(r["n"]) for r in hist)
    months = {r["__month"] for r in hist}
    loss_of = ItemLoss(specs, len(months) if months else 2)
    nodes = list(itertools.product(*[range(len(s.code_levels)) for s in specs], range(len(TIME_LEVELS))))
    index = {s.name: i for i, s in enumerate(specs)}

    def generalization(node: Node) -> Fraction:
        cost = sum((Fraction(int(r["n"])) * loss_of.row(r["__spec"], loss_of.value(r["__spec"], r["__code"],
                    node[index[r["__spec"]]]), node[index[r["__spec"]]], node[-1]) for r in hist), Fraction(0))
        return cost / total if total else Fraction(0)

    gen = {node: generalization(node) for node in nodes}
    first = _first_round_rows(base, specs, nodes, crit.k)
    best: Evaluation | None = None
    best_parts: list[DataFrame] = []
    tried: list[dict[str, Any]] = []
    budget = int(crit.suppression_limit * total)
    for node in sorted(nodes, key=lambda n: (gen[n], sum(n), n)):
        if best is not None and gen[node] >= best.loss:
            break
        if first[node] > budget:  # its first round alone suppresses too much: no need to run it
            tried.append({"levels": list(node), "feasible": False, "item_rows_suppressed": first[node],
                          "generalization_loss_ncp": float(gen[node]), "loss_ncp": None})
            continue
        parts, kept, rows, rounds = suppress(recode(base, specs, node), crit, budget, cache)
        cache.free(kept)
        feasible = parts is not None
        removed = reduce(DataFrame.unionByName, parts) if parts else base.select(
            "pid", "__q", F.lit("").alias("__item"), "__rows").limit(0)
        loss = gen[node] + _removal_cost(removed, specs, node, loss_of) / total if feasible and total else Fraction(1)
        tried.append({"levels": list(node), "feasible": feasible, "item_rows_suppressed": rows,
                      "generalization_loss_ncp": float(gen[node]), "loss_ncp": float(loss) if feasible else None})
        if feasible and (best is None or loss < best.loss):
            if best is not None:
                _free_all(cache, best_parts)
            best, best_parts = Evaluation(node, True, rows, loss, rounds, removed), parts or []
        else:
            _free_all(cache, parts or [])
    if best is None or best.removed is None:
        cache.free(base)
        raise NoKmSolution(f"no generalization of {', '.join(s.name for s in specs)} and time keeps (k={crit.k}, "
                           f"m={crit.m}) within the suppression limit {crit.suppression_limit:g} of {total} item rows")
    removed = cache.materialize(best.removed)
    _free_all(cache, best_parts)
    cache.free(base)
    return KmSolution(tuple(specs), crit, best.node, total, best.rows_suppressed, best.loss, gen[best.node], removed, tried)


def _first_round_rows(base: DataFrame, specs: Sequence[ItemSpec], nodes: Sequence[Node], k: int) -> dict[Node, int]:
    """Per node, the item rows its first round suppresses (items held by fewer than k patients of their
    class), all nodes in one pass: a lower bound of what the node suppresses in the end."""
    at = F.explode(F.array(*[F.struct(F.lit(i).alias("node"), item_at(specs, n).alias("item"))
                             for i, n in enumerate(nodes)])).alias("__at")
    per = (base.select("pid", "__q", "__rows", at).groupBy("__at.node", "__q", "__at.item", "pid")
           .agg(F.sum("__rows").alias("__rows")))
    support = per.groupBy("node", "__q", "item").agg(F.count(F.lit(1)).alias("n"), F.sum("__rows").alias("rows"))
    low = support.where(F.col("n") < k).groupBy("node").agg(F.sum("rows").alias("rows")).collect()  # one row a node
    counts = {int(r["node"]): int(r["rows"]) for r in low}
    return {n: counts.get(i, 0) for i, n in enumerate(nodes)}


def _free_all(cache: Cache, frames: Sequence[DataFrame]) -> None:
    for df in frames:
        cache.free(df)


def _removal_cost(removed: DataFrame, specs: Sequence[ItemSpec], node: Node, loss: ItemLoss) -> Fraction:
    """What suppressing costs beyond the recoding: each removed row costs 1 instead of its item's NCP."""
    cost = Fraction(0)
    index = {s.name: i for i, s in enumerate(specs)}
    for r in removed.groupBy("__item").agg(F.sum("__rows").alias("n")).collect():  # one row per distinct item
        spec, value, _ = r["__item"].split(SEP, 2)
        level = node[index[spec]]
        cost += int(r["n"]) * (1 - loss.row(spec, value, level, node[-1]))
    return cost


def with_km_flags(df: DataFrame, removed: DataFrame, item: Column, reason: str = "km") -> DataFrame:
    """Rows of `df` (with pid) whose item at the chosen level was suppressed for their patient are
    flagged for removal (DROP_ROW and `__removed_by_<reason>`, counted in the writing pass)."""
    flag = f"__removed_by_{reason}"
    right = removed.select("pid", "__item", F.lit(True).alias(flag)).distinct()
    joined = df.withColumn("__item", item).join(right, ["pid", "__item"], "left").drop("__item")
    hit = F.coalesce(F.col(flag), F.lit(False))
    before = F.coalesce(F.col("__drop_row"), F.lit(False)) if "__drop_row" in df.columns else F.lit(False)
    return joined.select(*[c for c in df.columns if c != "__drop_row"], (before | hit).alias("__drop_row"), hit.alias(flag))


def supports(items: DataFrame, m: int) -> DataFrame:
    """`(__q, __set, __n)`: patients per class and combination of at most m items (for checks and reports)."""
    sets = items.select("pid", "__q", F.array(F.col("__item")).alias("__set"), F.col("__item").alias("__last"))
    out = sets
    for _ in range(2, m + 1):
        nxt = items.select("pid", "__q", F.col("__item").alias("__next"))
        sets = sets.join(nxt, ["pid", "__q"]).where(F.col("__next") > F.col("__last")).select(
            "pid", "__q", F.concat("__set", F.array("__next")).alias("__set"), F.col("__next").alias("__last"))
        out = out.unionByName(sets)
    return out.groupBy("__q", "__set").agg(F.count(F.lit(1)).alias("__n"))

