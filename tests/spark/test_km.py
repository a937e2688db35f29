"""(k, k^m)-anonymity on a small example, against a brute force written here in plain Python
(issue 16 item 3; requirements 21-22, 規則34条5号).

The brute force tries every generalization (a level for the code hierarchy and one for time),
suppresses with the rule the module documents, computes the NCP loss with fractions and takes the
least; the Spark search must choose the same level, suppress the same rows and reach the same loss.
An exhaustive check, also written here, confirms that no patient is singled out by their
quasi-identifiers plus any m of their released items, and that the input itself was singled out.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from fractions import Fraction

import pytest

from transforms.local import local_frame
from transforms.release.km import KmCriteria, NoKmSolution, search
from transforms.release.km_items import TIME_LEVELS, ItemSpec

# 8 codes, a 3-level hierarchy (code -> group -> chapter).
HIERARCHY = {
    "c1": {"group": "g1", "chapter": "A"}, "c2": {"group": "g1", "chapter": "A"},
    "c3": {"group": "g2", "chapter": "A"}, "c4": {"group": "g2", "chapter": "A"},
    "c5": {"group": "g3", "chapter": "B"}, "c6": {"group": "g3", "chapter": "B"},
    "c7": {"group": "g4", "chapter": "B"}, "c8": {"group": "g4", "chapter": "B"},
}
SPEC = ItemSpec("diagnoses.disease_code", "diagnoses", "disease_code", "service_month", ("group", "chapter"), HIERARCHY)
MONTHS = [dt.date(2025, m, 1) for m in (1, 2, 4, 5, 7, 11)]


def _patients(seed: int, n: int = 28) -> dict[str, tuple[str, list[tuple[str, dt.date, int]]]]:
    """pid -> (class, [(code, month, rows)]): two classes, codes drawn with a skew so some are common."""
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        q = "q1" if i % 3 else "q2"
        items = {(rng.choice(["c1", "c1", "c2", "c3", "c5", "c5", "c6", "c7", "c8", "c4"]), rng.choice(MONTHS))
                 for _ in range(rng.randint(1, 4))}
        out[f"p{i:02d}"] = (q, [(c, mo, rng.randint(1, 3)) for c, mo in sorted(items)])
    return out


# ---- the brute force: plain Python, nothing shared with the code under test ----

def _value(code: str, level: int) -> str:
    return code if level == 0 else HIERARCHY[code][("group", "chapter")[level - 1]]


def _period(month: dt.date, level: int) -> str:
    name = TIME_LEVELS[level]
    return {"month": f"{month.year}-{month.month:02d}", "quarter": f"{month.year}-Q{(month.month - 1) // 3 + 1}",
            "half": f"{month.year}-H{1 if month.month <= 6 else 2}", "year": str(month.year)}[name]


def _ncp(code_value: str, code_level: int, time_level: int, span: int) -> Fraction:
    leaves = sum(1 for c in HIERARCHY if _value(c, code_level) == code_value)
    months = {"month": 1, "quarter": 3, "half": 6, "year": 12}[TIME_LEVELS[time_level]]
    return (Fraction(leaves - 1, len(HIERARCHY) - 1) + Fraction(min(months, span) - 1, span - 1)) / 2


def _suppress(held: dict[str, dict[str, int]], klass: dict[str, str], k: int, m: int) -> set[tuple[str, str]]:
    """The module's rule, written out: (pid, item) pairs removed."""
    removed: set[tuple[str, str]] = set()
    while True:
        support: dict[tuple[str, tuple[str, ...]], int] = {}
        for pid, items in held.items():
            for size in range(1, m + 1):
                for combo in itertools.combinations(sorted(items), size):
                    support[(klass[pid], combo)] = support.get((klass[pid], combo), 0) + 1
        for size in range(1, m + 1):
            bad = {key for key, n in support.items() if len(key[1]) == size and n < k}
            if bad:
                break
        else:
            return removed
        drops = set()
        for pid, items in held.items():
            for combo in itertools.combinations(sorted(items), size):
                if (klass[pid], combo) in bad:
                    drop = min(combo, key=lambda it: (support[(klass[pid], (it,))], [-ord(ch) for ch in it]))
                    drops.add((pid, drop))
        for pid, item in drops:
            del held[pid][item]
            removed.add((pid, item))


