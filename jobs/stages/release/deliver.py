"""The deliver stage: every refusal before Spark starts (`plan_delivery`), then the delivery's 明示 and
its 提供記録 row (`deliver`). Requirements 30-32, 39 and 49; the ledger is jobs/stages/release/provision.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from jobs.runtime import fs
from jobs.runtime.config import PipelineConfig, resolve_conf_path
from jobs.runtime.delta_io import table_version
from jobs.runtime.errors import InputError, RefusedError
from jobs.runtime.warehouse import Warehouse
from jobs.stages.release.notices import (
    PUBLISHED_NOTICES,
    Delivery,
    Item,
    NoticeContext,
    Period,
    explicit_notice,
)
from jobs.stages.release.placeholders import check_notices
from jobs.stages.release.provision import (
    DeliveryPlan,
    append_to_ledger,
    check_recipient,
    ledger_row,
    new_delivery_id,
)
from jobs.stages.release.publication import (
    check_published,
    notice_path,
    published_manifest,
    read_publications,
    sha256_file,
)
from jobs.stages.release.recipients import load_registry


def plan_delivery(wh: Warehouse, release_id: str, recipient_id: str, registry_path: str | Path, day: dt.date,
                  lead_days: int) -> DeliveryPlan:
    """What a delivery on `day` will record, or refuse it: an unpublished release or an unknown recipient
    is bad input (exit 2); what the law forbids is refused (exit 1)."""
    manifest = published_manifest(wh, release_id)
    registry = load_registry(registry_path)
    if recipient_id not in registry:
        raise InputError(f"{resolve_conf_path(registry_path)}: 受領者 {recipient_id!r} は登録されていません。"
                         f"登録済み: {', '.join(sorted(registry)) or '（なし）'}。受領者台帳に登録してから再実行してください")
    recipient = registry[recipient_id]
    check_recipient(manifest, recipient, day)
    texts = {n: sha256_file(notice_path(wh, release_id, n)) for n in PUBLISHED_NOTICES}
    notice = check_published(read_publications(wh, release_id), texts, day, lead_days, release_id)
    assert recipient.contract_id is not None  # check_recipient refused a recipient without one
    delivery = Delivery(new_delivery_id(day), day, recipient.name, recipient.contract_id, recipient.certification_id)
    return DeliveryPlan(manifest, recipient, delivery, notice)


def notice_context(cfg: PipelineConfig, manifest: dict[str, Any], day: dt.date, recipient: str) -> NoticeContext:
    """The notices' facts, from the published release's manifest."""
    period = manifest.get("period")
    return NoticeContext(
        release_id=manifest["release_id"], regime=manifest["release_regime"], created=day,
        items=tuple(Item(i["table"], i["label"]) for i in manifest.get("items", [])), producer=cfg.producer,
        recipient=recipient, period=Period.from_record(period) if period else None)


def deliver(spark: SparkSession, cfg: PipelineConfig, wh: Warehouse, plan: DeliveryPlan) -> dict[str, Any]:
    """Write the delivery's 明示 and append its row to the provision ledger; returns the row."""
    manifest, d = plan.manifest, plan.delivery
    rid = manifest["release_id"]
    for out in manifest["outputs"]:  # the release is what its manifest says, or nothing is delivered
        version = table_version(spark, wh.release_table(rid, out["table"]))
        if version != out["delta_version"]:
            raise RefusedError(f"リリース {rid} の表 {out['table']} が公開後に変更されています（Delta version {version}、"
                               f"manifest では {out['delta_version']}）。提供を中止しました。リリースを作り直してください")
    text = explicit_notice(notice_context(cfg, manifest, d.day, d.recipient), d)
    check_notices({"明示": text}, f"提供 {d.delivery_id}")
    fs.write_text_atomic(wh.local_path(wh.delivery(rid, d.delivery_id, "明示.md")), text)
    manifest_bytes = wh.local_path(wh.release(rid, "manifest.json")).read_bytes()
    row = ledger_row(plan, cfg.producer.provision_method, f"releases/{rid}/deliveries/{d.delivery_id}/明示.md",
                     hashlib.sha256(text.encode("utf-8")).hexdigest(), hashlib.sha256(manifest_bytes).hexdigest(),
                     dt.datetime.now(dt.UTC))
    append_to_ledger(spark, wh, row)  # last: a delivery exists when its ledger row does
    return row
