"""Optimal full-domain generalization over the hierarchy lattice, searched on the histogram.

Semantics follow ARX (checked against its published optima on UCI Adult, tests/test_kanon_arx.py):
- a node passes when the records of its failing classes (size < k, or fewer than l distinct sensitive
  values) number at most floor(suppression_limit * records); those records are suppressed;
- Loss counts a suppressed cell as 1 (ARX's default gs-factor 0.5), discernibility charges a
  suppressed record the number of records;
- the optimum is the passing node with the least metric; ties go to the node with the lower sum of
  levels, then to the lexicographically smaller level vector.
Pruning is exact: passing is monotonic (the generalizations of a passing node pass, the
specializations of a failing node fail; a failing node's specializations are tagged, and a binary
search up a path from it, as in ARX's Flash, tags many more with one check). Loss has a lower bound
that needs no grouping (the generalization-only Loss, separable per attribute), so nodes are visited
in ascending bound and the search stops when the bound exceeds the best Loss; discernibility is
bounded by the sum of squared class sizes of any evaluated specialization.
Requirement 21: generalize first, suppress the residual records.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from transforms.kanon.groups import NodeGrouper, NodeStats
from transforms.kanon.hierarchy import Hierarchy
from transforms.kanon.histogram import Histogram

MAX_NODES = 2_000_000
METRICS = ("loss", "discernibility")
_UNKNOWN, _FAILS, _PASSES, _CLEAN = 0, 1, 2, 3  # _CLEAN: passes with nothing suppressed


class NoSolutionError(ValueError):
    """No node of the lattice satisfies the privacy model within the suppression limit."""


@dataclass(frozen=True)
class SearchResult:
    best: NodeStats
    nodes: int  # size of the lattice
    evaluated: int  # nodes grouped on the histogram
    seconds: float


def check_criteria(k: int, suppression_limit: float, ell: int | None, metric: str) -> None:
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if not 0.0 <= suppression_limit <= 1.0:
        raise ValueError(f"the suppression limit must be in [0, 1], got {suppression_limit!r}")
    if ell is not None and (not isinstance(ell, int) or ell < 1):
        raise ValueError(f"l must be an integer >= 1, got {ell!r}")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


def max_suppressed(records: int, suppression_limit: float) -> int:
    """ARX's absolute outlier budget, `(int) Math.floor(limit * records)` in doubles, as ARX counts it."""
    return math.floor(suppression_limit * records)


def lattice_nodes(depths: tuple[int, ...]) -> np.ndarray:
    """All level vectors, one row per node."""
    size = math.prod(depths)
    if size > MAX_NODES:
        raise ValueError(f"the lattice has {size:,} nodes (levels {depths}); at most {MAX_NODES:,} are searched")
    grids = np.indices(depths, dtype=np.int16).reshape(len(depths), -1)
    return np.ascontiguousarray(grids.T)


def search_lattice(
    hist: Histogram,
    hierarchies: Mapping[str, Hierarchy],
    k: int,
    suppression_limit: float = 0.0,
    metric: str = "loss",
    ell: int | None = None,
) -> SearchResult:
    """The optimal node for k-anonymity (and distinct l-diversity) under the suppression limit."""
    check_criteria(k, suppression_limit, ell, metric)
    started = time.perf_counter()
    grouper = NodeGrouper(hist, hierarchies)
    nodes = lattice_nodes(grouper.depths)
    budget = max_suppressed(hist.records, suppression_limit)
    search = _Search(grouper, nodes, k, ell, budget, metric)
    best = search.run()
    if best is None:
        raise NoSolutionError(
            f"no generalization satisfies k={k}{f', l={ell}' if ell else ''} with at most {budget} "
            f"suppressed records (limit {suppression_limit:g} of {hist.records})"
        )
    return SearchResult(best, len(nodes), search.evaluated, time.perf_counter() - started)


class _Search:
    def __init__(self, grouper: NodeGrouper, nodes: np.ndarray, k: int, ell: int | None, budget: int, metric: str):
        self.g, self.nodes, self.k, self.ell, self.budget, self.metric = grouper, nodes, k, ell, budget, metric
        self.status = np.zeros(len(nodes), dtype=np.int8)
        self.evaluated = 0
        self.stats: dict[int, NodeStats] = {}
        m = nodes.shape[1]
        if metric == "loss":
            factor = np.ones(len(nodes))
            for j, depth in enumerate(grouper.depths):
                per_level = np.array([grouper.generalization_loss(j, lv) for lv in range(depth)])
                factor *= 1.0 + per_level[nodes[:, j]]
            self.bound = factor ** (1.0 / m) - 1.0 if m else np.zeros(len(nodes))
        else:
            self.bound = np.full(len(nodes), float(grouper.n))
        tie_keys = [nodes[:, j] for j in reversed(range(m))] + [nodes.sum(axis=1)]
        self.order = np.lexsort(tie_keys + ([self.bound] if metric == "loss" else []))

    def _value(self, stats: NodeStats) -> float:
        return stats.loss if self.metric == "loss" else stats.discernibility

    def run(self) -> NodeStats | None:
        best_idx, best_value = -1, math.inf
        for idx in self.order:
            if self.bound[idx] > best_value or (self.metric != "loss" and self.bound[idx] >= best_value):
                if self.metric == "loss":
                    break  # bounds ascend from here on
                continue
            state = self.status[idx]
            if state == _FAILS:
                continue
            if state == _CLEAN and self.metric == "loss":
                value = float(self.bound[idx])  # nothing suppressed: Loss equals its bound exactly
            else:
                stats = self.stats.get(int(idx)) or self._check(int(idx))
                if stats.suppressed > self.budget:
                    continue
                value = self._value(stats)
            if value < best_value:  # visiting order already breaks ties
                best_idx, best_value = int(idx), value
        if best_idx < 0:
            return None
        return self.stats.get(best_idx) or self._check(best_idx)

    def _check(self, idx: int, climb: bool = True) -> NodeStats:
        node = self.nodes[idx]
        stats = self.g.evaluate(tuple(int(x) for x in node), self.k, self.ell)
        self.evaluated += 1
        self.stats[idx] = stats
        if stats.suppressed > self.budget:
            self.status[np.all(self.nodes <= node, axis=1)] = _FAILS
            if climb:
                self._climb(node)
            return stats
        above = np.all(self.nodes >= node, axis=1)
        if stats.suppressed == 0:
            self.status[above] = _CLEAN
        else:
            self.status[above & (self.status == _UNKNOWN)] = _PASSES
        if self.metric != "loss":
            np.maximum(self.bound, np.where(above, stats.sum_of_squares, 0.0), out=self.bound)
        return stats

    def _climb(self, start: np.ndarray) -> None:
        """From a failing node, binary-search a path upwards for the last failing node (as ARX's Flash
        does), so that one check marks a large set of specializations as failing."""
        depths = self.g.depths
        node, path = start.copy(), []
        while True:
            free = [j for j in range(len(depths)) if node[j] < depths[j] - 1]
            if not free:
                break
            j = min(free, key=lambda j: ((node[j] + 1) / depths[j], j))
            node[j] += 1
            idx = int(np.ravel_multi_index(tuple(node), depths))
            if self.status[idx] in (_PASSES, _CLEAN):
                break
            path.append(idx)
        lo, hi = 0, len(path)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.status[path[mid]] == _FAILS or (self.stats.get(path[mid]) or self._check(path[mid], climb=False)).suppressed > self.budget:
                lo = mid + 1
            else:
                hi = mid
