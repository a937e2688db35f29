"""What each rule did to a table, counted in the pass that writes it (`DataFrame.observe` metrics).

Per source column (`keep` columns only say so): `cells` (non-null input cells), `changed` (non-null cells whose value differs),
`suppressed` (non-null cells that became null), and the method's own word for `changed`
(generalized, replaced, perturbed) so the release record reads the way the law describes the steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from transforms.policy.methods import METHODS

if TYPE_CHECKING:
    from transforms.policy import Rule


def rule_metrics(i: int, col: str, rule: Rule, new: str | None) -> list[Column]:
    """Aggregate expressions for rule number `i` (source `col`, output column `new` if any).

    A `keep` column is not counted: it changes nothing, and each aggregate costs every row of the
    writing pass (receipts keep about 30 columns; counting them doubled the cost of writing it)."""
    if rule.method == "keep":
        return []
    src = F.col(col)
    out = [F.count(src).alias(f"c{i}_cells")]
    if new is None:
        return out
    dst = F.col(new)
    if not always_changes(rule):
        changed = src.isNotNull() & dst.isNotNull() & (src.cast("string") != dst.cast("string"))
        out.append(F.sum(F.when(changed, 1).otherwise(0)).alias(f"c{i}_changed"))
    out.append(F.sum(F.when(src.isNotNull() & dst.isNull(), 1).otherwise(0)).alias(f"c{i}_suppressed"))
    return out


def always_changes(rule: Rule) -> bool:
    """Whether every value the rule outputs differs from its input, so that `changed` is the cells
    not suppressed and no row needs comparing (the comparison formats both sides as strings: dates
    through a formatter). A keyed pseudonym (hex of an HMAC) never equals its input; a date becomes
    a year, quarter or month string (or null above the top age), or an age or age band."""
    return rule.method in ("pseudonymize", "generalize_date", "age", "age_band")


def stats_from_metrics(
    metrics: dict[str, Any], rules: list[tuple[str, Rule]], absent: list[str], notes: dict[str, Any]
) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for i, (col, rule) in enumerate(rules):
        cells = int(metrics.get(f"c{i}_cells") or 0)
        suppressed = int(metrics.get(f"c{i}_suppressed") or 0)
        changed = cells - suppressed if always_changes(rule) else int(metrics.get(f"c{i}_changed") or 0)
        category = METHODS[rule.method].category
        if rule.method == "keep":
            columns[col] = {"method": "keep", "output": rule.output, "changed": 0}
            if col in notes:
                columns[col]["detail"] = notes[col]
            continue
        entry: dict[str, Any] = {
            "method": rule.method,
            "output": None if rule.method == "drop" else rule.output,
            "cells": cells,
            "changed": cells if rule.method == "drop" else changed,
            "generalized": changed if category == "generalized" else 0,
            "replaced": changed if category == "replaced" else 0,
            "perturbed": changed if category == "perturbed" else 0,
            "suppressed": suppressed,
            "removed": cells if rule.method == "drop" else 0,
        }
        if col in notes:
            entry["detail"] = notes[col]
        columns[col] = entry
    for col in absent:
        columns[col] = {"method": "absent", "note": "column not present in the input table"}
    return {
        "rows_in": int(metrics.get("rows") or 0),
        "rows_removed": int(metrics.get("rows_removed") or 0),
        # rows removed for a caller's reason (k-anonymity, the waiting period), counted in the same pass
        "rows_removed_by": {k.split(":", 1)[1]: int(v or 0) for k, v in metrics.items() if k.startswith("removed_by:")},
        "columns": columns,
    }
