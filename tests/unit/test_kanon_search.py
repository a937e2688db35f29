"""The histogram search on a hand-computed example and against brute force (no Spark needed)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from transforms.kanon import (
    NoSolutionError,
    encode_histogram,
    histogram_from_arrays,
    lattice_recoding,
    mondrian,
    parse_hierarchy,
    risk_from_sizes,
    search_lattice,
)
from transforms.kanon.groups import NodeGrouper
from transforms.kanon.hierarchy import HierarchyError
from transforms.kanon.lattice import max_suppressed

SEX = parse_hierarchy("sex", [["男", "*"], ["女", "*"]], "sex.csv")
PREF = parse_hierarchy(
    "pref", [["東京都", "関東", "*"], ["神奈川県", "関東", "*"], ["大阪府", "関西", "*"], ["京都府", "関西", "*"]], "pref.csv"
)
H = {"sex": SEX, "pref": PREF}
# 8 people; rows 7 and 8 are the only 男/関西 and 女/関東.
PEOPLE = [("男", "東京都"), ("男", "東京都"), ("男", "神奈川県"), ("女", "大阪府"),
          ("女", "京都府"), ("女", "京都府"), ("男", "大阪府"), ("女", "東京都")]


def _hist(people=PEOPLE, sensitive=None):
    keys = [p + ((s,) if sensitive else ()) for p, s in zip(people, sensitive or [None] * len(people), strict=True)]
    counts: dict = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return encode_histogram([key + (n,) for key, n in counts.items()], ["sex", "pref"], H,
                            "dx" if sensitive else None)


def test_req21_hand_example_without_suppression_generalizes_pref_to_top():
    best = search_lattice(_hist(), H, k=2).best
    assert best.levels == (0, 2)
    assert best.suppressed == 0 and best.classes == 2 and best.min_class_size == 4
    assert best.loss == pytest.approx(math.sqrt(2) - 1, abs=1e-12)  # per attribute (0, 1)
    assert best.loss_per_attribute == (0.0, 1.0)


def test_req21_hand_example_with_25_percent_suppresses_the_two_outliers():
    best = search_lattice(_hist(), H, k=2, suppression_limit=0.25).best
    assert best.levels == (0, 1) and best.suppressed == 2
    # sex: 2 suppressed cells / 8; pref: 6 cells x 1/3 + 2 suppressed, / 8
    assert best.loss_per_attribute == pytest.approx((0.25, 0.5))
    assert best.loss == pytest.approx(math.sqrt(1.25 * 1.5) - 1)
    rec = lattice_recoding(_hist(), H, best.levels, k=2)
    released = {r[:2]: r[2:] for r in rec.rows()}
    assert released[("男", "大阪府")] == ("*", "*") and released[("女", "東京都")] == ("*", "*")
    assert released[("男", "神奈川県")] == ("男", "関東") and released[("女", "京都府")] == ("女", "関西")


def test_discernibility_hand_example_and_tie_break_by_levels():
    # 0%: (0,2) and (1,1) both have DM 4^2 + 4^2 = 32; equal sums of levels -> lexicographic (0,2)
    assert search_lattice(_hist(), H, k=2, metric="discernibility").best.levels == (0, 2)
    # 25%: (1,0) keeps 3,2,2 and suppresses 1: 9+4+4 + 1*8 = 25 < (0,1): 9+9 + 2*8 = 34
    best = search_lattice(_hist(), H, k=2, suppression_limit=0.25, metric="discernibility").best
    assert best.levels == (1, 0) and best.discernibility == 25.0


def test_distinct_l_diversity_forces_more_generalization():
    dx = ["A", "A", "A", "A", "B", "C", "A", "A"]  # all 男 have A; 関東 has only A
    assert search_lattice(_hist(sensitive=dx), H, k=2).best.levels == (0, 2)
    best = search_lattice(_hist(sensitive=dx), H, k=2, ell=2).best
    assert best.levels == (1, 2) and best.loss == pytest.approx(1.0)
    with pytest.raises(NoSolutionError):
        search_lattice(_hist(sensitive=dx), H, k=2, ell=4)


def test_risk_metrics_hand_computed_before_treatment():
    risk = risk_from_sizes([2, 1, 1, 2, 1, 1], k=2)
    assert (risk.records, risk.classes, risk.records_below_k, risk.sample_uniques) == (8, 6, 4, 4)
    assert risk.prosecutor_risk_max == 1.0 and risk.prosecutor_risk_mean == 0.75
    assert risk.share_below_k == 0.5 and risk.average_class_size == pytest.approx(8 / 6)


def test_mondrian_hand_example_is_k_anonymous_without_suppression():
    result = mondrian(_hist(), H, k=3)
    sizes = np.bincount(result.partition, weights=_hist().counts)
    assert sizes.min() >= 3 and result.classes == 2 and result.min_class_size == 4  # 関東/関西 would leave 1
    with pytest.raises(NoSolutionError):
        mondrian(_hist(), H, k=9)


@pytest.mark.parametrize("k,limit,ell,metric", [(3, 0.0, None, "loss"), (2, 0.1, None, "loss"),
                                                (4, 0.2, 2, "loss"), (2, 0.15, None, "discernibility"),
                                                (3, 0.05, 2, "discernibility")])
def test_pruned_search_equals_brute_force_on_random_histogram(k, limit, ell, metric):
    rng = np.random.default_rng(7)
    hs = {f"a{j}": _random_hierarchy(f"a{j}", rng) for j in range(4)}
    codes = np.stack([rng.integers(0, hs[f"a{j}"].size, 300) for j in range(4)], axis=1)
    hist = histogram_from_arrays(list(hs), codes, rng.integers(1, 4, 300), rng.integers(0, 3, 300))
    grouper, budget = NodeGrouper(hist, hs), max_suppressed(hist.records, limit)
    every = [grouper.evaluate(n, k, ell) for n in itertools.product(*[range(d) for d in grouper.depths])]
    passing = [s for s in every if s.suppressed <= budget]
    value = (lambda s: s.loss) if metric == "loss" else (lambda s: s.discernibility)
    want = min(passing, key=lambda s: (value(s), sum(s.levels), s.levels))
    got = search_lattice(hist, hs, k, limit, metric, ell)
    assert got.best.levels == want.levels and got.evaluated < len(every)


def _random_hierarchy(name: str, rng: np.random.Generator):
    leaves = int(rng.integers(4, 9))
    rows = [[f"{name}{i}", f"{name}g{i // 2}", f"{name}G{i // 4}", "*"] for i in range(leaves)]
    return parse_hierarchy(name, rows, f"{name}.csv")


def test_scaling_counts_and_k_by_100_keeps_the_optimum():
    hist = _hist()
    big = histogram_from_arrays(hist.qi, hist.codes, hist.counts * 100)
    small, large = search_lattice(hist, H, 2, 0.25).best, search_lattice(big, H, 200, 0.25).best
    assert large.levels == small.levels and large.loss == pytest.approx(small.loss, abs=1e-12)
    assert large.suppressed == 100 * small.suppressed


@pytest.mark.parametrize("bad", [{"k": 0}, {"k": 2, "suppression_limit": 1.5}, {"k": 2, "ell": 0},
                                 {"k": 2, "metric": "entropy"}])
def test_bad_criteria_are_refused(bad):
    with pytest.raises(ValueError):
        search_lattice(_hist(), H, **bad)


def test_value_missing_from_hierarchy_names_column_and_value():
    with pytest.raises(HierarchyError, match=r"column 'pref': value '北海道'"):
        encode_histogram([("男", "北海道", 1)], ["sex", "pref"], H)
    with pytest.raises(HierarchyError, match=r"value None"):
        encode_histogram([(None, "東京都", 1)], ["sex", "pref"], H)
