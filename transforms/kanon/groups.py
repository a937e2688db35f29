"""Equivalence classes of a full-domain generalization, computed on the histogram in the driver.

A node of the lattice is one level per quasi-identifier. Grouping the histogram at a node gives the
classes, their sizes and which classes fail the privacy model (size < k, or fewer than l distinct
sensitive values); ARX suppresses every record of a failing class. The arithmetic is vectorized
with numpy and exact (integer counts; float sums of integers far below 2**53).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from transforms.kanon.hierarchy import Hierarchy
from transforms.kanon.histogram import Histogram

_KEY_LIMIT = 1 << 62


@dataclass(frozen=True)
class NodeStats:
    """One node evaluated: ARX's Loss and discernibility, suppression, classes."""

    levels: tuple[int, ...]
    suppressed: int  # records in failing classes
    classes: int  # classes kept (not suppressed)
    min_class_size: int  # smallest kept class (0 if none)
    loss: float  # ARX Loss, suppressed cells counting as 1, geometric aggregation
    loss_per_attribute: tuple[float, ...]
    discernibility: float  # sum of kept class sizes squared + suppressed * records
    sum_of_squares: float  # sum over all classes of size squared (the DM lower bound)


class NodeGrouper:
    """Groups one histogram at any node; per-attribute gathers are cached across nodes."""

    def __init__(self, hist: Histogram, hierarchies: Mapping[str, Hierarchy]):
        self.hist = hist
        self.hierarchies = [hierarchies[q] for q in hist.qi]
        self.n = hist.records
        self._gen: dict[tuple[int, int], np.ndarray] = {}
        self._share: dict[tuple[int, int], np.ndarray] = {}
        self._weights = hist.counts.astype(np.float64)

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(h.depth for h in self.hierarchies)

    def gen(self, j: int, level: int) -> np.ndarray:
        """Per histogram row: id of attribute j's generalized value at `level`."""
        key = (j, level)
        if key not in self._gen:
            self._gen[key] = self.hierarchies[j].gen[level][self.hist.codes[:, j]].astype(np.int64)
        return self._gen[key]

    def share(self, j: int, level: int) -> np.ndarray:
        """Per histogram row: ARX's per-cell Loss of attribute j at `level`."""
        key = (j, level)
        if key not in self._share:
            self._share[key] = self.hierarchies[j].share(level)[self.hist.codes[:, j]]
        return self._share[key]

    def generalization_loss(self, j: int, level: int) -> float:
        """Loss of attribute j at `level` without suppression: the lower bound ARX prunes with."""
        return _dot(self.share(j, level), self._weights) / self.n if self.n else 0.0

    def class_ids(self, levels: Sequence[int]) -> tuple[np.ndarray, int]:
        """Per histogram row a class id in [0, space); classes are the ids with records."""
        key = np.zeros(len(self.hist), dtype=np.int64)
        space = 1
        for j, level in enumerate(levels):
            radix = len(self.hierarchies[j].labels[level])
            if radix == 1:
                continue
            if space * radix >= _KEY_LIMIT:
                key, uniques = pd.factorize(key)
                space = len(uniques)
            key = key * radix + self.gen(j, level)
            space *= radix
        if space > max(4 * len(self.hist), 1 << 16):
            key, uniques = pd.factorize(key)
            space = len(uniques)
        return key, space

    def failing(self, ids: np.ndarray, space: int, sizes: np.ndarray, k: int, ell: int | None) -> np.ndarray:
        """Per class id: True if the class fails k-anonymity or distinct l-diversity."""
        fails = sizes < k
        if ell is not None and ell > 1:
            sens = self.hist.sensitive
            if sens is None:
                raise ValueError("l-diversity needs a histogram built with a sensitive attribute")
            pairs = pd.unique(ids * (int(sens.max(initial=0)) + 1) + sens)
            distinct = np.bincount(pairs // (int(sens.max(initial=0)) + 1), minlength=space)
            fails |= distinct < ell
        return fails

    def evaluate(self, levels: Sequence[int], k: int, ell: int | None = None) -> NodeStats:
        ids, space = self.class_ids(levels)
        sizes = np.bincount(ids, weights=self._weights, minlength=space)
        present = sizes > 0
        fails = self.failing(ids, space, sizes, k, ell) & present
        row_fails = fails[ids]
        suppressed = int(self.hist.counts[row_fails].sum())
        kept = present & ~fails
        kept_rows = self._weights * ~row_fails
        per_attr = tuple(
            (_dot(self.share(j, lv), kept_rows) + suppressed) / self.n if self.n else 0.0
            for j, lv in enumerate(levels)
        )
        kept_sizes = sizes[kept]
        return NodeStats(
            levels=tuple(int(x) for x in levels),
            suppressed=suppressed,
            classes=int(kept.sum()),
            min_class_size=int(kept_sizes.min()) if kept_sizes.size else 0,
            loss=aggregate_loss(per_attr),
            loss_per_attribute=per_attr,
            discernibility=float((kept_sizes**2).sum()) + float(suppressed) * self.n,
            sum_of_squares=float((sizes[present] ** 2).sum()),
        )


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # Not `a @ b`: BLAS dot spawns spinning threads that crawl on a loaded 2-core machine.
    return float(np.multiply(a, b).sum())


def aggregate_loss(per_attribute: Sequence[float]) -> float:
    """ARX's default aggregation of per-attribute Loss: geometric mean of (1 + loss), minus 1."""
    if not per_attribute:
        return 0.0
    return float(np.prod([1.0 + x for x in per_attribute]) ** (1.0 / len(per_attribute)) - 1.0)