def _brute(patients, k: int, m: int, limit: float):
    span = len({mo for _, items in patients.values() for _, mo, _ in items})
    total = sum(r for _, items in patients.values() for *_, r in items)
    klass = {pid: q for pid, (q, _) in patients.items()}
    results = []
    for node in itertools.product(range(3), range(len(TIME_LEVELS))):
        held: dict[str, dict[str, int]] = {}
        cost = Fraction(0)
        for pid, (_, items) in patients.items():
            for code, mo, rows in items:
                value = _value(code, node[0])
                item = f"{SPEC.name}|{value}|{_period(mo, node[1])}"
                held.setdefault(pid, {})[item] = held.get(pid, {}).get(item, 0) + rows
                cost += rows * _ncp(value, node[0], node[1], span)
        gen = cost / total
        removed = _suppress(held, klass, k, m)
        rows_removed = sum(_rows_of(patients, pid, item, node) for pid, item in removed)
        if rows_removed > int(limit * total):
            continue
        extra = sum((_rows_of(patients, pid, item, node) * (1 - _ncp(item.split("|")[1], node[0], node[1], span))
                     for pid, item in removed), Fraction(0))
        results.append(((gen + extra / total, gen, sum(node), node), node, rows_removed, held))
    return min(results, key=lambda r: r[0]) if results else None


def _rows_of(patients, pid, item, node) -> int:
    _, value, period = item.split("|")
    return sum(r for code, mo, r in patients[pid][1] if _value(code, node[0]) == value and _period(mo, node[1]) == period)


def _singled_out(held: dict[str, dict[str, int]], klass: dict[str, str], k: int, m: int) -> set[str]:
    """Patients whose class plus some combination of at most m of their items is held by fewer than k."""
    support: dict[tuple[str, tuple[str, ...]], int] = {}
    for pid, items in held.items():
        for size in range(1, m + 1):
            for combo in itertools.combinations(sorted(items), size):
                support[(klass[pid], combo)] = support.get((klass[pid], combo), 0) + 1
    return {pid for pid, items in held.items() for size in range(1, m + 1)
            for combo in itertools.combinations(sorted(items), size) if support[(klass[pid], combo)] < k}


# ---- the Spark side ----

def _items(spark, patients):
    rows = [(pid, q, SPEC.name, code, mo, r) for pid, (q, items) in patients.items() for code, mo, r in items]
    return local_frame(spark, rows, "pid string, __q string, __spec string, __code string, __month date, __rows long")


@pytest.mark.parametrize("seed, k, m", [(1, 3, 1), (1, 3, 2), (7, 4, 2), (11, 2, 2)])
def test_req22_km_search_finds_the_brute_force_optimum(spark, cache, seed, k, m):
    patients = _patients(seed)
    expected = _brute(patients, k, m, 0.3)
    assert expected is not None
    (loss, *_), node, rows_removed, held = expected
    got = search(_items(spark, patients), [SPEC], KmCriteria(k, m, 0.3), cache)
    assert (got.node, got.rows_suppressed, got.loss) == (node, rows_removed, loss)
    removed = {(r["pid"], r["__item"]) for r in got.removed.collect()}
    klass = {pid: q for pid, (q, _) in patients.items()}
    kept = {pid: {it for it in items if (pid, it) not in removed} for pid, items in _all_items(patients, node).items()}
    assert kept == {pid: set(items) for pid, items in held.items()}
    assert _singled_out({p: dict.fromkeys(v, 1) for p, v in kept.items()}, klass, k, m) == set()
    # the same data, ungeneralized and unsuppressed, singles patients out
    assert _singled_out({p: dict.fromkeys(v, 1) for p, v in _all_items(patients, (0, 0)).items()}, klass, k, m)


def _all_items(patients, node):
    return {pid: {f"{SPEC.name}|{_value(c, node[0])}|{_period(mo, node[1])}" for c, mo, _ in items}
            for pid, (_, items) in patients.items()}


def test_req22_no_generalization_within_the_limit_is_refused(spark, cache):
    patients = _patients(3)
    assert _brute(patients, 12, 2, 0.0) is None
    with pytest.raises(NoKmSolution, match="k=12, m=2.*suppression limit 0"):
        search(_items(spark, patients), [SPEC], KmCriteria(12, 2, 0.0), cache)
