"""The publish stage: a validated staged release promoted to `WH/releases/<RID>/`, manifest written last.

A release exists when, and only when, `WH/releases/<RID>/manifest.json` exists (DESIGN.md decision 6).
A 仮名加工医療情報 release is published only while its recipient's certification is valid (requirement 39,
checked again here: it may have lapsed since anonymize). Its notices carry the period read from the
released tables (requirement 30) and no placeholder text (issue 17 item 5). The release id's lock is
held while it runs (taken again without effect when the command holds it): leftovers of a failed
publish are removed only by the lock's holder, never under a publish that is still running."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from jobs.runtime import fs
from jobs.runtime.config import DEFAULT_REGISTRY, PipelineConfig
from jobs.runtime.delta_io import (
    STATS_COLUMNS,
    create_release_table,
    last_commit,
    read_delta,
    table_properties,
    table_version,
    written_rows,
)
from jobs.runtime.errors import InputError, RefusedError
from jobs.runtime.lineage import DatasetRef, stage_events
from jobs.runtime.lock import release_lock
from jobs.runtime.warehouse import Warehouse
from jobs.stages.optout_registry import SETTING, registry_version
from jobs.stages.release import report
from jobs.stages.release.manifest import build_manifest, release_items
from jobs.stages.release.notices import (
    NOTICE_FILES,
    NoticeContext,
    Period,
    creation_notice,
    explicit_notice,
    provision_notice,
)
from jobs.stages.release.optout import refuse_stale_staging
from jobs.stages.release.placeholders import check_notices
from jobs.stages.release.plan import today_jst
from jobs.stages.release.recipients import check_certified, load_registry
from transforms.release.period import select_month_range, tables_with

log = logging.getLogger("tokumei.publish")


def current_registry(cfg: PipelineConfig, spark: SparkSession | None = None) -> str | None:
    """The configured 停止の求め registry's version (None: not configured, or remote without `spark`)."""
    location = cfg.ingest.optout_registry
    if not location:
        return None
    version = registry_version(location, spark)
    if version is None and spark is not None:
        raise InputError(f"{SETTING} {location}: no CSV file or Delta table there; fix the path in conf/pipeline.yaml")
    return version


PSEUDONYMIZED = "仮名加工医療情報"
_PLOTTED = {"patients": (("age_band", "年齢区分別 患者数"), ("sex", "性別 患者数"), ("area", "地域別 患者数"))}


