"""The ingest stage: UKE claim files and clinical CSV extracts -> bronze Delta tables (restricted zone).

read (driver: find files, sha256; Spark: lines) -> transforms (position, parse, opt-out) -> write
(one commit per table, `_rejects`, then the `_files` ledger last). Issue 3; requirement 42 (停止の求め).
`execute` holds the warehouse's bronze lock (jobs/runtime/lock.py; taken again without effect when the
command already holds it)."""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from jobs.runtime.config import DEFAULT_PIPELINE, IngestSettings, ReceiptSettings, load_pipeline
from jobs.runtime.errors import InputError
from jobs.runtime.keys import Key, load_key
from jobs.runtime.lock import warehouse_lock
from jobs.runtime.scratch import write_scratch
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.clinical import (
    DEFAULT_LAYOUTS,
    clinical_frames,
    load_layouts,
    opted_out_counts,
)
from jobs.stages.ingest.counts import RunCounts, ledger_rows, version_info
from jobs.stages.ingest.files import SourceFile, discover
from jobs.stages.ingest.identities import IDENTITIES, identity_rows
from jobs.stages.ingest.intake import append_intake, intake_rows
from jobs.stages.ingest.ledger import (
    append_ledger,
    check_written,
    conform_rejects,
    count_rows,
    empty_rejects,
    read_ledger,
    reconcile,
    write_tables,
)
from jobs.stages.ingest.optout import prior_patient_keys, purge_opted_out, record_patient_keys, vacuum_purged
from jobs.stages.ingest.uke import (
    count_lines,
    drop_views,
    header_records,
    other_rejects,
    parse_to_scratch,
    position_files,
    receipt_status,
    table_frames,
)
from jobs.stages.optout_registry import load_registry
from transforms.clinical.extract import ClinicalLayout
from transforms.release.patients import CLINICAL_PATIENTS
from transforms.uke.layout import CLAIM_KINDS, MEDICAL

log = logging.getLogger("tokumei.ingest")


def run_ingest(
    spark: SparkSession,
    input_dir: str,
    warehouse: str,
    settings: IngestSettings | None = None,
    layouts_dir: str = DEFAULT_LAYOUTS,
    key: Key | None = None,
    receipt: ReceiptSettings | None = None,
    *,
    allow_unrecognized: bool = False,
) -> dict[str, Any]:
    """The whole ingest on an existing session (used by `tokumei run`, tests and the bench). `key`: the
    producer's key (keys.key_id) that keys the stored linkage labels; default: the one conf/pipeline.yaml names."""
    settings = settings or IngestSettings()
    layouts = load_layouts(layouts_dir)
    files, unrecognized = discover(input_dir, layouts, settings.max_file_bytes, allow_unrecognized=allow_unrecognized)
    key = key or load_key(load_pipeline(DEFAULT_PIPELINE).keys)
    return execute(spark, files, unrecognized, Warehouse(warehouse), settings, layouts, key, receipt)


def execute(
    spark: SparkSession,
    files: Sequence[SourceFile],
    unrecognized: Sequence[str],
    wh: Warehouse,
    settings: IngestSettings,
    layouts: Sequence[ClinicalLayout],
    key: Key,
    receipt: ReceiptSettings | None = None,
) -> dict[str, Any]:
    with warehouse_lock(wh, "ingest stage"):
        return _execute(spark, files, unrecognized, wh, settings, layouts, key, receipt)


def _execute(
    spark: SparkSession,
    files: Sequence[SourceFile],
    unrecognized: Sequence[str],
    wh: Warehouse,
    settings: IngestSettings,
    layouts: Sequence[ClinicalLayout],
    key: Key,
    receipt: ReceiptSettings | None,
) -> dict[str, Any]:
    # Undecodable CP932 bytes must become a reject (U+FFFD), not a failed job (transforms/uke/read.py).
    spark.conf.set("spark.sql.legacy.codingErrorAction", "true")
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    ledger = read_ledger(spark, wh.ledger)
    known = {r["file_sha256"] for r in ledger}
    new: list[SourceFile] = []
    for f in files:
        if f.sha256 not in known:
            new.append(f)
            known.add(f.sha256)  # the same content twice in one input is ingested once
    summary: dict[str, Any] = {
        "run_id": run_id, "files_found": len(files), "files_new": len(new),
        "files_already_ingested": len(files) - len(new), "files_unrecognized": len(unrecognized),
    }
    if unrecognized:
        log.warning("%d file(s) are neither UKE nor a declared clinical extract, not ingested: %s",
                    len(unrecognized), ", ".join(unrecognized[:10]))
    registry = load_registry(spark, settings.optout_registry)
    if registry is not None:
        # Stop requests added since earlier runs remove those people from what bronze already holds (42(b), 44).
        summary.update(purge_opted_out(spark, wh, registry, layouts, run_id))
        # Every run also vacuums the tables purges deleted from: files deleted longer ago than the
        # table's retention window (Delta's default: 7 days) are removed for good (44).
        summary["optout_vacuumed_tables"] = vacuum_purged(spark, wh, settings.vacuum_retention_hours)
    if not new:
        log.info("nothing new to ingest")
        return summary
    scratch = wh.scratch(run_id)
    try:
        counts = _ingest(spark, new, wh, settings, layouts, ledger, registry, run_id, key)
    finally:
        try:
            drop_views(spark, _uke_parsed(scratch))
        finally:  # the scratch goes even if the session cannot drop the views
            _remove(wh, scratch)
    rows = ledger_rows(new, counts, run_id, registry is not None)
    reconcile(rows)
    append_ledger(spark, wh.ledger, rows)
    # 受領記録 (req 47): one row per file, after the ledger (a crashed run records nothing twice: its
    # files are not in the ledger, so the re-run ingests and records them).
    append_intake(spark, wh, intake_rows(spark, wh, rows, counts.headers, receipt or ReceiptSettings()))
    counts.lap("ledger_intake")
    summary.update(counts.totals(rows))
    log.info("ingest %s: %s", run_id, summary)
    log.info("ingest %s: seconds per phase %s", run_id, counts.seconds)
    return summary


