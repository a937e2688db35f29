"""The release manifest: the lineage record a release carries, written last as its commit marker.

It records what a compliance officer signs off and an auditor re-checks (DESIGN.md, release
contract; requirements 1, 2, 28, 49): the legal regime, the effective policy's hash, the key id and
fingerprint (never the key), every input and output table with its Delta version, the counts of
each stage, privacy metrics and the validation summary.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from jobs.stages.release.notices import Item
from jobs.stages.release.optout import NOT_CONFIGURED
from transforms.uke.layout import CLAIM_TABLES, table_fields

MANIFEST_VERSION = 1

TABLE_LABELS = {
    "patients": "患者",
    "receipts": "レセプト",
    "insurances": "保険者",
    "public_expenses": "公費",
    "eligibility": "資格確認",
    "visit_days": "受診日等",
    "window_payments": "窓口負担額",
    "dpc_exclusions": "包括評価対象外理由",
    "diagnoses": "傷病名",
    "procedures": "診療行為",
    "drugs": "医薬品",
    "materials": "特定器材",
    "comments": "コメント",
    "symptom_details": "症状詳記",
    "labs": "検査結果",
}


def code_version() -> str:
    try:
        version = metadata.version("tokumei")
    except metadata.PackageNotFoundError:
        version = "unknown"
    # An installed copy (the wheel or zip of tools/relocate.py) carries the commit it was built from in
    # tokumei.BUILD_COMMIT: git would find no checkout there, or the wrong one around a venv.
    built = getattr(sys.modules.get(__name__.split(".")[0]), "BUILD_COMMIT", None)
    if built is not None:
        return f"{version}+{built}" if built else version
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except OSError:
        commit = ""
    return f"{version}+{commit}" if commit else version


def _layout_labels() -> dict[tuple[str, str], str]:
    return {(t, f.name): f.label for t in CLAIM_TABLES for f in table_fields(t)}


def release_items(outputs: list[dict[str, Any]], staged: dict[str, Any]) -> list[Item]:
    """Japanese item labels of every released column, for the notices (requirement 30)."""
    declared = staged.get("labels", {})  # {table: {column: label}} from the policy, when given
    layout = _layout_labels()
    items = []
    for out in outputs:
        table = out["table"]
        for column in out["columns"]:
            label = declared.get(table, {}).get(column) or layout.get((table, column)) or column
            items.append(Item(TABLE_LABELS.get(table, table), label))
    return items


def build_manifest(
    release_id: str,
    staged: dict[str, Any],
    validation: dict[str, Any],
    outputs: list[dict[str, Any]],
    items: list[Item],
    period: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`period`: the first and last service month of the released tables (notices.Period.record())."""
    known = {"release_id", "profile", "regime", "created_at", "policy", "key", "recipient", "inputs", "outputs",
             "counts", "privacy", "processing_steps", "code_version", "labels", "period", "km", "risk",
             "optout"}
    return {
        "manifest_version": MANIFEST_VERSION,
        "release_id": release_id,
        "release_regime": staged["regime"],
        "profile": staged.get("profile"),
        "created_at": staged.get("created_at"),
        "published_at": dt.datetime.now(dt.UTC).isoformat(),
        "code_version": code_version(),
        "policy": staged.get("policy"),
        "key": staged.get("key"),
        "recipient": staged.get("recipient"),
        "period": period,
        "inputs": staged.get("inputs", []),
        "outputs": outputs,
        "counts": staged.get("counts", {}),
        # 停止の求め (req 42): the registry version and the patients left out, or that none was applied
        "optout": staged.get("optout") or {"applied": False, "registry": None, "note": NOT_CONFIGURED},
        "privacy": privacy_summary(staged),
        "km": staged.get("km"),  # (k, k^m) over the items: levels, suppression, information loss
        "risk": staged.get("risk"),  # re-identification risk at each attacker level, before and after
        "processing_steps": staged.get("processing_steps", {}),
        "validation": {
            "success": validation.get("success"),
            "expectations": validation.get("expectations"),
            "failed": validation.get("failed", []),
            "results": "validation/",
        },
        "items": [{"table": i.table_label, "label": i.label} for i in items],
        "notices": ["notices/作成時公表.md", "notices/第三者提供時公表.md", "notices/明示.md"],
        "lineage": "lineage.jsonl",
        "anonymize": {k: v for k, v in staged.items() if k not in known},
    }


_METRICS = (  # kanon.metrics key -> how the report names it
    ("patients_before", "k-匿名化の対象患者数"),
    ("prosecutor_risk_max_before", "再識別リスク（prosecutor, 最大）: 処理前"),
    ("prosecutor_risk_max_after", "再識別リスク（prosecutor, 最大）: 処理後"),
    ("prosecutor_risk_mean_before", "再識別リスク（prosecutor, 平均）: 処理前"),
    ("prosecutor_risk_mean_after", "再識別リスク（prosecutor, 平均）: 処理後"),
    ("share_below_k_before", "処理前に k 未満のクラスにいた患者の割合"),
    ("sample_uniques_before", "標本一意の患者数: 処理前"),
    ("sample_uniques_after", "標本一意の患者数: 処理後"),
    ("suppressed_share", "抑制した患者の割合"),
    ("loss", "情報損失（ARX Loss）"),
    ("discernibility", "discernibility"),
    ("classes", "同値クラス数"),
    ("min_class_size", "最小クラスサイズ"),
    ("average_class_size", "平均クラスサイズ"),
)


def privacy_summary(staged: dict[str, Any]) -> dict[str, Any]:
    """What the report's risk and utility table shows (Japanese labels for the compliance officer):
    k-anonymity and its metrics (reqs 21-22), the columns carrying a quasi-identifier, and the
    waiting period after the notice (req 43)."""
    out: dict[str, Any] = {}
    kanon = staged.get("kanon")
    if kanon:
        out["k（各クラスの最少患者数）"] = kanon["k"]
        if kanon.get("l"):
            out["l-多様性"] = f"l={kanon['l']}（機微属性 {kanon['sensitive']}）"
        out["抑制上限"] = kanon.get("suppression_limit")
        out["準識別子と一般化レベル"] = ", ".join(f"{q}={lv}" for q, lv in kanon["levels"].items())
        out["抑制した患者数"] = kanon["suppressed_patients"]
        metrics = kanon.get("metrics", {})
        out.update({label: metrics[key] for key, label in _METRICS if key in metrics})
        carried = [f"{t}.{c}→{v['quasi_identifier']}（レベル{v['level']}, {v['cells_recoded']}セル）"
                   for t, cols in (kanon.get("carriers") or {}).items() for c, v in cols.items()]
        if carried:
            out["準識別子を運ぶ列（患者と同じレベルに再符号化）"] = "; ".join(carried)
    elif staged.get("profile") == "anonymized":
        out["k-匿名化"] = "実施記録がありません。anonymize.json を確認してください"
    wp = staged.get("waiting_period")
    if wp:
        if wp.get("applied"):
            out["通知後の待機期間（要件43）"] = (f"抽出日 {wp['extraction_date']}、待機 {wp['wait_days']} 日、"
                                         f"提供を保留した患者 {wp['patients_held_back']} 人")
        else:
            out["通知後の待機期間（要件43）"] = f"未適用: {wp.get('note', '')}（conf/pipeline.yaml の notice を設定してください）"
    return out