def check_publishable(wh: Warehouse, release_id: str, optout_version: str | None = None,
                      registry: str | Path = DEFAULT_REGISTRY,
                      today: dt.date | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The staged record and validation summary, or refuse with what to do next. `optout_version`: the
    停止の求め registry's current version (None: not configured, or not known yet); `registry`: the
    recipients' registry (a 仮名 recipient's certification is checked again on the publish day)."""
    manifest = wh.local_path(wh.release(release_id, "manifest.json"))
    if manifest.exists():
        raise RefusedError(f"release {release_id} is already published ({manifest}); releases are immutable: use a new release id")
    staged = wh.local_path(wh.staging(release_id, "anonymize.json"))
    if not staged.exists():
        raise InputError(f"no staged release {release_id}: {staged} is missing; run `tokumei anonymize` first")
    record = fs.read_json(staged)
    refuse_stale_staging(record, release_id, optout_version)  # before validation: a stale staging needs anonymize again
    summary = wh.local_path(wh.staging(release_id, "validation", "summary.json"))
    if not summary.exists():
        raise RefusedError(f"staged release {release_id} was not validated ({summary} is missing); run `tokumei validate` first")
    validation = fs.read_json(summary)
    if not validation.get("success"):
        raise RefusedError(
            f"staged release {release_id} failed validation; see {summary.parent}/ and fix the policy or the data, "
            "then run anonymize and validate again"
        )
    if record.get("regime") == PSEUDONYMIZED:
        _check_still_certified(record, registry, today or today_jst())
    return record, validation


def _check_still_certified(staged: dict[str, Any], registry: str | Path, day: dt.date) -> None:
    rid = (staged.get("recipient") or {}).get("id")
    recipients = load_registry(registry)
    if rid not in recipients:
        raise RefusedError(f"仮名加工医療情報のリリース {staged['release_id']} の受領者 {rid!r} が受領者台帳 {registry} に"
                           "ありません。認定を確認して台帳に登録してから publish を再実行してください (requirement 39)")
    check_certified(recipients[rid], day)


def publish(spark: SparkSession, cfg: PipelineConfig, wh: Warehouse, release_id: str,
            registry: str | Path = DEFAULT_REGISTRY) -> dict[str, Any]:
    with release_lock(wh, release_id, f"publish stage of {release_id}"):
        return _publish(spark, cfg, wh, release_id, registry)


def _publish(spark: SparkSession, cfg: PipelineConfig, wh: Warehouse, release_id: str,
             registry: str | Path) -> dict[str, Any]:
    staged, validation = check_publishable(wh, release_id, current_registry(cfg, spark), registry)
    release_dir = wh.local_path(wh.release(release_id))
    if release_dir.exists():
        log.warning("removing leftovers of an earlier failed publish of %s at %s", release_id, release_dir)
        fs.remove_tree(release_dir)
    lineage_path = wh.local_path(wh.staging(release_id, "lineage.jsonl"))
    with stage_events(lineage_path, "publish", release_id) as events:
        outputs = []
        for table, version in sorted(validation["tables"].items()):
            source = wh.staging_table(release_id, table)
            if table_version(spark, source) != version["delta_version"]:
                raise RefusedError(f"staged table {table} changed after validation; run `tokumei validate` again")
            target = wh.release_table(release_id, table)
            df = read_delta(spark, source, version["delta_version"])
            stats = table_properties(spark, source).get(STATS_COLUMNS)  # the staged table's choice travels
            # Requirement 29: the legal class travels with the table from its first version, visible to any Delta reader.
            create_release_table(df, target, {"tokumei.legal_class": staged["regime"], "tokumei.release_id": release_id},
                                 stats_columns=stats)
            write = last_commit(spark, target)
            rows, delta_version = written_rows(write), write["version"]
            outputs.append({"table": table, "path": f"tables/{table}", "delta_version": delta_version,
                            "rows": rows, "columns": df.columns})
            events.inputs.append(DatasetRef(f"staging/{release_id}/tables/{table}", version["delta_version"]))
            events.outputs.append(DatasetRef(f"releases/{release_id}/tables/{table}", delta_version, rows))
        fs.copy_tree(wh.local_path(wh.staging(release_id, "validation")), release_dir / "validation")
        items = release_items(outputs, staged)
        period = release_period(spark, wh, release_id, outputs, staged)
        _write_notices(cfg, release_dir, release_id, staged, items, period)
    fs.copy_file(lineage_path, release_dir / "lineage.jsonl")
    manifest = build_manifest(release_id, staged, validation, outputs, items, period.record() if period else None)
    fs.write_text_atomic(release_dir / "report.html", report.render(manifest, _distributions(spark, wh, release_id, outputs)))
    fs.write_json_atomic(release_dir / "manifest.json", manifest)  # last: the commit marker
    return manifest


def _distributions(spark: SparkSession, wh: Warehouse, release_id: str, outputs: list[dict[str, Any]]) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for o in outputs:
        for column, title in _PLOTTED.get(o["table"], ()):
            if column not in o["columns"]:
                continue
            df = read_delta(spark, wh.release_table(release_id, o["table"]))
            counts = df.groupBy(column).count().orderBy(column).limit(60).collect()
            out[title] = [(str(r[column]), float(r["count"])) for r in counts]
    return out


def release_period(spark: SparkSession, wh: Warehouse, release_id: str, outputs: list[dict[str, Any]],
                   staged: dict[str, Any]) -> Period | None:
    """First and last service month of the released tables (one aggregate row), at the level the (k, k^m)
    stage released months at; None when no table has a service month (requirement 30)."""
    frames = {o["table"]: read_delta(spark, wh.release_table(release_id, o["table"])) for o in outputs}
    tables = tables_with(frames)
    if not tables:
        return None
    row = select_month_range(frames).first()
    if row is None or row["first_month"] is None:
        return None
    levels = {item.get("time_level", "month") for item in ((staged.get("km") or {}).get("items") or {}).values()}
    return Period(row["first_month"], row["last_month"], levels.pop() if len(levels) == 1 else "month", tuple(tables))


def _write_notices(cfg: PipelineConfig, release_dir: Path, release_id: str, staged: dict[str, Any], items: Any,
                   period: Period | None) -> None:
    recipient = staged.get("recipient")
    ctx = NoticeContext(
        release_id=release_id,
        regime=staged["regime"],
        created=today_jst(),
        items=tuple(items),
        producer=cfg.producer,
        recipient=recipient.get("name") if isinstance(recipient, dict) else recipient,
        period=period,
    )
    texts = {"作成時公表": creation_notice(ctx), "第三者提供時公表": provision_notice(ctx), "明示": explicit_notice(ctx)}
    check_notices(texts, f"release {release_id}")
    for name, text in texts.items():
        fs.write_text_atomic(release_dir / "notices" / NOTICE_FILES[name], text)
