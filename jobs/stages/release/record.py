"""anonymize.json: what the anonymize stage did, the record validate, publish and the manifest read."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from jobs.stages.release.manifest import code_version
from jobs.stages.release.plan import Plan
from jobs.stages.release.policy_files import policy_catalog
from transforms.policy.catalog import PATIENT_FACTS
from transforms.policy.labels import table_labels
from transforms.policy.steps import processing_steps


def anonymize_record(rid: str, plan: Plan, scope: dict[str, str], created: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]],
                     tables: dict[str, Any], linkage: dict[str, Any], sources: Sequence[str],
                     kanon: dict[str, Any] | None = None, waiting: dict[str, Any] | None = None,
                     km: dict[str, Any] | None = None, risk: dict[str, Any] | None = None,
                     optout: dict[str, Any] | None = None) -> dict[str, Any]:
    """`sources`: the bronze tables (and patient facts) the release tables were made from."""
    policy, policy_file, keys = plan.policy, plan.policy_file, plan.keys
    catalog = policy_catalog({"clinical_layouts": policy.clinical_layouts}, policy_file)
    labels = {policy.tables[s].output: table_labels(policy.tables[s], catalog[s]) for s in sources}
    patients = next((o["rows"] for o in outputs if o["source"] == PATIENT_FACTS), 0)
    steps = processing_steps(policy, tables)
    if kanon is not None:  # item 5 done here (reqs 21-22): what was generalized and how many patients suppressed
        steps["5_dataset_properties"].update(status="applied", levels=kanon["levels"],
                                             suppressed_patients=kanon["suppressed_patients"], note="applied to patients")
    if km is not None:  # (k, k^m) over the items of the claims (req 22)
        steps["5_dataset_properties"].update(km={"m": km["m"], "levels": km["levels"],
                                                 "item_rows_suppressed": km["item_rows_suppressed"]})
    return {
        "release_id": rid,
        "profile": policy.profile,
        "regime": policy.regime,
        "created_at": created,
        "code_version": code_version(),
        "policy": {"path": str(policy_file), "sha256": policy.sha256(),
                   "file_sha256": hashlib.sha256(policy_file.read_bytes()).hexdigest()},
        "key": {"key_id": plan.key_id, "fingerprint": keys[plan.key_id].fingerprint, **scope,
                "all": [{"key_id": k.key_id, "fingerprint": k.fingerprint} for k in keys.values()]},
        "recipient": plan.recipient.record() if plan.recipient else None,
        "inputs": inputs,
        "outputs": outputs,
        "counts": {
            "patients": patients,
            "patients_unlinked": linkage["unlinked"],
            # clinical master rows without any claim or lab sample: not released (no data, no age)
            "patients_without_data": linkage.get("patients_without_data", 0),
            "records_removed": {t: s["rows_removed"] for t, s in tables.items()},
            "rows_in": {t: s["rows_in"] for t, s in tables.items()},
            "patients_suppressed": kanon["suppressed_patients"] if kanon else 0,  # with all their rows (req 21)
            "patients_held_back": (waiting or {}).get("patients_held_back", 0),  # waiting period (req 43)
            "patients_opted_out": (optout or {}).get("patients_opted_out", 0),  # 停止の求め at this release (req 42)
        },
        "optout": optout,
        "waiting_period": waiting,
        "linkage": {**linkage, "keys": list(policy.linkage.keys), "rounds": policy.linkage.rounds,
                    "unlinked_policy": policy.linkage.unlinked},
        "processing_steps": steps,
        "labels": labels,
        "tables": tables,
        "quasi_identifiers": list(policy.params.quasi_identifiers),
        "params": dict(policy.effective()["params"]),
        **({"kanon": kanon} if kanon is not None else {}),
        **({"km": km} if km is not None else {}),
        **({"risk": risk} if risk is not None else {}),
    }
