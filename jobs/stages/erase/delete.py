"""Delta DELETE of a subject's rows in every bronze table, and the VACUUM that makes them unrecoverable.

Ledgers stay: `_files` keeps the erased files' rows, so the next ingest skips those files (same
sha256) instead of bringing the rows back; `_optout_patients` and `_optout_log` hold no clinical data
and keep opted-out people out of later deliveries (requirement 42). The legal records (WH/records)
are never touched here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.delta_io import delete_matching, delete_where, is_delta, last_commit, sql_string
from jobs.runtime.warehouse import Warehouse
from jobs.stages.erase.subject import Subject
from jobs.stages.ingest.clinical import PATIENT_KEY, load_layouts
from jobs.stages.ingest.identities import IDENTITIES, clinical_nodes
from transforms.identity.erasure import rejects_of_receipts
from transforms.uke.layout import CLAIM_TABLES

REJECTS = "_rejects"
log = logging.getLogger("tokumei.erase")


def bronze_tables(layouts_dir: str) -> list[str]:
    """Every bronze table that holds personal data: the UKE tables, the declared clinical extracts,
    the stored identities and the rejects (their raw lines)."""
    uke = list(CLAIM_TABLES)
    clinical = [layout.table for layout in load_layouts(layouts_dir)]
    return sorted({*uke, *clinical}) + [IDENTITIES, REJECTS]


def _deleted(spark: SparkSession, path: str, before: int) -> int:
    commit = last_commit(spark, path)
    if commit["version"] == before:
        return 0
    m = commit["metrics"]
    return int(m.get("numDeletedRows", m.get("numTargetRowsDeleted", 0)))


def _delete_where(spark: SparkSession, path: str, cond: str) -> int:
    before = last_commit(spark, path)["version"]
    delete_where(spark, path, cond)
    return _deleted(spark, path, before)


def _delete_keys(spark: SparkSession, path: str, keys: DataFrame, cols: Sequence[str]) -> int:
    before = last_commit(spark, path)["version"]
    delete_matching(spark, path, keys, cols)
    return _deleted(spark, path, before)


def _table_condition(subject: Subject, columns: Sequence[str]) -> str | None:
    """The SQL condition of the subject's rows in a table with these columns (a Delta DELETE takes SQL
    under Spark Connect too; jobs/runtime/delta_io.py)."""
    conds = []
    if subject.file_shas and "file_sha256" in columns:
        conds.append(f"file_sha256 IN ({', '.join(sql_string(s) for s in sorted(subject.file_shas))})")
    if subject.institution and set(PATIENT_KEY) <= set(columns):
        conds.append(f"institution_code = {sql_string(subject.institution)}")
    if subject.institution and "node" in columns:  # clinical nodes of the institution (linkage.clinical_node)
        prefix = "C\u001f" + subject.institution + "\u001f"
        conds.append(f"startswith(node, {sql_string(prefix)})")
    return " OR ".join(f"({c})" for c in conds) or None


def delete_subject(spark: SparkSession, wh: Warehouse, subject: Subject, tables: Sequence[str]) -> dict[str, int]:
    """Rows deleted per bronze table. The tables the keys come from (receipts, patients) go last, and
    the rejected lines of the subject's receipts are found before the receipts are deleted."""
    out: dict[str, int] = {}
    paths = {t: wh.bronze(t) for t in tables if is_delta(spark, wh.bronze(t))}
    rejects = None
    if subject.receipt_keys is not None and REJECTS in paths and "receipts" in paths:
        receipts = spark.read.format("delta").load(paths["receipts"])
        rejects = rejects_of_receipts(receipts, spark.read.format("delta").load(paths[REJECTS]),
                                      subject.receipt_keys).localCheckpoint()
    for table in sorted(paths, key=lambda t: t in ("receipts", "patients")):
        path, n = paths[table], 0
        columns = spark.read.format("delta").load(path).columns
        cond = _table_condition(subject, columns)
        if cond is not None:
            n += _delete_where(spark, path, cond)
        if subject.receipt_keys is not None:
            if "receipt_key" in columns:
                n += _delete_keys(spark, path, subject.receipt_keys, ["receipt_key"])
            if table == IDENTITIES:
                n += _delete_keys(spark, path, subject.receipt_keys.select(F.col("receipt_key").alias("node")), ["node"])
        if subject.patient_keys is not None:
            if set(PATIENT_KEY) <= set(columns):
                n += _delete_keys(spark, path, subject.patient_keys, PATIENT_KEY)
            if table == IDENTITIES:
                n += _delete_keys(spark, path, clinical_nodes(subject.patient_keys), ["node"])
        if table == REJECTS and rejects is not None:
            n += _delete_keys(spark, path, rejects, ["file_sha256", "line_no"])
        out[table] = n
    return out
