"""From a histogram to a recoding plus its summary: the driver-side half of `tokumei kanon`.

Pure: numpy on the histogram, no Spark. The summary carries what requirement 21 asks to report
(k achieved, suppressed records and share) and the risk/utility figures of issue 5 item 4.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from transforms.kanon.hierarchy import Hierarchy
from transforms.kanon.histogram import Histogram
from transforms.kanon.lattice import search_lattice
from transforms.kanon.metrics import histogram_risk, risk_from_sizes
from transforms.kanon.mondrian import mondrian
from transforms.kanon.recode import Recoding, lattice_recoding, recoding_from_labels

METHODS = ("lattice", "mondrian")


@dataclass(frozen=True)
class Solution:
    recoding: Recoding
    summary: dict[str, Any]


def solve(
    hist: Histogram,
    hierarchies: Mapping[str, Hierarchy],
    k: int,
    suppression_limit: float = 0.0,
    metric: str = "loss",
    ell: int | None = None,
    method: str = "lattice",
) -> Solution:
    """Anonymize the histogram with `method`; NoSolutionError when the model cannot be met."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    started = time.perf_counter()
    qi = hist.qi
    if method == "mondrian":
        part = mondrian(hist, hierarchies, k, ell)
        recoding = recoding_from_labels(hist, hierarchies, part.labels, np.zeros(len(hist), dtype=bool))
        sizes = np.bincount(part.partition, weights=hist.counts.astype(np.float64)).astype(np.int64)
        after = risk_from_sizes(sizes, k)
        levels, loss, per_attr, dm = None, part.loss, part.loss_per_attribute, part.discernibility
        suppressed, classes, min_size = 0, part.classes, part.min_class_size
        search: dict[str, Any] = {"partitions": part.classes}
    else:
        found = search_lattice(hist, hierarchies, k, suppression_limit, metric, ell)
        best = found.best
        recoding = lattice_recoding(hist, hierarchies, best.levels, k, ell)
        after = histogram_risk(hist, hierarchies, k, best.levels, ell, suppress=True)
        levels, loss, per_attr, dm = list(best.levels), best.loss, best.loss_per_attribute, best.discernibility
        suppressed, classes, min_size = best.suppressed, best.classes, best.min_class_size
        search = {"lattice_nodes": found.nodes, "nodes_evaluated": found.evaluated}
    n = hist.records
    search["seconds"] = round(time.perf_counter() - started, 3)
    search["histogram_rows"] = len(hist)
    summary = {
        "records": n,
        "levels": levels,
        "loss": loss,
        "loss_per_attribute": dict(zip(qi, per_attr, strict=True)),
        "discernibility": dm,
        "suppressed": suppressed,
        "suppressed_share": suppressed / n if n else 0.0,
        "classes": classes,
        "min_class_size": min_size,
        "average_class_size": (n - suppressed) / classes if classes else 0.0,
        "risk_before": histogram_risk(hist, hierarchies, k).as_dict(),
        "risk_after": after.as_dict(),
        "search": search,
    }
    return Solution(recoding, summary)
