"""The one Spark pass of the k-anonymity search: individuals per finest quasi-identifier combination.

DESIGN.md decision 4: the search runs on this histogram in the driver, so its cost does not grow
with the number of records. The histogram is a summary (one row per distinct combination), not
record-level data; with a sensitive attribute it is kept per (combination, sensitive value) so that
distinct l-diversity can be checked on merged classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.kanon.hierarchy import Hierarchy

COUNT = "_kanon_n"


def col(name: str) -> Column:
    """A column by its exact name, even with dots or dashes in it."""
    return F.col("`" + name.replace("`", "``") + "`")


def require_columns(df: DataFrame, names: Sequence[str], role: str) -> None:
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ValueError(f"{role} column(s) {missing} not in the data; available: {df.columns}")


def qi_histogram(
    df: DataFrame,
    qi: Sequence[str],
    sensitive: str | None = None,
    extra: Mapping[str, Column] | None = None,
) -> DataFrame:
    """Count records per finest combination of `qi` (and `sensitive`), plus optional extra aggregates."""
    keys = [*qi, *([sensitive] if sensitive else [])]
    require_columns(df, keys, "quasi-identifier/sensitive")
    if len(set(keys)) != len(keys):
        raise ValueError(f"a column is listed twice among quasi-identifiers and sensitive: {keys}")
    aggs = [F.count(F.lit(1)).alias(COUNT), *[c.alias(n) for n, c in (extra or {}).items()]]
    return df.groupBy(*[col(c) for c in keys]).agg(*aggs)


@dataclass(frozen=True)
class Histogram:
    """The histogram encoded against the hierarchies: leaf ids per QI, counts, sensitive value ids."""

    qi: tuple[str, ...]
    codes: np.ndarray  # (rows, len(qi)) int32 leaf ids
    counts: np.ndarray  # (rows,) int64 records
    sensitive: np.ndarray | None = None  # (rows,) int32 ids of the sensitive value

    @property
    def records(self) -> int:
        return int(self.counts.sum())

    def __len__(self) -> int:
        return int(self.counts.shape[0])


def encode_histogram(
    rows: Sequence[Sequence[object]],
    qi: Sequence[str],
    hierarchies: Mapping[str, Hierarchy],
    sensitive: str | None = None,
) -> Histogram:
    """Encode collected histogram rows `(qi..., [sensitive], count)`; unknown values raise HierarchyError."""
    m = len(qi)
    codes = np.empty((len(rows), m), dtype=np.int32)
    for j, name in enumerate(qi):
        codes[:, j] = hierarchies[name].encode([r[j] for r in rows])  # type: ignore[misc]
    counts = np.fromiter((int(r[-1]) for r in rows), dtype=np.int64, count=len(rows))  # type: ignore[call-overload]
    if sensitive is None:
        return Histogram(tuple(qi), codes, counts)
    labels: dict[str, int] = {}
    sens = np.fromiter(
        (labels.setdefault("" if r[m] is None else str(r[m]), len(labels)) for r in rows),
        dtype=np.int32,
        count=len(rows),
    )
    return Histogram(tuple(qi), codes, counts, sens)


def histogram_from_arrays(
    qi: Sequence[str], codes: np.ndarray, counts: Sequence[int], sensitive: Sequence[int] | None = None
) -> Histogram:
    """A Histogram from already encoded arrays (tests, and callers that encode themselves)."""
    sens = None if sensitive is None else np.asarray(sensitive, dtype=np.int32)
    return Histogram(tuple(qi), np.asarray(codes, dtype=np.int32), np.asarray(counts, dtype=np.int64), sens)
