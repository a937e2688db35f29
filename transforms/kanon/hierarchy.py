"""ARX-style generalization hierarchies as small in-memory structures.

An ARX hierarchy file has one row per leaf (original value) and one column per level: level 0 is the
value itself, the last level is usually `*`. Files are named `<prefix>_hierarchy_<attr>.csv` and are
`;`-separated. They hold tens to thousands of rows, so they are parsed in Python; no record-level
data is involved. Finding and reading the files is the jobs' part (jobs/runtime/hierarchy_files.py). Requirement 21 (legal_requirements.md): generalize first, suppress the rest.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

SUPPRESSED = "*"


class HierarchyError(ValueError):
    """A hierarchy is missing or malformed, or a value is not in it; the message names file and value."""


@dataclass(frozen=True)
class Hierarchy:
    """One attribute's hierarchy, encoded: leaves -> ids, and per level the generalized value ids."""

    attribute: str
    source: str
    rows: tuple[tuple[str, ...], ...]
    leaf_index: dict[str, int] = field(repr=False)
    gen: np.ndarray = field(repr=False)  # (levels, leaves) int32: id of the generalized value
    labels: tuple[tuple[str, ...], ...] = field(repr=False)  # per level: id -> label
    leaves_under: np.ndarray = field(repr=False)  # (levels, leaves) int64: leaves under that value

    @property
    def depth(self) -> int:
        """Number of levels, level 0 (the leaves) included."""
        return int(self.gen.shape[0])

    @property
    def size(self) -> int:
        """Number of leaves, i.e. rows of the hierarchy file (ARX's domain size)."""
        return len(self.rows)

    def share(self, level: int) -> np.ndarray:
        """Per leaf: ARX Loss of its value at `level`, (leaves under - 1) / (leaves - 1)."""
        if self.size <= 1:
            return np.zeros(self.size)
        return (self.leaves_under[level] - 1) / (self.size - 1)

    def encode(self, values: Sequence[str | None]) -> np.ndarray:
        """Leaf ids of `values`; HierarchyError names the first value missing from the hierarchy."""
        out = np.empty(len(values), dtype=np.int32)
        for i, value in enumerate(values):
            idx = self.leaf_index.get("" if value is None else value)
            if idx is None:
                raise HierarchyError(
                    f"{self.source}: column {self.attribute!r}: value {value!r} is not a leaf of the "
                    f"hierarchy ({self.size} leaves, e.g. {', '.join(map(repr, self.rows_sample()))})"
                )
            out[i] = idx
        return out

    def rows_sample(self, n: int = 3) -> list[str]:
        return [r[0] for r in self.rows[:n]]

    def label(self, level: int, leaf: int) -> str:
        return self.labels[level][int(self.gen[level, leaf])]


def parse_hierarchy(attribute: str, rows: Iterable[Sequence[str]], source: str) -> Hierarchy:
    """Build a Hierarchy from its rows (one per leaf, columns = levels). Blank rows are skipped."""
    table = [tuple(r) for r in rows if any(cell.strip() for cell in r)]
    if not table:
        raise HierarchyError(f"{source}: hierarchy for {attribute!r} has no rows")
    depth = len(table[0])
    for line, row in enumerate(table, start=1):
        if len(row) != depth:
            raise HierarchyError(
                f"{source}: row {line} ({';'.join(row)!r}) has {len(row)} levels, the first row has {depth}"
            )
    leaf_index: dict[str, int] = {}
    for i, row in enumerate(table):
        if row[0] in leaf_index:
            raise HierarchyError(f"{source}: leaf {row[0]!r} appears twice (rows {leaf_index[row[0]] + 1}, {i + 1})")
        leaf_index[row[0]] = i
    _check_tree(table, source)
    gen = np.empty((depth, len(table)), dtype=np.int32)
    under = np.empty((depth, len(table)), dtype=np.int64)
    labels: list[tuple[str, ...]] = []
    for level in range(depth):
        ids: dict[str, int] = {}
        for i, row in enumerate(table):
            gen[level, i] = ids.setdefault(row[level], len(ids))
        counts = np.bincount(gen[level], minlength=len(ids))
        under[level] = counts[gen[level]]
        labels.append(tuple(ids))
    return Hierarchy(attribute, source, tuple(table), leaf_index, gen, tuple(labels), under)


def _check_tree(table: list[tuple[str, ...]], source: str) -> None:
    """Equal values at one level must generalize to equal values above, or the lattice is not monotonic."""
    for level in range(1, len(table[0]) - 1):
        parent: dict[str, str] = {}
        for row in table:
            seen = parent.setdefault(row[level], row[level + 1])
            if seen != row[level + 1]:
                raise HierarchyError(
                    f"{source}: level {level} value {row[level]!r} generalizes to both {seen!r} and "
                    f"{row[level + 1]!r} at level {level + 1}; a hierarchy must be a tree"
                )


def read_hierarchy_text(attribute: str, text: str, source: str, sep: str = ";") -> Hierarchy:
    return parse_hierarchy(attribute, csv.reader(io.StringIO(text), delimiter=sep), source)
