"""The release manifest: the lineage record a release carries, written last as its commit marker.

It records what a compliance officer signs off and an auditor re-checks (DESIGN.md, release
contract; requirements 1, 2, 28, 49): the legal regime, the effective policy's hash, the key id and
fingerprint (never the key), every input and output table with its Delta version, the counts of
each stage, privacy metrics and the validation summary.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from jobs.notices import Item
from transforms.uke_layout import LAYOUTS

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
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except OSError:
        commit = ""
    return f"{version}+{commit}" if commit else version


def _layout_labels() -> dict[tuple[str, str], str]:
    return {(r.table, f.name): f.label for r in LAYOUTS.values() if r.table for f in r.fields}


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
) -> dict[str, Any]:
    known = {"release_id", "profile", "regime", "created_at", "policy", "key", "recipient", "inputs", "outputs",
             "counts", "privacy", "processing_steps", "code_version", "labels", "period"}
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
        "period": staged.get("period"),
        "inputs": staged.get("inputs", []),
        "outputs": outputs,
        "counts": staged.get("counts", {}),
        "privacy": staged.get("privacy", {}),
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
