"""The erase run: find what held the subject (before anything changes), delete, VACUUM, record.

It holds the warehouse's bronze lock (one writer of bronze at a time: ingest, erase, run) and the lock
of every staged candidate it removes, so no publish promotes a candidate while its subject is erased
(jobs/runtime/lock.py). The published releases are listed after those locks are taken: a publish that
ended just before is listed, one still running makes erase refuse (exit 1) before it changes anything."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from contextlib import ExitStack
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.runtime import fs
from jobs.runtime.config import PipelineConfig
from jobs.runtime.delta_io import is_delta, vacuum
from jobs.runtime.lock import release_lock, warehouse_lock
from jobs.runtime.warehouse import Warehouse
from jobs.stages.erase.audit import append_audit
from jobs.stages.erase.delete import bronze_tables, delete_subject
from jobs.stages.erase.releases import published_holding, staged_holding, staged_older_than, staging_dir
from jobs.stages.erase.subject import Subject, expired_files
from jobs.stages.ingest.intake import INTAKE

log = logging.getLogger("tokumei.erase")


def _remove_staging(spark: SparkSession, wh: Warehouse, rid: str) -> dict[str, int]:
    """A staged candidate that held the subject is removed whole: its pseudonyms cannot be traced back
    without rebuilding the linkage, and without the subject its k-anonymity, (k, k^m) and validation
    no longer hold (requirement 44: undelivered releases are rebuilt). Its rows are counted for the
    record, then the directory goes with every data file and log of every version (nothing is left
    for time travel, so no VACUUM is needed)."""
    out: dict[str, int] = {}
    tables = staging_dir(wh, rid) / "tables"
    for t in sorted(p.name for p in tables.iterdir()) if tables.is_dir() else []:
        path = wh.staging_table(rid, t)
        if is_delta(spark, path):
            out[f"staging/{rid}/{t}"] = spark.read.format("delta").load(path).count()
    fs.remove_tree(staging_dir(wh, rid))
    return out


def _intake_kept(spark: SparkSession, wh: Warehouse, subject: Subject) -> int:
    path = wh.record(INTAKE)
    if not is_delta(spark, path):
        return 0
    df = spark.read.format("delta").load(path)
    shas = list(subject.file_shas)
    if subject.receipt_keys is not None:
        shas += [r[0] for r in subject.receipt_keys.select(F.substring_index("receipt_key", ":", 1)).distinct().collect()]
    cond = F.col("file_sha256").isin(shas)
    if subject.institution:
        cond = cond | F.col("provider_code").contains(subject.institution)
    return int(df.where(cond).count())


def erase(spark: SparkSession, cfg: PipelineConfig, wh: Warehouse, subject: Subject, operator: str, reason: str,
          layouts_dir: str, staging_only: list[str] | None = None, break_lock: bool = False) -> dict[str, Any]:
    """Delete `subject` from bronze and staging, VACUUM, append the erasure record; return the summary.
    `break_lock`: the operator's --break-lock, for a staged candidate's lock left by a killed publish."""
    with warehouse_lock(wh, "erase stage"), ExitStack() as locks:
        staged = staged_holding(spark, wh, subject) if staging_only is None else staging_only
        for rid in staged:
            locks.enter_context(release_lock(wh, rid, f"erase stage (removes staging/{rid})", break_lock=break_lock))
        releases = published_holding(spark, wh, subject)  # before the DELETE: time travel still reads them
        return _erase(spark, cfg, wh, subject, operator, reason, layouts_dir, staged, releases)


def _erase(spark: SparkSession, cfg: PipelineConfig, wh: Warehouse, subject: Subject, operator: str, reason: str,
           layouts_dir: str, staged: list[str], releases: list[dict[str, str]]) -> dict[str, Any]:
    hours = cfg.erase.vacuum_retention_hours
    tables = bronze_tables(layouts_dir)
    deleted = delete_subject(spark, wh, subject, tables)
    for table, n in sorted(deleted.items()):
        if n:
            vacuum(spark, wh.bronze(table), hours)
    for rid in staged:
        deleted.update(_remove_staging(spark, wh, rid))
    erase_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    row = {"erase_id": erase_id, "kind": subject.kind, "subject_digest": subject.digest,
           "description": subject.description, "rows_deleted": {t: int(n) for t, n in deleted.items()},
           "staging_removed": list(staged), "releases_holding": [r["release_id"] for r in releases],
           "intake_records_kept": _intake_kept(spark, wh, subject), "vacuum_retention_hours": float(hours),
           "operator": operator, "reason": reason}
    append_audit(spark, wh, row)
    return {**row, "releases": releases}


def erase_expired(spark: SparkSession, cfg: PipelineConfig, wh: Warehouse, operator: str, reason: str,
                  layouts_dir: str, break_lock: bool = False) -> dict[str, Any]:
    """`retention.days` per zone: bronze files ingested before the cutoff, staging candidates created
    before it (requirement 46)."""
    days = cfg.retention.days
    subject = expired_files(spark, wh, days.bronze) if days.bronze is not None else Subject(
        "expired", "bronze の保存期間は未設定（retention.days.bronze: null）", "-")
    staged = staged_older_than(wh, days.staging) if days.staging is not None else []
    if days.staging is not None:
        subject = Subject(subject.kind, subject.description + f"; 作成から {days.staging} 日を過ぎたステージング候補 "
                          f"{len(staged)} 件", subject.digest, file_shas=subject.file_shas)
    return erase(spark, cfg, wh, subject, operator, reason, layouts_dir, staging_only=staged, break_lock=break_lock)
