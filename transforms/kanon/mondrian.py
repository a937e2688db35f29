"""Mondrian multidimensional partitioning (LeFevre et al. 2006) on the same histogram.

An alternative to full-domain recoding (`--method mondrian`): the records are cut recursively, each
cut keeping at least k records (and l distinct sensitive values) on every side, so classes adapt to
dense and sparse regions and no record is suppressed. Numeric attributes (all leaves numbers) are
cut at the weighted median and released as `lo-hi` ranges of the values present; other attributes
are cut along their hierarchy (a node is split into its children, all of which must qualify) and
released as the hierarchy label. Requirement 21: the result is k-anonymous by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from transforms.kanon.groups import aggregate_loss
from transforms.kanon.hierarchy import SUPPRESSED, Hierarchy
from transforms.kanon.histogram import Histogram
from transforms.kanon.lattice import NoSolutionError, check_criteria


@dataclass(frozen=True)
class MondrianResult:
    labels: tuple[np.ndarray, ...]  # per QI: released label per histogram row
    partition: np.ndarray  # per histogram row: partition id
    classes: int
    min_class_size: int
    loss: float
    loss_per_attribute: tuple[float, ...]
    discernibility: float


def _numeric_leaves(h: Hierarchy) -> np.ndarray | None:
    try:
        return np.array([float(r[0]) for r in h.rows])
    except ValueError:
        return None


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


class _Mondrian:
    def __init__(self, hist: Histogram, hierarchies: Mapping[str, Hierarchy], k: int, ell: int | None):
        self.hist, self.k, self.ell = hist, k, ell
        self.h = [hierarchies[q] for q in hist.qi]
        self.numeric = [_numeric_leaves(h) for h in self.h]
        self.w = hist.counts

    def qualifies(self, rows: np.ndarray) -> bool:
        if self.w[rows].sum() < self.k:
            return False
        if self.ell and self.ell > 1 and self.hist.sensitive is not None:
            return len(pd.unique(self.hist.sensitive[rows])) >= self.ell
        return True

    def width(self, rows: np.ndarray, j: int, level: int) -> float:
        values = self.numeric[j]
        if values is not None:
            v = values[self.hist.codes[rows, j]]
            leaves_in = int(((values >= v.min()) & (values <= v.max())).sum())
            return (leaves_in - 1) / max(self.h[j].size - 1, 1)
        if level >= self.h[j].depth:  # above a top level that has several values: all leaves
            return 1.0
        return float(self.h[j].share(level)[self.hist.codes[rows[0], j]])

    def cut(self, rows: np.ndarray, j: int, level: int) -> list[tuple[np.ndarray, int]] | None:
        values = self.numeric[j]
        if values is not None:
            v = values[self.hist.codes[rows, j]]
            order = np.argsort(v, kind="stable")
            cum = np.cumsum(self.w[rows][order])
            median = v[order][np.searchsorted(cum, cum[-1] / 2.0)]
            left = v <= median if (v > median).any() else v < median
            parts = [rows[left], rows[~left]]
            child_level = level
        else:
            if level == 0:
                return None
            child_level = level - 1
            ids = self.h[j].gen[child_level][self.hist.codes[rows, j]]
            parts = [rows[ids == c] for c in pd.unique(ids)]
        if len(parts) < 2 or any(len(p) == 0 for p in parts) or not all(self.qualifies(p) for p in parts):
            return None
        return [(p, child_level) for p in parts]

    def run(self) -> list[tuple[np.ndarray, list[int]]]:
        root = np.arange(len(self.hist))
        if not self.qualifies(root):
            raise NoSolutionError(f"the whole data set ({self.hist.records} records) does not satisfy the model")
        # A hierarchy whose top level has several values starts one step above it (released as `*`).
        stack = [(root, [h.depth - 1 if len(h.labels[-1]) == 1 else h.depth for h in self.h])]
        final = []
        while stack:
            rows, levels = stack.pop()
            dims = sorted(range(len(self.h)), key=lambda j: (-self.width(rows, j, levels[j]), j))
            for j in dims:
                parts = self.cut(rows, j, levels[j])
                if parts is not None:
                    stack.extend((p, [*levels[:j], lv, *levels[j + 1 :]]) for p, lv in reversed(parts))
                    break
            else:
                final.append((rows, levels))
        return final


def mondrian(
    hist: Histogram, hierarchies: Mapping[str, Hierarchy], k: int, ell: int | None = None
) -> MondrianResult:
    """Partition the histogram into classes of at least k records (and l distinct sensitive values)."""
    check_criteria(k, 0.0, ell, "loss")
    algo = _Mondrian(hist, hierarchies, k, ell)
    parts = algo.run()
    m, n = len(hist.qi), hist.records
    labels = [np.empty(len(hist), dtype=object) for _ in range(m)]
    partition = np.empty(len(hist), dtype=np.int64)
    loss_sum = np.zeros(m)
    sizes = []
    for pid, (rows, levels) in enumerate(parts):
        partition[rows] = pid
        size = int(algo.w[rows].sum())
        sizes.append(size)
        for j in range(m):
            labels[j][rows] = _label(algo, rows, j, levels[j])
            loss_sum[j] += size * algo.width(rows, j, levels[j])
    per_attr = tuple(float(x) / n for x in loss_sum)
    size_arr = np.array(sizes, dtype=np.float64)
    return MondrianResult(
        tuple(labels), partition, len(parts), int(size_arr.min()), aggregate_loss(per_attr), per_attr,
        float((size_arr**2).sum()),
    )


def _label(algo: _Mondrian, rows: np.ndarray, j: int, level: int) -> str:
    values = algo.numeric[j]
    if values is None:
        if level >= algo.h[j].depth:
            return SUPPRESSED
        return algo.h[j].label(level, int(algo.hist.codes[rows[0], j]))
    v = values[algo.hist.codes[rows, j]]
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        return algo.h[j].rows[int(algo.hist.codes[rows[np.argmin(v)], j])][0]
    return f"{_fmt(lo)}-{_fmt(hi)}"
