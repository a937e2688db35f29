"""Deterministic random draws from Spark built-ins.

Every draw is a hash of (seed, purpose, entity keys) with `xxhash64`, never `rand()`: the value of a
draw depends only on the arguments and the entity, not on partitioning, task order or the number of
cores, so the same seed gives byte-identical output on any machine (brief A item 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

_MASK53 = (1 << 53) - 1
_TWO53 = float(1 << 53)


class Rng:
    """Uniform draws in [0, 1) keyed by (seed, purpose, *keys)."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def u(self, purpose: str, *keys: Column | str | int) -> Column:
        """Keys are column names, int literals or Columns. Without Columns, the draw is parsed from
        one SQL text (one py4j call instead of about ten: the generator builds thousands of them)."""
        if all(isinstance(k, (str, int)) for k in keys):
            args = ", ".join([sql_literal(self.seed), sql_literal(purpose),
                              *[f"`{k}`" if isinstance(k, str) else sql_literal(k) for k in keys]])
            return F.expr(f"(xxhash64({args}) & {_MASK53}L) / {_TWO53!r}D")
        cols = [F.col(k) if isinstance(k, str) else k if isinstance(k, Column) else F.lit(k) for k in keys]
        h = F.xxhash64(F.lit(self.seed), F.lit(purpose), *cols)
        return h.bitwiseAND(F.lit(_MASK53)) / F.lit(_TWO53)

    def int_between(self, purpose: str, lo: int | Column, hi: int | Column, *keys: Column | str | int) -> Column:
        """Uniform integer in [lo, hi] (both inclusive)."""
        lo_c, hi_c = _col(lo), _col(hi)
        return (lo_c + F.floor(self.u(purpose, *keys) * (hi_c - lo_c + 1))).cast("int")

    def digits(self, purpose: str, n: int, *keys: Column | str | int) -> Column:
        """`n` random decimal digits as a string (leading zeros kept)."""
        value = F.floor(self.u(purpose, *keys) * F.lit(10**n)).cast("long")
        return F.lpad(value.cast("string"), n, "0")


def _col(value: Any) -> Column:
    return value if isinstance(value, Column) else F.lit(value)


def sql_literal(value: Any) -> str:
    """A Python scalar (or list, or dict of scalars) as Spark SQL literal text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if -(2**31) <= value < 2**31 else f"{value}L"
    if isinstance(value, float):
        return f"{value!r}D"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, (list, tuple)):
        return "array(" + ", ".join(sql_literal(v) for v in value) + ")"
    if isinstance(value, dict):
        return "named_struct(" + ", ".join(f"{sql_literal(k)}, {sql_literal(v)}" for k, v in value.items()) + ")"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def literal_array(values: Sequence[Any]) -> Column:
    """A constant array, parsed from one SQL expression (one py4j call instead of one per element);
    Spark folds it into a single literal, so the per-row cost is an index lookup."""
    if not values:
        raise ValueError("literal_array(): empty arrays have no element type")
    return F.expr(sql_literal(list(values)))


def literal_map(mapping: dict[Any, Any]) -> Column:
    """A constant map (values may be lists or dicts, i.e. arrays or structs)."""
    return F.expr("map(" + ", ".join(f"{sql_literal(k)}, {sql_literal(v)}" for k, v in mapping.items()) + ")")


def pick(u: Column, values: Sequence[Any] | Column, n: int | Column | None = None) -> Column:
    """Uniform choice among `values` (a Python sequence or an array Column of size `n`)."""
    if isinstance(values, Column):
        size = F.size(values) if n is None else _col(n)
        return F.element_at(values, (F.floor(u * size) + 1).cast("int"))
    return F.element_at(literal_array(values), (F.floor(u * len(values)) + 1).cast("int"))


def weighted(u: Column, values: Sequence[Any], weights: Sequence[float]) -> Column:
    """Categorical draw by cumulative thresholds (for a few dozen categories)."""
    if len(values) != len(weights) or not values:
        raise ValueError("weighted(): values and weights must be non-empty and the same length")
    total = float(sum(weights))
    thresholds, running = [], 0.0
    for w in weights:
        running += w
        thresholds.append(running / total)
    # Built from the last category backwards: `u < c1 ? v1 : u < c2 ? v2 : ... : vn`.
    out: Column = _col(values[-1])
    for value, threshold in zip(reversed(values[:-1]), reversed(thresholds[:-1]), strict=True):
        out = F.when(u < F.lit(threshold), _col(value)).otherwise(out)
    return out


def zipf_index(u: Column, n: int, s: float) -> Column:
    """0-based rank in [0, n) with P(rank r) roughly proportional to (r+1)^-s (a long tail).

    Inverse CDF of the continuous power law on [1, n+1): rank 0 is the most frequent; the last ranks
    are drawn only a handful of times per million draws, which is what makes rare codes rare.
    """
    if s == 1.0:
        x = F.exp(u * F.lit(math.log(n + 1)))
    else:
        a = 1.0 - s
        x = F.pow(u * F.lit((n + 1) ** a - 1.0) + F.lit(1.0), F.lit(1.0 / a))
    return F.least(F.floor(x).cast("int") - 1, F.lit(n - 1))


def normal(u1: Column, u2: Column) -> Column:
    """Standard normal by Box-Muller from two independent uniforms."""
    return F.sqrt(F.lit(-2.0) * F.log(F.lit(1.0) - u1)) * F.cos(F.lit(2 * math.pi) * u2)


def poisson_small(u: Column, mean: Column | float, cap: int) -> Column:
    """Poisson(mean) by inverse CDF, truncated at `cap` (small means only)."""
    m = _col(mean)
    out: Column = F.lit(cap)
    pmf = [F.exp(-m)]
    for k in range(1, cap):
        pmf.append(pmf[-1] * m / F.lit(float(k)))
    cdf: list[Column] = []
    running: Column = F.lit(0.0)
    for p in pmf:
        running = running + p
        cdf.append(running)
    for k in reversed(range(cap)):
        out = F.when(u < cdf[k], F.lit(k)).otherwise(out)
    return out.cast("int")


def check_digit_py(digits: str) -> str:
    """Reference check digit (モジュラス10, ウェイト 2・1 分割): see check_digit()."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def check_digit(digits: Column, n: int) -> Column:
    """Check digit of an `n`-digit string Column, the rule of 保険者番号 and 公費負担者番号.

    Multiply the digits from the right by 2, 1, 2, 1, ...; add the digits of each product
    (14 -> 1 + 4); check = (10 - sum % 10) % 10. Verified against the real numbers in the sample
    file: 01130012, 01010016, 34130021, 12143210, 28140507 and 6-digit 国保 133066.
    """
    total: Column = F.lit(0)
    for i in range(n):
        d = F.substring(digits, n - i, 1).cast("int")
        product = d * F.lit(2 if i % 2 == 0 else 1)
        total = total + F.floor(product / 10) + product % 10
    return ((F.lit(10) - total % 10) % 10).cast("string")


def with_check_digit(digits: Column, n: int) -> Column:
    return F.concat(digits, check_digit(digits, n))
