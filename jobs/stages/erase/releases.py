"""Which releases held a subject: published ones are listed (never changed: requirement 44 expects
their recipients to be notified), staged candidates are removed (undelivered releases are rebuilt).

A release read bronze at pinned Delta versions (`inputs` in its manifest.json / anonymize.json). It
held the subject when one of those versions has a row of it: checked by time travel before the
DELETE. When a version can no longer be read (files vacuumed by an earlier erase), the release is
listed as possibly holding it: a notification too many is better than one missing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.errors import InputError
from jobs.runtime.warehouse import Warehouse
from jobs.stages.erase.delete import _table_condition
from jobs.stages.erase.subject import Subject
from jobs.stages.ingest.clinical import PATIENT_KEY

log = logging.getLogger("tokumei.erase")
_CHECKED = ("receipts", "patients", "labs")  # a subject's rows are in one of these if anywhere


def _records(wh: Warehouse, zone: str, name: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        root = wh.local_path("/".join([wh.root.rstrip("/"), zone]))
    except InputError:
        log.warning("%s is not local: its releases are not listed", zone)
        return []
    if not root.is_dir():
        return []
    out = []
    for d in sorted(p for p in root.iterdir() if (p / name).is_file()):
        out.append((d.name, json.loads((d / name).read_text(encoding="utf-8"))))
    return out


def _matches(df: DataFrame, subject: Subject) -> DataFrame | None:
    parts = []
    cond = _table_condition(subject, df.columns)
    if cond is not None:
        parts.append(df.where(cond).select(F.lit(1).alias("hit")))
    if subject.receipt_keys is not None and "receipt_key" in df.columns:
        parts.append(df.join(subject.receipt_keys, "receipt_key", how="left_semi").select(F.lit(1).alias("hit")))
    if subject.patient_keys is not None and set(PATIENT_KEY) <= set(df.columns):
        parts.append(df.join(subject.patient_keys, list(PATIENT_KEY), how="left_semi").select(F.lit(1).alias("hit")))
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def held(spark: SparkSession, wh: Warehouse, record: dict[str, Any], subject: Subject) -> str | None:
    """'確認' when a pinned input version holds a row of the subject, '可能性' when a version could not
    be read, None when none holds it."""
    unreadable = False
    for inp in record.get("inputs", []):
        if inp.get("table") not in _CHECKED or inp.get("delta_version") is None:
            continue
        try:
            df = spark.read.format("delta").option("versionAsOf", int(inp["delta_version"])).load(wh.bronze(inp["table"]))
            hits = _matches(df, subject)
            if hits is not None and hits.limit(1).count():
                return "確認"
        except Exception as exc:  # the version's files were vacuumed, or the table is gone
            log.warning("bronze/%s version %s unreadable (%s)", inp["table"], inp["delta_version"], str(exc)[:200])
            unreadable = True
    return "可能性" if unreadable else None


def published_holding(spark: SparkSession, wh: Warehouse, subject: Subject) -> list[dict[str, str]]:
    out = []
    for rid, manifest in _records(wh, "releases", "manifest.json"):
        how = held(spark, wh, manifest, subject)
        if how:
            out.append({"release_id": rid, "evidence": how, "recipient": str(manifest.get("recipient") or "")})
    return out


def staged_holding(spark: SparkSession, wh: Warehouse, subject: Subject) -> list[str]:
    return [rid for rid, record in _records(wh, "staging", "anonymize.json") if held(spark, wh, record, subject)]


def staged_older_than(wh: Warehouse, days: int) -> list[str]:
    """Staging candidates created more than `days` days ago (anonymize.json `created_at`)."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    return [rid for rid, record in _records(wh, "staging", "anonymize.json")
            if dt.datetime.fromisoformat(record["created_at"]) < cutoff]


def staging_dir(wh: Warehouse, rid: str) -> Path:
    return wh.local_path(wh.staging(rid))
