"""Re-identification risk and utility of a table, from its equivalence classes (requirements 21-22).

Everything here works on class sizes or on a class table (one row per distinct QI combination), so
the Spark side is one aggregation and only a summary reaches the driver. Records whose quasi-
identifiers are all `*` were suppressed: they are counted as suppressed and left out of the classes
(as ARX does), since they no longer carry any quasi-identifying value.

Prosecutor model: an attacker knows the target is in the table; the risk of a record is
1 / (size of its class), so the maximum is 1 / (smallest class) and the mean over records is
classes / records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.kanon.groups import NodeGrouper, aggregate_loss
from transforms.kanon.hierarchy import SUPPRESSED, Hierarchy
from transforms.kanon.histogram import COUNT, Histogram, col, require_columns


@dataclass(frozen=True)
class RiskMetrics:
    records: int  # records in classes (suppressed ones excluded)
    suppressed: int
    classes: int
    k: int
    prosecutor_risk_max: float
    prosecutor_risk_mean: float
    records_below_k: int  # records in classes smaller than k
    share_below_k: float
    sample_uniques: int  # records alone in their class
    sample_unique_share: float
    min_class_size: int
    average_class_size: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class UtilityMetrics:
    records: int  # all records, suppressed included
    suppressed: int
    suppressed_share: float
    loss: float  # ARX Loss (suppressed cells count 1)
    loss_per_attribute: dict[str, float]
    discernibility: float  # sum of class sizes squared + suppressed * records
    classes: int
    average_class_size: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def risk_from_sizes(sizes: Sequence[int] | np.ndarray, k: int, suppressed: int = 0) -> RiskMetrics:
    """Risk metrics from the sizes of the (non-suppressed) classes."""
    s = np.asarray(sizes, dtype=np.int64)
    s = s[s > 0]
    n, c = int(s.sum()), int(s.size)
    below = int(s[s < k].sum())
    uniques = int((s == 1).sum())
    return RiskMetrics(
        records=n, suppressed=suppressed, classes=c, k=k,
        prosecutor_risk_max=1.0 / int(s.min()) if c else 0.0,
        prosecutor_risk_mean=c / n if n else 0.0,
        records_below_k=below, share_below_k=below / n if n else 0.0,
        sample_uniques=uniques, sample_unique_share=uniques / n if n else 0.0,
        min_class_size=int(s.min()) if c else 0,
        average_class_size=n / c if c else 0.0,
    )


def histogram_risk(
    hist: Histogram,
    hierarchies: Mapping[str, Hierarchy],
    k: int,
    levels: Sequence[int] | None = None,
    ell: int | None = None,
    suppress: bool = False,
) -> RiskMetrics:
    """Risk of the histogram generalized to `levels` (default: as is, before treatment).

    With `suppress`, classes failing k (or l) are suppressed as the release would do it.
    """
    grouper = NodeGrouper(hist, hierarchies)
    levels = tuple(levels) if levels is not None else (0,) * len(hist.qi)
    ids, space = grouper.class_ids(levels)
    sizes = np.bincount(ids, weights=hist.counts.astype(np.float64), minlength=space).astype(np.int64)
    if not suppress:
        return risk_from_sizes(sizes, k)
    fails = grouper.failing(ids, space, sizes, k, ell) & (sizes > 0)
    return risk_from_sizes(sizes[~fails], k, int(sizes[fails].sum()))


def _all_suppressed(qi: Sequence[str]) -> Column:
    flag = F.lit(True)
    for q in qi:
        flag = flag & col(q).eqNullSafe(F.lit(SUPPRESSED))
    return flag


def class_table(df: DataFrame, qi: Sequence[str]) -> DataFrame:
    """One row per distinct QI combination with its record count (column `_kanon_n`)."""
    require_columns(df, qi, "quasi-identifier")
    return df.groupBy(*[col(q) for q in qi]).agg(F.count(F.lit(1)).alias(COUNT))


def risk_metrics(df: DataFrame, qi: Sequence[str], k: int) -> RiskMetrics:
    """Prosecutor risk, records below k and sample uniques of `df` (one aggregation, tiny collect)."""
    classes = class_table(df, qi).withColumn("_kanon_sup", _all_suppressed(qi))
    dist = classes.groupBy("_kanon_sup", COUNT).agg(F.count(F.lit(1)).alias("_kanon_classes")).collect()
    suppressed = sum(int(r[COUNT]) * int(r["_kanon_classes"]) for r in dist if r["_kanon_sup"])
    sizes = np.repeat(
        [int(r[COUNT]) for r in dist if not r["_kanon_sup"]],
        [int(r["_kanon_classes"]) for r in dist if not r["_kanon_sup"]],
    )
    return risk_from_sizes(sizes, k, suppressed)


_RANGE = re.compile(r"^(-?\d+(?:\.\d+)?)-(-?\d+(?:\.\d+)?)$")


def value_share(h: Hierarchy, value: str, level: int | None = None) -> float:
    """ARX's per-cell Loss of a released value: (leaves under it - 1) / (leaves - 1).

    With `level`, the value is looked up at that level; otherwise at the lowest level holding it.
    Numeric ranges `lo-hi` released by Mondrian count the numeric leaves in the range.
    """
    denom = max(h.size - 1, 1)
    for lv in [level] if level is not None else range(h.depth):
        if value in h.labels[lv]:
            vid = h.labels[lv].index(value)
            return float((h.gen[lv] == vid).sum() - 1) / denom
    match = _RANGE.match(value)
    if match:
        lo, hi = float(match.group(1)), float(match.group(2))
        inside = sum(1 for r in h.rows if _in_range(r[0], lo, hi))
        if inside:
            return (inside - 1) / denom
    if value == SUPPRESSED:
        return 1.0
    raise ValueError(f"released value {value!r} of {h.attribute!r} is not in its hierarchy ({h.source})")


def _in_range(leaf: str, lo: float, hi: float) -> bool:
    try:
        return lo <= float(leaf) <= hi
    except ValueError:
        return False


def utility_metrics(
    df: DataFrame, qi: Sequence[str], hierarchies: Mapping[str, Hierarchy], levels: Sequence[int] | None = None
) -> UtilityMetrics:
    """Loss, discernibility, suppression and class sizes of a released table (one aggregation)."""
    rows = class_table(df, qi).collect()
    n = sum(int(r[COUNT]) for r in rows)
    kept = [r for r in rows if not all(r[q] == SUPPRESSED for q in qi)]
    suppressed = n - sum(int(r[COUNT]) for r in kept)
    per_attr = {}
    for j, q in enumerate(qi):
        level = None if levels is None else levels[j]
        cache: dict[str, float] = {}
        total = sum(cache.setdefault(r[q], value_share(hierarchies[q], r[q], level)) * int(r[COUNT]) for r in kept)
        per_attr[q] = (total + suppressed) / n if n else 0.0
    sizes = np.array([int(r[COUNT]) for r in kept], dtype=np.float64)
    return UtilityMetrics(
        records=n, suppressed=suppressed, suppressed_share=suppressed / n if n else 0.0,
        loss=aggregate_loss(list(per_attr.values())), loss_per_attribute=per_attr,
        discernibility=float((sizes**2).sum()) + float(suppressed) * n,
        classes=len(kept), average_class_size=float(sizes.sum() / len(kept)) if kept else 0.0,
    )
