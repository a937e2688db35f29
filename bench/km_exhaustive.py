"""An exhaustive (k, k^m) check of a release's own tables, outside the anonymizer's code path.

Reads the released (or staged) Delta tables as a recipient gets them, collects every patient's
(diagnosis, month) items and quasi-identifiers into plain Python, and counts every combination of
at most m items of every patient. Nothing here imports transforms/ or jobs/: the e2e test and
bench/km_bench.py (the acceptance run at 20,000 patients x 12 months) both use it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path


def release_items(spark, tables: Path, qi: list[str]) -> tuple[dict[str, tuple], dict[str, set[tuple[str, str]]]]:
    """(pid -> quasi-identifier values, pid -> {(disease code, month)}) from `tables` (a tables/ folder)."""
    read = lambda name: spark.read.format("delta").load(str(tables / name))  # noqa: E731
    patients = {r["pid"]: tuple(r[c] for c in qi) for r in read("patients").select("pid", *qi).collect()}
    months = read("receipts").select("receipt_id", "service_month")
    rows = (read("diagnoses").join(months, "receipt_id", "left")
            .where("disease_code IS NOT NULL AND service_month IS NOT NULL")
            .select("pid", "disease_code", "service_month").distinct().collect())
    items: dict[str, set[tuple[str, str]]] = {pid: set() for pid in patients}
    for r in rows:
        if r["pid"] in items:
            items[r["pid"]].add((str(r["disease_code"]), str(r["service_month"])))
    return patients, items


def singled_out(patients: dict[str, tuple], items: dict[str, set[tuple[str, str]]], k: int, m: int) -> dict[int, set[str]]:
    """For j = 1..m: the patients some combination of j of their items, with their quasi-identifiers,
    leaves in a group of fewer than k patients."""
    out = {}
    for j in range(1, m + 1):
        support: Counter[tuple] = Counter()
        for pid, held in items.items():
            for combo in itertools.combinations(sorted(held), j):
                support[(patients[pid], combo)] += 1
        out[j] = {pid for pid, held in items.items()
                  for combo in itertools.combinations(sorted(held), j) if support[(patients[pid], combo)] < k}
    return out
