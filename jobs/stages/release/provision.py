"""The 提供記録 (provision ledger, `WH/releases/_provisions`) and who a release may be delivered to.

Requirements 31, 32, 39 and 49: a delivery is refused (exit 1) before the release's 公表 are recorded
as published and the lead time has passed, to a recipient without a contract id, to a 仮名加工医療情報
recipient whose certification is not valid on the delivery day, and to anyone but the recipient a
release was keyed for. A delivery writes the 明示 for its recipient beside the release and appends
one row to the provision ledger, an append-only Delta table of every delivery of every release:
recipient, contract and certification, date, regime, items, tables with row counts and Delta
versions, the period, the manifest's sha256, the 明示's sha256 and the 公表 it relies on.
"""

from __future__ import annotations

import datetime as dt
import getpass
import secrets
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from jobs.runtime.delta_io import table_version
from jobs.runtime.errors import RefusedError
from jobs.runtime.warehouse import Warehouse
from jobs.stages.release.notices import Delivery
from jobs.stages.release.recipients import Recipient, check_certified

PSEUDONYMIZED = "仮名加工医療情報"

_TABLE = T.StructType([T.StructField("table", T.StringType(), False), T.StructField("rows", T.LongType(), True),
                       T.StructField("delta_version", T.LongType(), False),
                       T.StructField("columns", T.ArrayType(T.StringType(), False), False)])
_ITEM = T.StructType([T.StructField("table", T.StringType(), False), T.StructField("label", T.StringType(), False)])
LEDGER_SCHEMA = T.StructType([
    T.StructField("delivery_id", T.StringType(), False),
    T.StructField("release_id", T.StringType(), False),
    T.StructField("delivered_on", T.DateType(), False),
    T.StructField("recorded_at", T.TimestampType(), False),
    T.StructField("recorded_by", T.StringType(), True),
    T.StructField("recipient_id", T.StringType(), False),
    T.StructField("recipient_name", T.StringType(), False),
    T.StructField("contract_id", T.StringType(), False),
    T.StructField("certification_id", T.StringType(), True),
    T.StructField("certification_type", T.StringType(), True),
    T.StructField("certification_valid_until", T.DateType(), True),
    T.StructField("purpose", T.StringType(), True),
    T.StructField("regime", T.StringType(), False),
    T.StructField("provision_method", T.StringType(), False),
    T.StructField("items", T.ArrayType(_ITEM, False), False),
    T.StructField("tables", T.ArrayType(_TABLE, False), False),
    T.StructField("first_service_month", T.StringType(), True),
    T.StructField("last_service_month", T.StringType(), True),
    T.StructField("key_id", T.StringType(), True),
    T.StructField("manifest_sha256", T.StringType(), False),
    T.StructField("explicit_notice", T.StringType(), False),
    T.StructField("explicit_notice_sha256", T.StringType(), False),
    T.StructField("provision_notice_published_on", T.DateType(), False),
    T.StructField("provision_notice_url", T.StringType(), True),
    T.StructField("provision_notice_sha256", T.StringType(), False),
])


@dataclass(frozen=True)
class DeliveryPlan:
    manifest: dict[str, Any]
    recipient: Recipient
    delivery: Delivery
    provision_notice: dict[str, Any]  # the 第三者提供時公表 record it relies on


def new_delivery_id(day: dt.date) -> str:
    return f"{day:%Y%m%d}-{secrets.token_hex(4)}"


def check_recipient(manifest: dict[str, Any], r: Recipient, day: dt.date) -> None:
    """Refuse (exit 1) a recipient this release may not go to on `day` (requirements 32, 39, 15)."""
    rid = manifest["release_id"]
    if not r.contract_id:
        raise RefusedError(f"受領者 {r.id!r} に契約番号（contract_id）が登録されていません。提供は契約に基づいて行い、"
                           "明示と提供記録に契約番号を記載します。契約を確認して conf/recipients.yaml の contract_id を"
                           "登録してください (requirement 32)")
    if manifest["release_regime"] == PSEUDONYMIZED:
        check_certified(r, day)
    keyed_for = (manifest.get("recipient") or {}).get("id")
    if keyed_for and keyed_for != r.id:
        raise RefusedError(f"リリース {rid} は受領者 {keyed_for!r} 向けの鍵で作成されています。{r.id!r} には提供できません。"
                           f"`tokumei anonymize --recipient {r.id}` で {r.id!r} 向けのリリースを作成してください "
                           "(a different key per recipient keeps releases unlinkable; requirements 15, 40)")


def ledger_row(plan: DeliveryPlan, provision_method: str, explicit_notice: str, explicit_sha256: str,
               manifest_hash: str, now: dt.datetime) -> dict[str, Any]:
    """The 提供記録 row of a delivery, from the release's manifest (requirement 49)."""
    m, r, d, pub = plan.manifest, plan.recipient, plan.delivery, plan.provision_notice
    period = m.get("period") or {}
    return {
        "delivery_id": d.delivery_id, "release_id": m["release_id"], "delivered_on": d.day,
        "recorded_at": now, "recorded_by": _operator(),
        "recipient_id": r.id, "recipient_name": r.name, "contract_id": r.contract_id,
        "certification_id": r.certification_id, "certification_type": r.type,
        "certification_valid_until": r.valid_until, "purpose": r.purpose,
        "regime": m["release_regime"], "provision_method": provision_method,
        "items": [{"table": i["table"], "label": i["label"]} for i in m.get("items", [])],
        "tables": [{"table": o["table"], "rows": o.get("rows"), "delta_version": o["delta_version"],
                    "columns": list(o["columns"])} for o in m["outputs"]],
        "first_service_month": period.get("first_service_month"), "last_service_month": period.get("last_service_month"),
        "key_id": (m.get("key") or {}).get("key_id"), "manifest_sha256": manifest_hash,
        "explicit_notice": explicit_notice, "explicit_notice_sha256": explicit_sha256,
        "provision_notice_published_on": dt.date.fromisoformat(pub["published_on"]),
        "provision_notice_url": pub.get("url"), "provision_notice_sha256": pub["sha256"],
    }


def _operator() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return None


def append_to_ledger(spark: SparkSession, wh: Warehouse, row: dict[str, Any]) -> int:
    """Append the row to the provision ledger (created on first use); returns the ledger's new version."""
    df = spark.createDataFrame([row], LEDGER_SCHEMA)
    df.write.format("delta").mode("append").save(wh.provisions)
    return table_version(spark, wh.provisions)
