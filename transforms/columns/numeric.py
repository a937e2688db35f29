"""Numbers made less singular (requirement 19): top/bottom coding, rounding, binning.

Caps are fixed in the policy (NDB-S removes claims >= 700,000点) or computed in Spark as quantiles
(percentile_approx: one aggregation, the result is a handful of numbers, never the records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


@dataclass(frozen=True)
class Bounds:
    lower: float | None
    upper: float | None


def clip(col: Column, lower: Column | float | None = None, upper: Column | float | None = None) -> Column:
    """Bottom/top coding: values below `lower` become `lower`, above `upper` become `upper`."""
    out = col
    if lower is not None:
        lo = lower if isinstance(lower, Column) else F.lit(lower)
        out = F.when(out.isNotNull() & lo.isNotNull() & (out < lo), lo).otherwise(out)
    if upper is not None:
        hi = upper if isinstance(upper, Column) else F.lit(upper)
        out = F.when(out.isNotNull() & hi.isNotNull() & (out > hi), hi).otherwise(out)
    return out


def quantile_bounds(
    df: DataFrame, column: str, lower_q: float | None, upper_q: float | None, relative_error: float = 0.001
) -> Bounds:
    """The lower/upper quantiles of one column over the whole table (one Spark aggregation)."""
    accuracy = max(1, int(round(1 / relative_error)))
    qs = [q for q in (lower_q, upper_q) if q is not None]
    row = df.agg(F.percentile_approx(F.col(column).cast("double"), qs, accuracy).alias("q")).first()
    values = list(row["q"] or []) if row is not None else []
    if not values:
        return Bounds(None, None)
    lower = values[0] if lower_q is not None else None
    upper = values[-1] if upper_q is not None else None
    return Bounds(lower, upper)


def quantile_bounds_by(
    df: DataFrame, column: str, by: str, lower_q: float | None, upper_q: float | None, relative_error: float = 0.001
) -> DataFrame:
    """Per-group quantile bounds `(by, __lower, __upper)`: e.g. P1/P99 per lab test code."""
    accuracy = max(1, int(round(1 / relative_error)))
    value = F.col(column).cast("double")
    aggs = [
        (F.percentile_approx(value, lower_q, accuracy) if lower_q is not None else F.lit(None).cast("double"))
        .alias("__lower"),
        (F.percentile_approx(value, upper_q, accuracy) if upper_q is not None else F.lit(None).cast("double"))
        .alias("__upper"),
    ]
    return df.where(F.col(by).isNotNull()).groupBy(by).agg(*aggs)


def round_to(col: Column, to: float) -> Column:
    """Round to a multiple of `to` (10 -> tens, 0.1 -> one decimal)."""
    if to <= 0:
        raise ValueError("to must be > 0")
    return F.round(col / F.lit(to)) * F.lit(to)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def bin_width(col: Column, width: float, integral: bool = True) -> Column:
    """Equal-width bins labelled by their range: width 100 -> "100-199" (integers) or "100-<200"."""
    if width <= 0:
        raise ValueError("width must be > 0")
    lo = F.floor(col / F.lit(width)) * F.lit(width)
    if integral and float(width).is_integer():
        return F.concat(lo.cast("long").cast("string"), F.lit("-"), (lo + width - 1).cast("long").cast("string"))
    return F.concat(lo.cast("string"), F.lit("-<"), (lo + width).cast("string"))


def bin_edges(col: Column, edges: Sequence[float], integral: bool = True) -> Column:
    """Bins at fixed edges: [20, 100] -> "<20", "20-99", "100+" (or "20-<100" for decimals)."""
    if not edges or any(a >= b for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError("edges must be increasing")
    out = F.when(col < F.lit(edges[0]), F.lit(f"<{_fmt(edges[0])}"))
    for a, b in zip(edges, edges[1:], strict=False):
        label = f"{_fmt(a)}-{_fmt(b - 1)}" if integral and float(a).is_integer() and float(b).is_integer() else f"{_fmt(a)}-<{_fmt(b)}"
        out = out.when(col < F.lit(b), F.lit(label))
    return out.when(col.isNotNull(), F.lit(f"{_fmt(edges[-1])}+"))
