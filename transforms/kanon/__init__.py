"""Dataset-level privacy on histograms (DESIGN.md decision 4; requirements 21-22).

One Spark pass counts records per finest quasi-identifier combination (`qi_histogram`); the optimal
full-domain generalization (`search_lattice`, ARX semantics) or a Mondrian partitioning (`mondrian`)
is computed on that histogram in the driver; one more pass applies it (`with_recoded_qis`).
"""

from transforms.kanon.delimited import join_delimited, needs_quoting, split_delimited
from transforms.kanon.groups import NodeGrouper, NodeStats, aggregate_loss
from transforms.kanon.hierarchy import (
    SUPPRESSED,
    Hierarchy,
    HierarchyError,
    parse_hierarchy,
)
from transforms.kanon.histogram import Histogram, encode_histogram, histogram_from_arrays, qi_histogram
from transforms.kanon.lattice import NoSolutionError, SearchResult, max_suppressed, search_lattice
from transforms.kanon.metrics import (
    RiskMetrics,
    UtilityMetrics,
    histogram_risk,
    risk_from_sizes,
    risk_metrics,
    utility_metrics,
)
from transforms.kanon.mondrian import MondrianResult, mondrian
from transforms.kanon.recode import (
    Recoding,
    lattice_recoding,
    recoding_frame,
    recoding_from_labels,
    with_recoded_qis,
)

__all__ = [
    "SUPPRESSED",
    "Hierarchy",
    "HierarchyError",
    "Histogram",
    "MondrianResult",
    "NoSolutionError",
    "NodeGrouper",
    "NodeStats",
    "Recoding",
    "RiskMetrics",
    "SearchResult",
    "UtilityMetrics",
    "aggregate_loss",
    "encode_histogram",
    "histogram_from_arrays",
    "histogram_risk",
    "join_delimited",
    "lattice_recoding",
    "max_suppressed",
    "mondrian",
    "needs_quoting",
    "parse_hierarchy",
    "qi_histogram",
    "recoding_frame",
    "recoding_from_labels",
    "risk_from_sizes",
    "risk_metrics",
    "search_lattice",
    "split_delimited",
    "utility_metrics",
    "with_recoded_qis",
]
