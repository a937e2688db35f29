"""The validate stage: the Great Expectations suites built from the policy, run on a staged release.

Writes `WH/staging/<RID>/validation/` (one JSON result per table, `summary.json`, GX Data Docs HTML)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from expectations.from_policy import checks_for_release
from expectations.gx_suite import run_checks
from jobs.runtime import fs
from jobs.runtime.config import PipelineConfig
from jobs.runtime.delta_io import read_delta, table_version
from jobs.runtime.errors import InputError
from jobs.runtime.lineage import DatasetRef, stage_events
from jobs.runtime.warehouse import Warehouse
from jobs.stages.release.km_check import KM_ITEMS, km_checks, km_items_frame
from jobs.stages.release.policy_files import load_policy_checked, policy_catalog, qi_hierarchies
from transforms.policy import Policy
from transforms.release.qi_hierarchies import UNKNOWN

log = logging.getLogger("tokumei.validate")


def staged_record(wh: Warehouse, release_id: str) -> dict[str, Any]:
    path = wh.local_path(wh.staging(release_id, "anonymize.json"))
    if not path.exists():
        raise InputError(f"no staged release {release_id}: {path} is missing; run `tokumei anonymize` first")
    return fs.read_json(path)


def validate(spark: SparkSession, cfg: PipelineConfig, wh: Warehouse, release_id: str, docs: bool = True) -> dict[str, Any]:
    staged = staged_record(wh, release_id)
    policy = load_policy_checked(staged["policy"]["path"], staged["policy"]["sha256"])
    catalog = policy_catalog({"clinical_layouts": policy.clinical_layouts}, Path(staged["policy"]["path"]))
    labels = chosen_labels(policy, staged.get("kanon"))
    out_dir = wh.local_path(wh.staging(release_id, "validation"))
    fs.remove_tree(out_dir)  # a re-validation replaces the old verdict entirely
    with stage_events(wh.local_path(wh.staging(release_id, "lineage.jsonl")), "validate", release_id) as events:
        frames, versions = {}, {}
        for out in staged["outputs"]:
            table = out["table"]
            path = wh.staging_table(release_id, table)
            versions[table] = table_version(spark, path)
            df = read_delta(spark, path, versions[table])
            frames[table] = (df, checks_for_release(policy, staged, table, df.columns, catalog, labels))
        items = km_items_frame(policy, {t: df for t, (df, _) in frames.items()})
        if items is not None:  # (k, k^m) counted on the released tables themselves (issue 16)
            frames[KM_ITEMS] = (items, km_checks(policy))
        results = run_checks(frames, docs_dir=out_dir / "gx" if docs else None)
        summary = _summarize(results, versions)
        for table, result in results.items():
            fs.write_json_atomic(out_dir / f"{table}.json", result)
            assertions = tuple(
                (e["expectation_type"], bool(e["success"]), e.get("kwargs", {}).get("column"))
                for e in result["expectations"]
            )
            if table in versions:
                events.inputs.append(DatasetRef(f"staging/{release_id}/tables/{table}", versions[table], assertions=assertions))
        fs.write_json_atomic(out_dir / "summary.json", summary)
    return summary


def chosen_labels(policy: Policy, kanon: dict[str, Any] | None) -> dict[str, tuple[str, ...]]:
    """Per quasi-identifier of `patients`: the values of its hierarchy at the level k-anonymity chose
    (read again from the hierarchies, not from what anonymize wrote)."""
    if not kanon:
        return {}
    hierarchies = qi_hierarchies(policy, kanon["quasi_identifiers"])
    return {q: tuple(v for v in h.labels[int(kanon["levels"][q])] if v != UNKNOWN) for q, h in hierarchies.items()}


def _summarize(results: dict[str, Any], versions: dict[str, int]) -> dict[str, Any]:
    """Per staged table (with the Delta version publish checks again) and per derived check (the
    (k, k^m) items rebuilt from several tables), what failed."""
    tables, derived, failed, evaluated = {}, {}, [], 0
    for table, result in results.items():
        bad = [e["expectation_type"] + (f"({e['kwargs']['column']})" if e.get("kwargs", {}).get("column") else "")
               + _findings(e) for e in result["expectations"] if not e["success"]]
        evaluated += result["statistics"]["evaluated_expectations"]
        failed += [f"{table}: {b}" for b in bad]
        entry = {"success": bool(result["success"]), "failed": bad, "evaluated": result["statistics"]["evaluated_expectations"]}
        if table in versions:
            tables[table] = {"delta_version": versions[table], **entry}
        else:
            derived[table] = entry
    return {"success": not failed and bool(results), "expectations": evaluated, "failed": failed, "tables": tables,
            "derived": derived}


def _findings(expectation: dict[str, Any]) -> str:
    """Where the identifier detectors found something: column, detector, row count; never the value (req 28)."""
    found = ((expectation.get("result") or {}).get("details") or {}).get("findings") or []
    return "".join(f"({f['column']}: {f['detector']} {f['rows']}行)" for f in found)
