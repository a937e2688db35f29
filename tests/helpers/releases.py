"""Two published releases of the same input, arguments and key, made by different Spark setups (the
local session, a Spark Connect server, a standalone cluster), must be the same release. Read with
deltalake: no Spark on the reading side."""

from __future__ import annotations

import json
from pathlib import Path

from deltalake import DeltaTable

# Manifest entries that must not differ between the two runs (the others hold paths, times, bronze paths).
SAME_IN_MANIFEST = ("release_regime", "key", "period", "outputs", "counts", "optout", "privacy", "validation")


def table_rows(table: Path) -> list[tuple]:
    frame = DeltaTable(str(table)).to_pandas()
    return sorted(tuple(map(str, row)) for row in frame[sorted(frame.columns)].itertuples(index=False))


def assert_same_release(local: Path, other: Path) -> None:
    """Same tables, same rows (pseudonyms included: keyed by the same key and release id), and the same
    manifest entries of SAME_IN_MANIFEST, with a validation that succeeded."""
    tables = sorted(p.name for p in (local / "tables").iterdir())
    assert sorted(p.name for p in (other / "tables").iterdir()) == tables
    assert "receipts" in tables and "patients" in tables
    for table in tables:
        local_rows, other_rows = table_rows(local / "tables" / table), table_rows(other / "tables" / table)
        assert (table, len(other_rows)) == (table, len(local_rows))
        assert other_rows == local_rows, f"{table}: {len(set(other_rows) ^ set(local_rows))} rows in one only"
    expected, got = (json.loads((r / "manifest.json").read_text(encoding="utf-8")) for r in (local, other))
    assert {k: got[k] for k in SAME_IN_MANIFEST} == {k: expected[k] for k in SAME_IN_MANIFEST}
    assert got["validation"]["success"] is True


MYNUMBER = "123456789018"  # a マイナンバー with a valid check digit


def plant_mynumber(spark, warehouse: Path, release_id: str) -> None:
    """A マイナンバー written (with Delta) into the 病棟区分 (ward_class, a column the policy keeps) of the
    receipts of one patient of the staged release `release_id`: what validate must refuse (requirement 12)."""
    from delta.tables import DeltaTable as SparkDeltaTable
    from pyspark.sql import functions as F

    table = SparkDeltaTable.forPath(spark, str(warehouse / "staging" / release_id / "tables" / "receipts"))
    pid = table.toDF().select("pid").first()["pid"]
    table.update(F.col("pid") == pid, {"ward_class": F.lit(f"個人番号 {MYNUMBER}")})
