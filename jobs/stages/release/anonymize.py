"""The I/O half of `tokumei anonymize`: pin the bronze tables, write the frames of the release, record.

transforms/release/assemble.py computes every frame; this module reads bronze at pinned Delta
versions, writes `WH/staging/<RID>/tables/<table>` (Delta) and, last, `WH/staging/<RID>/anonymize.json`:
a staging directory without it is incomplete. What the run keeps (the pid maps, the patients'
lists) lives in one RunCache for the whole run and is freed when it ends, also on failure.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime import fs
from jobs.runtime.cache import RunCache
from jobs.runtime.config import PipelineConfig
from jobs.runtime.delta_io import is_delta, read_delta, release_writer, table_bytes, table_version
from jobs.runtime.errors import ConfigError, InputError, RefusedError
from jobs.runtime.lineage import DatasetRef, stage_events
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.identities import stored_identities
from jobs.stages.optout_registry import load_optout_registry
from jobs.stages.release.km_check import released_items, released_patients
from jobs.stages.release.optout import optout_entry, registry_nodes, remove_stale_stagings
from jobs.stages.release.plan import Plan, today_jst
from jobs.stages.release.record import anonymize_record
from transforms.identity.linkage import derive_key, link_key
from transforms.kanon.hierarchy import HierarchyError
from transforms.kanon.lattice import NoSolutionError
from transforms.policy import Policy, PolicyError
from transforms.policy.catalog import PATIENT_FACTS
from transforms.release.apply import Context, apply_table
from transforms.release.assemble import Release, Settings, Sources, assemble, row_id
from transforms.release.km import NoKmSolution
from transforms.release.risk import attacker_risk

log = logging.getLogger("tokumei.anonymize")


def anonymize(spark: SparkSession, cfg: PipelineConfig, wh: Warehouse, rid: str, plan: Plan,
              extraction_date: dt.date | None = None, parallel: int | None = None) -> dict[str, Any]:
    """Stage release `rid` from bronze and return its record (also written as anonymize.json)."""
    created = dt.datetime.now(dt.UTC).isoformat()
    policy, keys = plan.policy, plan.keys
    # 停止の求め as the registry stands now (req 42(b)); stagings built with another version go (44).
    registry = load_optout_registry(spark, cfg.ingest.optout_registry)
    stale = remove_stale_stagings(wh, rid, registry.version) if registry is not None else []
    bronze, inputs = read_bronze(spark, wh, policy, plan.policy_file)
    scope = plan.key_scope(rid)  # every key of the release derived for its recipient (and release): reqs 15, 16, 38
    ctx = Context({k: derive_key(v.material, "scope:" + scope["label"]) for k, v in keys.items()}, plan.key_id,
                  plan.refs.hierarchies, plan.refs.prefectures, plan.refs.municipalities)
    sources = Sources(bronze, {i["table"]: table_bytes(spark, i["path"]) for i in inputs},
                      stored_identities(spark, wh, bronze, plan.link),  # ingest's identity hashes, when they match
                      registry_nodes(bronze, registry))
    settings = Settings(policy, ctx, derive_key(ctx.keys[plan.key_id], "pid"), cfg.notice,
                        extraction_date or today_jst(), plan.hierarchies, cfg.tuning, plan.time_carriers,
                        link_key(plan.link.material))
    staging_root = wh.local_path(wh.staging(rid)) if wh.is_local() else None
    scratch = wh.local_path(wh.scratch(f"anonymize-{uuid.uuid4().hex[:12]}")) if wh.is_local() else None
    with RunCache(scratch) as cache:
        with release_errors(policy, plan.policy_file):
            release = assemble(sources, settings, cache)
        if staging_root is not None:
            fs.remove_tree(staging_root)  # a rerun never mixes with a failed run's leftovers
        lineage = wh.local_path(wh.staging(rid, "lineage.jsonl")) if staging_root else None
        with stage_events(lineage, "anonymize", rid) as ev:
            outputs, tables = _write_tables(spark, wh, rid, release, sources, parallel or cfg.tuning.parallel_tables)
            ev.outputs.extend(DatasetRef(f"staging/{rid}/tables/{o['table']}", o["delta_version"], o["rows"]) for o in outputs)
            rows_in = {st["source"]: st["rows_in"] for st in tables.values()}
            for inp in inputs:
                if inp["table"] in rows_in:
                    inp["rows"] = rows_in[inp["table"]]
            ev.inputs.extend(DatasetRef(f"bronze/{i['table']}", i["delta_version"], i.get("rows")) for i in inputs)
        kanon = release.kanon.record(outputs, tables) if release.kanon is not None else None
        km = release.km.record(tables) if release.km is not None else None
        risk = _risk(spark, release, policy, outputs) if release.km is not None else None
        waiting = release.waiting.record(tables)
        tables = release.table_stats(tables)
    released = next((o["rows"] for o in outputs if o["source"] == PATIENT_FACTS), 0)
    optout = optout_entry(release.optout, registry, released, release.waiting.held,
                          kanon["suppressed_patients"] if kanon else 0, tables, stale)
    if not optout["reconciled"]:
        log.warning("patient counts do not add up (in = released + opted out + held back + suppressed): %s", optout)
    record = anonymize_record(rid, plan, scope, created, inputs, outputs, tables, release.linkage, list(release.frames),
                              kanon, waiting, km, risk, optout)
    fs.write_json_atomic(wh.local_path(wh.staging(rid, "anonymize.json")), record)
    return record


@contextmanager
def release_errors(policy: Policy, policy_file: Path) -> Iterator[None]:
    """assemble()'s errors as the contract's: 2 for the policy or the data, 1 when refused."""
    try:
        yield
    except PolicyError as exc:
        raise as_config_error(exc, policy_file) from None
    except HierarchyError as exc:
        raise InputError(f"table patients: {exc}") from None
    except NoSolutionError as exc:
        p = policy.params
        raise RefusedError(f"k-匿名化（規則34条5号）: 指定の k={p.k}・抑制上限 {p.suppression_limit:g} を"
                           f"満たす一般化がありません。リリースを中止します ({exc})") from None
    except NoKmSolution as exc:
        raise RefusedError(
            f"(k, k^m)-匿名化（規則34条5号）: 傷病名等の項目をどの水準まで一般化しても、抑制の上限内で「準識別子と"
            f"任意の {policy.params.km.m if policy.params.km else '?'} 項目」の組合せを k={policy.params.k} 人以上に"
            f"できません。リリースを中止します。次のいずれかを見直してください: params.km.suppression_limit を上げる、"
            f"params.km.m を下げる、params.quasi_identifiers を減らす（または粗くする）、対象期間・対象者を広げる ({exc})"
        ) from None


def _risk(spark: SparkSession, release: Release, policy: Policy, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Re-identification risk at the attacker levels of transforms/release/risk.py: before the (k, k^m)
    stage (the items as k-anonymity left them) and after, measured on the staged tables themselves."""
    assert release.km is not None
    staged = {o["table"]: read_delta(spark, o["path"], o["delta_version"]) for o in outputs}
    patients = released_patients(policy, staged).select("pid", F.col("q").alias("__q"))
    items = released_items(policy, staged).select("pid", F.col("code").alias("__code"), F.col("time").alias("__time"))
    crit = release.km.solution.crit
    return {"before": release.km.risk_before(), "after": attacker_risk(patients, items, crit.k, crit.m)}


