"""The items of a staged release, rebuilt from its own tables for validation ((k, k^m), issue 16).

Independent of the anonymizer: the released tables are read as a recipient sees them (pid,
receipt_id, the released code and month columns) and turned into one row per (patient, class,
item), which the GX expectation `ExpectItemCombinationsHeldByAtLeastK` counts.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from expectations.checks import TableChecks
from transforms.policy import Policy

KM_ITEMS = "_km_items"  # the name of the derived frame in the validation results


def released_patients(policy: Policy, tables: Mapping[str, DataFrame]) -> DataFrame:
    """`(pid, q)`: every released patient with their quasi-identifiers as one value."""
    qi = list(policy.params.quasi_identifiers)
    return tables["patients"].select(
        "pid", F.concat_ws("\u001f", *[F.coalesce(F.col(c).cast("string"), F.lit("\u2205")) for c in qi]).alias("q"))


def released_items(policy: Policy, tables: Mapping[str, DataFrame]) -> DataFrame:
    """`(pid, item, code, time)`: every (code, month) item the released tables show (policy has km)."""
    km = policy.params.km
    assert km is not None
    receipts = policy.tables["receipts"]
    parts = []
    for item in km.items:
        table = policy.tables[item.table]
        df = tables[table.output or ""]
        code = table.columns[item.code].output
        if item.time in table.columns:
            frame = df.select("pid", F.col(code).alias("code"), F.col(table.columns[item.time].output).alias("time"))
        else:  # the month of the row's receipt, joined on the released receipt pseudonym
            rid = table.columns["receipt_key"].output
            months = tables[receipts.output or ""].select(F.col(receipts.columns["receipt_key"].output).alias("__rid"),
                                                          F.col(receipts.columns[item.time].output).alias("time"))
            frame = df.join(months, df[rid] == months["__rid"], "left").select("pid", F.col(code).alias("code"), "time")
        parts.append(frame.where(F.col("code").isNotNull() & F.col("time").isNotNull()).select(
            "pid", F.concat_ws("|", F.lit(item.name), F.col("code").cast("string"), F.col("time").cast("string")).alias("item"),
            F.concat_ws("|", F.lit(item.name), F.col("code").cast("string")).alias("code"), F.col("time").cast("string").alias("time")))
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    return union


def km_items_frame(policy: Policy, tables: Mapping[str, DataFrame]) -> DataFrame | None:
    """`(pid, q, item)` of every released patient, or None without `params.km`."""
    if policy.params.km is None or "patients" not in tables:
        return None
    items = released_items(policy, tables)
    return items.join(released_patients(policy, tables), "pid", "inner").select("pid", "q", "item").distinct()


def km_checks(policy: Policy) -> TableChecks:
    km = policy.params.km
    assert km is not None
    return TableChecks(KM_ITEMS, ("pid", "q", "item"), min_itemset_support=(int(policy.params.k), km.m))
