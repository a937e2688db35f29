"""Stop requests that arrive after a person's data was ingested: delete them from bronze (requirements 42, 44).

Ingest withholds opted-out people from the files it reads (jobs/stages/ingest/uke.py, jobs/stages/ingest/clinical.py);
this module re-applies the registry to what earlier runs already wrote, on every run, so a request added
between two runs removes the person from bronze and so from every later release (42(b)). Rows go with a
Delta DELETE (MERGE ... WHEN MATCHED DELETE); `vacuum_purged` removes the deleted files after the
retention window so time travel cannot bring them back (44). Each run appends its counts, never an
identity, to `bronze/_optout_log` (the audit record of 44).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.runtime.delta_io import delete_matching, is_delta, last_commit, vacuum
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.clinical import PATIENT_KEY, known_patient_keys
from jobs.stages.ingest.identities import IDENTITIES, clinical_nodes
from transforms.clinical.extract import ClinicalLayout
from transforms.identity.optout import opted_out_receipts
from transforms.uke.layout import CLAIM_TABLES

OPTOUT_LOG = "_optout_log"
# (institution_code, patient_id) of opted-out patients: extracts keyed by patient id only (labs) carry no
# identity to match, so later deliveries are withheld through this list. Restricted zone; `_` tables are
# never read by anonymize, so it cannot reach a release.
OPTOUT_PATIENTS = "_optout_patients"
LOG_SCHEMA = T.StructType([
    T.StructField("run_id", T.StringType(), False),
    T.StructField("table", T.StringType(), False),
    T.StructField("key_kind", T.StringType(), False),  # receipt_key | patient
    T.StructField("keys_matched", T.LongType(), False),
    T.StructField("rows_deleted", T.LongType(), False),
    T.StructField("delta_version", T.LongType(), True),
    T.StructField("purged_at", T.TimestampType(), False),
])
_UKE_TABLES = CLAIM_TABLES

log = logging.getLogger(__name__)


def opted_receipts(spark: SparkSession, wh: Warehouse, registry_ids: DataFrame) -> DataFrame | None:
    if not is_delta(spark, wh.bronze("receipts")):
        return None
    frames = {t: spark.read.format("delta").load(wh.bronze(t)) if is_delta(spark, wh.bronze(t)) else None
              for t in ("receipts", "insurances", "eligibility")}
    assert frames["receipts"] is not None
    return opted_out_receipts(frames["receipts"], frames["insurances"], frames["eligibility"], registry_ids)


def prior_patient_keys(spark: SparkSession, wh: Warehouse, registry_ids: DataFrame) -> DataFrame | None:
    """PATIENT_KEY of opted-out patients known before this run: in bronze patients, or withheld earlier."""
    frames = []
    if is_delta(spark, wh.bronze("patients")):
        frames.append(known_patient_keys(spark, wh.bronze("patients"), registry_ids))
    if is_delta(spark, wh.bronze(OPTOUT_PATIENTS)):
        frames.append(spark.read.format("delta").load(wh.bronze(OPTOUT_PATIENTS)).select(*PATIENT_KEY))
    return reduce(DataFrame.unionByName, frames).distinct() if frames else None


def record_patient_keys(spark: SparkSession, wh: Warehouse, keys: DataFrame, run_id: str) -> None:
    """Append the patients this run withheld or purged that the list does not hold yet."""
    path = wh.bronze(OPTOUT_PATIENTS)
    new = keys.select(*PATIENT_KEY).distinct()
    if is_delta(spark, path):
        new = new.join(spark.read.format("delta").load(path), list(PATIENT_KEY), how="left_anti")
    new = new.select(*PATIENT_KEY, F.lit(run_id).alias("run_id")).localCheckpoint()
    if new.count() or not is_delta(spark, path):
        new.write.format("delta").mode("append").save(path)


def _delete(spark: SparkSession, path: str, keys: DataFrame, cols: Sequence[str]) -> tuple[int, int | None]:
    """Delete the rows whose `cols` are in `keys`; (rows deleted, Delta version of the delete or None)."""
    if not is_delta(spark, path) or not set(cols) <= set(spark.read.format("delta").load(path).columns):
        return 0, None
    before = last_commit(spark, path)["version"]
    delete_matching(spark, path, keys, cols)
    commit = last_commit(spark, path)
    deleted = int(commit["metrics"].get("numTargetRowsDeleted", 0))
    return deleted, (commit["version"] if commit["version"] != before and deleted else None)


def purge_opted_out(
    spark: SparkSession, wh: Warehouse, registry_ids: DataFrame, layouts: Sequence[ClinicalLayout], run_id: str
) -> dict[str, Any]:
    """Delete from existing bronze tables every receipt and patient the registry now names; log the counts."""
    entries: list[tuple[str, str, int, int, int | None]] = []
    receipts = opted_receipts(spark, wh, registry_ids)
    if receipts is not None:
        # Materialized, and the tables the keys come from deleted last: a lazy plan would re-read them.
        keys = receipts.localCheckpoint()
        n = keys.count()
        for table in sorted(_UKE_TABLES, key=lambda t: t == "receipts"):
            if n:
                deleted, version = _delete(spark, wh.bronze(table), keys, ["receipt_key"])
                entries.append((table, "receipt_key", n, deleted, version))
        if n:  # their stored identity hashes too (jobs/stages/ingest/identities.py)
            nodes = keys.select(F.col("receipt_key").alias("node"))
            deleted, version = _delete(spark, wh.bronze(IDENTITIES), nodes, ["node"])
            entries.append((IDENTITIES, "receipt_key", n, deleted, version))
    if is_delta(spark, wh.bronze("patients")):
        patients = known_patient_keys(spark, wh.bronze("patients"), registry_ids).localCheckpoint()
        n = patients.count()
        if n:
            record_patient_keys(spark, wh, patients, run_id)
        for layout in sorted(layouts, key=lambda lay: lay.table == "patients"):
            if n and set(PATIENT_KEY) <= set(layout.names):
                deleted, version = _delete(spark, wh.bronze(layout.table), patients, PATIENT_KEY)
                entries.append((layout.table, "patient", n, deleted, version))
        if n:
            deleted, version = _delete(spark, wh.bronze(IDENTITIES), clinical_nodes(patients), ["node"])
            entries.append((IDENTITIES, "patient", n, deleted, version))
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [(run_id, t, kind, n, d, v, now) for t, kind, n, d, v in entries] or [(run_id, "-", "none", 0, 0, None, now)]
    spark.createDataFrame(rows, LOG_SCHEMA).write.format("delta").mode("append").save(wh.bronze(OPTOUT_LOG))
    deleted_by_table: dict[str, int] = {}
    for t, _, _, d, _ in entries:
        if d:  # _identities is deleted from twice: receipts, then clinical patients
            deleted_by_table[t] = deleted_by_table.get(t, 0) + d
    return {"optout_purged_rows": sum(deleted_by_table.values()), "optout_purged_by_table": deleted_by_table}


def vacuum_purged(spark: SparkSession, wh: Warehouse, retention_hours: float | None = None) -> list[str]:
    """VACUUM the bronze tables a purge deleted from, so old versions cannot return the rows (44).

    `retention_hours=None` keeps each table's retention window (Delta's default 7 days): time travel
    inside the window still works, the deleted files go at the first VACUUM after it. Shorter windows
    disable Delta's safety check for that one call (jobs/runtime/delta_io.vacuum).
    """
    log = wh.bronze(OPTOUT_LOG)
    if not is_delta(spark, log):
        return []
    tables = [r["table"] for r in spark.read.format("delta").load(log).where(F.col("rows_deleted") > 0)
              .select("table").distinct().collect()]
    for table in sorted(tables):
        vacuum(spark, wh.bronze(table), retention_hours)
    return sorted(tables)