def _ingest(
    spark: SparkSession,
    new: Sequence[SourceFile],
    wh: Warehouse,
    settings: IngestSettings,
    layouts: Sequence[ClinicalLayout],
    ledger: list[dict[str, Any]],
    registry: DataFrame | None,
    run_id: str,
    key: Key,
) -> RunCounts:
    scratch = wh.scratch(run_id)
    counts = RunCounts()
    frames: dict[str, DataFrame] = {}
    rejects: list[DataFrame] = []
    counted: list[tuple[str, str, str, int]] = []  # (file, table, record type, rows); table _rejects: rejects
    uke = [f for f in new if f.kind == "uke"]
    if uke:
        counted += _uke_frames(spark, uke, settings, registry, scratch, counts, frames, rejects)
    clinical = [f for f in new if f.kind == "clinical"]
    if clinical:
        prior = prior_patient_keys(spark, wh, registry) if registry is not None else None
        result = clinical_frames(spark, clinical, layouts, scratch, registry, prior)
        if result.opted_keys is not None:  # later extracts keyed by patient id only are withheld too
            record_patient_keys(spark, wh, result.opted_keys, run_id)
        counts.facts += list(result.facts.values())
        counts.headers.update({f.sha256: {"_header": 1} for f in clinical if _has_header(f, layouts)})
        for table, (rows, bad) in result.frames.items():
            frames[table] = rows
            rejects.append(bad)
        counted += count_rows({t: rows for t, (rows, _) in result.frames.items()},
                              [bad for _, bad in result.frames.values()])
        counts.opted_lines.update(opted_out_counts(result))
        counts.lap("clinical")
    counts.versions = version_info(new, ledger, counts.headers)
    replaced = [v["supersedes_sha256"] for v in counts.versions.values() if v["replaced_previous"]]
    all_rejects = empty_rejects(spark)
    for bad in rejects:
        all_rejects = all_rejects.unionByName(conform_rejects(bad))
    counts.set_counts(counted)
    targets = {wh.bronze(table): df for table, df in frames.items()} | {wh.rejects: all_rejects}
    expected = counts.per_table()
    expected["_rejects"] = sum(counts.rejected.values())
    identities = identity_rows(frames, key)  # what linkage needs, stored once (jobs/stages/ingest/identities.py)
    if identities is not None:
        targets[wh.bronze(IDENTITIES)] = identities
        expected[IDENTITIES] = expected.get("receipts", 0) + expected.get(CLINICAL_PATIENTS, 0)
    written = write_tables(spark, targets, [f.sha256 for f in new] + replaced)
    check_written({t: written[wh.bronze(t)] for t in [*frames, *([IDENTITIES] if identities is not None else [])]}
                  | {"_rejects": written[wh.rejects]}, expected)
    counts.lap("write_bronze")
    return counts


def _uke_frames(
    spark: SparkSession,
    uke: Sequence[SourceFile],
    settings: IngestSettings,
    registry: DataFrame | None,
    scratch: str,
    counts: RunCounts,
    frames: dict[str, DataFrame],
    rejects: list[DataFrame],
) -> list[tuple[str, str, str, int]]:
    """Position and check the UKE files into scratch; add each table's rows and rejects to `frames` and
    `rejects`; return the rows per (file, table, record type) and the rejects per file (table `_rejects`)."""
    facts = position_files(spark, uke, f"{scratch}/uke_lines", settings.encoding)
    counts.facts.append(facts)
    lines = facts.lines
    counts.lap("uke_position")
    parsed_dir = parse_to_scratch(spark, lines, _uke_parsed(scratch), [f.claim_kind or MEDICAL.name for f in uke])
    counts.lap("uke_parse")
    counts.headers, ir_frame, header_rejects = header_records(spark, parsed_dir)
    status = write_scratch(receipt_status(spark, parsed_dir, registry), f"{scratch}/status").read(spark)
    counts.lap("uke_headers_status")
    # The tables the claim kinds of these files feed (a 医科-only run creates no 歯科 table).
    tables = dict.fromkeys(t for f in uke for t in CLAIM_KINDS[f.claim_kind or MEDICAL.name].tables())
    for table in tables:
        parts = table_frames(spark, parsed_dir, table, status, ir_frame)
        frames[table] = parts.rows
        rejects.append(parts.rejects)
    rejects += [header_rejects, other_rejects(spark, lines)]
    counts.lap("uke_tables")
    lines_of = count_lines(spark, lines, parsed_dir, status)
    counts.opted_lines.update(lines_of.opted_out)
    if registry is not None:
        counts.add_opted_receipts(status)
    counts.lap("uke_count")
    return lines_of.rows + [(sha, "_rejects", "_rejects", n) for sha, n in lines_of.rejected.items()]


def _uke_parsed(scratch: str) -> str:
    return f"{scratch}/uke_parsed"


def _has_header(f: SourceFile, layouts: Sequence[ClinicalLayout]) -> bool:
    return any(layout.table == f.table and layout.header for layout in layouts)


def _remove(wh: Warehouse, path: str) -> None:
    try:
        local = wh.local_path(path)
        shutil.rmtree(local, ignore_errors=True)
        if local.parent.is_dir() and not any(local.parent.iterdir()):
            local.parent.rmdir()
    except InputError:
        log.warning("scratch %s is not local; remove it with your storage tools", path)
