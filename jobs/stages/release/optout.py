"""停止の求め at every release (requirements 42, 44): the I/O around transforms/release/optout.py.

Anonymize loads the registry as it is at that moment (jobs/stages/optout_registry.py, the loader
ingest uses too), finds the receipts and clinical patients it names in the pinned bronze frames,
and records the registry's version and the counts, never an identity. Stagings of earlier anonymize
runs that were built with another registry version are removed: they may hold a person who has since
asked to stop, and their pids cannot be matched without rebuilding them (44: undelivered releases
are rebuilt). Publish refuses a staging whose registry version is not the current one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from pyspark.sql import DataFrame

from jobs.runtime import fs
from jobs.runtime.errors import RefusedError
from jobs.runtime.warehouse import Warehouse
from jobs.stages.optout_registry import SETTING, OptoutRegistry
from transforms.identity.optout import opted_out_nodes
from transforms.release.optout import OptOut

log = logging.getLogger("tokumei.optout")

NOT_CONFIGURED = (f"停止の求めの名簿は設定されていません（conf/pipeline.yaml の {SETTING} が未設定）。このリリースには"
                  "停止の求めを適用していません。名簿を運用している場合は、そのパスを設定して anonymize をやり直してください")


def registry_nodes(bronze: Mapping[str, DataFrame], registry: OptoutRegistry | None) -> DataFrame | None:
    """`node` of every receipt and clinical patient of `bronze` the registry names; None without one."""
    if registry is None:
        return None
    return opted_out_nodes(bronze["receipts"], bronze.get("insurances"), bronze.get("eligibility"),
                           bronze.get("patients"), registry.ids)


def optout_entry(stage: OptOut, registry: OptoutRegistry | None, released: int, held_back: int, suppressed: int,
                 tables: dict[str, Any], stale_removed: list[str]) -> dict[str, Any]:
    """The `optout` entry of anonymize.json (and of the manifest)."""
    entry = stage.record(released, held_back, suppressed, tables)
    if registry is None:
        return {**entry, "registry": None, "note": NOT_CONFIGURED}
    return {**entry, "registry": registry.record(), "stale_stagings_removed": stale_removed}


def staged_registry_version(staged: Mapping[str, Any]) -> str | None:
    """The registry version a staging was built with (None: none applied, or built before this was recorded)."""
    entry = staged.get("optout") or {}
    return (entry.get("registry") or {}).get("version")


def remove_stale_stagings(wh: Warehouse, release_id: str, version: str) -> list[str]:
    """Remove every other complete staging (one with anonymize.json) built with another registry version;
    their release ids, sorted. Stagings without a record (a run in progress, or one that failed) are left:
    they cannot be published, and a rerun of their id replaces them."""
    if not wh.is_local():
        log.warning("warehouse %s is not local: stagings built with an older 停止の求め registry are not checked", wh.root)
        return []
    root = wh.local_path(wh.staging(release_id)).parent
    removed = []
    for record in sorted(root.glob("*/anonymize.json")):
        rid = record.parent.name
        if rid == release_id:
            continue
        try:
            staged = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            staged = {}
        if staged_registry_version(staged) != version:
            fs.remove_tree(record.parent)
            removed.append(rid)
    if removed:
        log.warning("removed %d staging(s) built with another 停止の求め registry version: %s; run "
                    "`tokumei anonymize` again for those that are still needed", len(removed), ", ".join(removed))
    return removed


def refuse_stale_staging(staged: Mapping[str, Any], release_id: str, current: str | None) -> None:
    """Refuse to publish a staging built with another registry version than the configured one (req 42(b))."""
    if current is None:
        return
    built = staged_registry_version(staged)
    if built != current:
        was = f"版 {built}" if built else "名簿なし"
        raise RefusedError(
            f"staged release {release_id} は停止の求めの名簿の別の版（{was}）で作成されました。現在の名簿は {current} です。"
            f"その後に停止を求めた人が含まれているおそれがあるため公開しません。`tokumei anonymize --release-id {release_id}` を"
            f"やり直し、validate の後に publish してください / staged release {release_id} was built with another "
            f"opt-out registry version ({built or 'none'}; now {current}); run `tokumei anonymize` and `tokumei validate` "
            "again, then publish"
        )