def as_config_error(exc: PolicyError, policy_file: Path) -> ConfigError:
    return ConfigError(policy_file, exc.key, str(exc)[len(exc.key) + 2:] if exc.key else str(exc))


def read_bronze(spark: SparkSession, wh: Warehouse, policy: Policy,
                policy_file: Path) -> tuple[dict[str, DataFrame], list[dict[str, Any]]]:
    """Every bronze table the policy rules, at its current version (pinned for the whole run)."""
    frames, inputs = {}, []
    for name in policy.tables:
        path = wh.bronze(name)
        if name == PATIENT_FACTS or not is_delta(spark, path):
            continue
        version = table_version(spark, path)
        frames[name] = read_delta(spark, path, version)
        inputs.append({"table": name, "path": path, "delta_version": version})
    if "receipts" not in frames:
        raise InputError(f"{wh.bronze('receipts')}: no bronze receipts table; run `tokumei ingest` first")
    if wh.is_local():  # default-deny for tables too: a bronze table the policy does not know stops the run
        root = wh.local_path(wh.bronze_root)
        unknown = sorted(p.name for p in root.iterdir() if not p.name.startswith("_") and p.name not in policy.tables)
        if unknown:
            raise ConfigError(policy_file, f"tables.{unknown[0]}",
                              f"bronze table {unknown[0]!r} has no rules (default-deny); add it to the policy")
    return frames, inputs


def _write_tables(spark: SparkSession, wh: Warehouse, rid: str, release: Release, sources: Sources,
                  parallel: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Write every table; `parallel` tables at a time (Spark runs concurrent jobs; small tables and
    Delta commits then overlap instead of leaving the cores idle). Returns the outputs in policy order
    and each output table's stats, counted in the writing pass."""
    policy, bronze = release.policy, sources.bronze

    def one(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        table = policy.tables[name]
        assert table.output is not None
        frame = release.frames[name]
        # The bronze table (the same rows, without the pid join) for table-wide statistics such as quantiles.
        applied = apply_table(frame, table, release.ctx, row_id(frame), bronze.get(name))
        path = wh.staging_table(rid, table.output)
        written = release.post(name, applied.df)
        pseudonyms = {"pid"} | {r.output for r in table.columns.values() if r.method == "pseudonymize"}
        release_writer(written, "overwrite", pseudonyms).option("overwriteSchema", "true").save(path)
        stats = applied.stats()
        rows = stats["rows_in"] - stats["rows_removed"]  # observed in the writing pass
        log.info("staged %s -> %s: %s rows", name, table.output, rows)
        out = {"table": table.output, "source": name, "path": path, "delta_version": table_version(spark, path),
               "rows": rows, "columns": written.columns}
        return out, {"source": name, **stats}

    # Largest first (the Delta files' bytes): the last tables to finish are small ones, so the cores
    # are not left to a single large table at the end (longest-processing-time-first scheduling).
    order = sorted(release.frames, key=lambda n: -sources.sizes.get(n, 0))
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        done = dict(zip(order, pool.map(one, order), strict=True))
    results = [done[n] for n in release.frames]  # the record lists tables in policy order
    return [out for out, _ in results], {out["table"]: stats for out, stats in results}


