"""Apply a chosen recoding in one pass: a small mapping table, broadcast-joined on the finest QI values.

The mapping has one row per distinct finest combination (the histogram's size, not the data's), and
gives the released value of every quasi-identifier: the generalized label, or `*` for all of them
when the record's class was suppressed (requirement 21: generalize first, suppress the residual
records). Records keep their order and their other columns.

The join key is the 64-bit xxhash of the QI values when the hashes of the distinct combinations are
verified distinct in the driver (every record's combination is in the histogram, so the hash then
identifies it exactly); one long key joins faster than several strings. Otherwise the QI strings
themselves are the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms.kanon.groups import NodeGrouper
from transforms.kanon.hierarchy import SUPPRESSED, Hierarchy
from transforms.kanon.histogram import Histogram, col, require_columns
from transforms.local import local_frame

_OUT = "_kanon_out_{}"
KEY = "_kanon_key"


def qi_key(qi: Sequence[str]) -> Column:
    """xxhash64 of the QI values: computed the same way on the histogram and on the records."""
    return F.xxhash64(*[col(q) for q in qi])


@dataclass(frozen=True)
class Recoding:
    """Distinct finest QI combinations and the values released for them."""

    qi: tuple[str, ...]
    finest: tuple[np.ndarray, ...]  # per QI: object array of original values
    released: tuple[np.ndarray, ...]  # per QI: object array of released values
    suppressed: np.ndarray  # bool per combination
    source_rows: np.ndarray  # per combination: its first row in the histogram

    def __len__(self) -> int:
        return len(self.suppressed)

    def rows(self) -> list[tuple[str, ...]]:
        return list(zip(*self.finest, *self.released, strict=True))


def recoding_from_labels(
    hist: Histogram, hierarchies: Mapping[str, Hierarchy], labels: Sequence[np.ndarray], suppressed: np.ndarray
) -> Recoding:
    """A Recoding from per-histogram-row released labels; rows sharing finest QI values are merged."""
    _, first = np.unique(hist.codes, axis=0, return_index=True)
    first.sort()
    finest = []
    for j, name in enumerate(hist.qi):
        leaves = np.array([r[0] for r in hierarchies[name].rows], dtype=object)
        finest.append(leaves[hist.codes[first, j]])
    released = tuple(np.where(suppressed[first], SUPPRESSED, np.asarray(lab, dtype=object)[first]) for lab in labels)
    return Recoding(tuple(hist.qi), tuple(finest), released, suppressed[first], first)


def lattice_recoding(
    hist: Histogram, hierarchies: Mapping[str, Hierarchy], levels: Sequence[int], k: int, ell: int | None = None
) -> Recoding:
    """The full-domain recoding at `levels`, with failing classes suppressed."""
    grouper = NodeGrouper(hist, hierarchies)
    ids, space = grouper.class_ids(levels)
    sizes = np.bincount(ids, weights=hist.counts.astype(np.float64), minlength=space)
    row_fails = grouper.failing(ids, space, sizes, k, ell)[ids]
    labels = []
    for j, (name, level) in enumerate(zip(hist.qi, levels, strict=True)):
        table = np.array(hierarchies[name].labels[level], dtype=object)
        labels.append(table[grouper.gen(j, level)])
    return recoding_from_labels(hist, hierarchies, labels, row_fails)


def recoding_frame(df: DataFrame, recoding: Recoding, key_hash: np.ndarray | None = None) -> DataFrame:
    """The recoding as a small DataFrame in `df`'s session.

    `key_hash`: `qi_key` of each histogram row; used as the join key when distinct per combination.
    """
    outputs = [T.StructField(_OUT.format(j), T.StringType()) for j in range(len(recoding.qi))]
    if key_hash is not None:
        keys = np.asarray(key_hash, dtype=np.int64)[recoding.source_rows]
        if len(np.unique(keys)) == len(keys):
            rows = [(int(h), *out) for h, *out in zip(keys, *recoding.released, strict=True)]
            return local_frame(df.sparkSession, rows, T.StructType([T.StructField(KEY, T.LongType()), *outputs]))
    fields = [T.StructField(q, T.StringType()) for q in recoding.qi]
    return local_frame(df.sparkSession, recoding.rows(), T.StructType(fields + outputs))


def with_recoded_qis(df: DataFrame, mapping: DataFrame, qi: Sequence[str]) -> DataFrame:
    """Replace the QI columns of `df` by their released values; other columns and order unchanged."""
    require_columns(df, qi, "quasi-identifier")
    if KEY in mapping.columns:
        joined = df.withColumn(KEY, qi_key(qi)).join(F.broadcast(mapping), on=KEY, how="left")
    else:
        joined = df.join(F.broadcast(mapping), on=list(qi), how="left")
    position = {name: j for j, name in enumerate(qi)}
    return joined.select(
        *[col(_OUT.format(position[c])).alias(c) if c in position else col(c) for c in df.columns]
    )
