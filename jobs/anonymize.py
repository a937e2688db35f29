"""`tokumei anonymize`: apply a policy profile to the bronze tables and write the staged release.

Reads every bronze table at a pinned Delta version, links patients into one keyed `pid` (the same
in every table of the release), applies each table's rules (transforms/release/apply.py), builds the release
table `patients` (one row per pid) and writes `WH/staging/<RID>/tables/<table>` (Delta). The record
`WH/staging/<RID>/anonymize.json` is written last: a staging directory without it is incomplete.
Exit codes: 2 for a bad policy, config, key id or recipient id (nothing is written); 1 when the
run is refused (pseudonymized without a certified recipient, release id already published).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime import fs
from jobs.runtime.args import add_release_options
from jobs.runtime.config import PipelineConfig, load_pipeline
from jobs.runtime.delta_io import is_delta, last_commit, read_delta, release_writer
from jobs.runtime.errors import ConfigError, InputError, RefusedError, entrypoint
from jobs.runtime.keys import Key
from jobs.runtime.lineage import DatasetRef, stage_events
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse, check_release_id
from jobs.stages.ingest.identities import stored_identities
from jobs.stages.release.kanon import KAnonStage, kanon_stage
from jobs.stages.release.manifest import code_version
from jobs.stages.release.policy_files import load_policy, load_references, policy_catalog, resolve_keys
from jobs.stages.release.recipients import Recipient, resolve_recipient
from jobs.stages.release.waiting import WaitingPeriod, today_jst, waiting_period
from transforms.columns.pseudonym import PSEUDONYM_BITS
from transforms.identity.linkage import derive_key
from transforms.policy import Policy, PolicyError
from transforms.policy.catalog import FIRST_SERVICE, PATIENT_FACTS
from transforms.policy.labels import table_labels
from transforms.policy.steps import processing_steps
from transforms.release.apply import Context, apply_table, check_schema, plan_rares
from transforms.release.patients import (
    CLINICAL_PATIENTS,
    materialized,
    node_projection,
    patient_facts,
    patient_map,
    with_pid,
    with_removals,
)

log = logging.getLogger("tokumei.anonymize")
# Up to this many linked records (receipts + clinical patients) the pid map is broadcast to every
# table's join (about 100 bytes a record in its compact form); above, it is a shuffle join.
BROADCAST_NODES = 3_000_000
DEFAULT_PARALLEL = 3
# A bronze table of at most this many bytes (Parquet) gets only the pid-map rows it needs, found by a
# semi join, instead of a broadcast of the whole map (transforms/release/patients.with_pid `small_table`).
SMALL_TABLE_BYTES = 6 << 20


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokumei anonymize", description=__doc__.splitlines()[0])
    add_release_options(p, "id of the staged release to write", profile_required=True)
    p.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL,
                   help="tables written at the same time (default: %(default)s)")
    add_extraction_date(p)
    return p


def add_extraction_date(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extraction-date", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                   help="the day the release is extracted, for the waiting period after the notice "
                        "(requirement 43; default: today in Japan)")


@dataclass(frozen=True)
class Plan:
    """Everything anonymize needs that can be checked before Spark starts."""

    policy: Policy
    policy_file: Path
    recipient: Recipient | None
    key_id: str
    keys: dict[str, Key]
    refs: Any


def plan(cfg: PipelineConfig, conf: str, profile: str, policy_path: str | None, recipient_id: str | None,
         recipients: str) -> Plan:
    """Load and check the policy, the recipient and the keys (config errors exit 2 here)."""
    if not policy_path and profile not in cfg.policies:
        raise ConfigError(conf, f"policies.{profile}", "no policy file configured for this profile")
    policy, policy_file = load_policy(policy_path or cfg.policies[profile])
    if policy.profile != profile:
        raise ConfigError(policy_file, "profile", f"the policy is for {policy.profile}, but --profile is {profile}")
    recipient = resolve_recipient(profile, recipient_id, recipients)
    key_id = (recipient.key_id if recipient and recipient.key_id else None) or cfg.keys.key_id
    keys = resolve_keys(policy, policy_file, cfg.keys, key_id)
    refs = load_references(policy, policy_file)
    return Plan(policy, policy_file, recipient, key_id, keys, refs)


def refuse_published(wh: Warehouse, release_id: str) -> None:
    if wh.local_path(wh.release(release_id, "manifest.json")).exists():
        raise RefusedError(f"release {release_id} is already published; releases are immutable: use a new release id")


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = load_pipeline(args.conf)
    check_release_id(args.release_id)
    wh = Warehouse(args.warehouse)
    refuse_published(wh, args.release_id)
    p = plan(cfg, args.conf, args.profile, args.policy, args.recipient, args.recipients)
    spark = get_spark(cfg.spark)
    record = anonymize(spark, cfg, wh, args.release_id, p.policy, p.policy_file, p.keys, p.key_id, p.recipient,
                       p.refs, args.parallel, args.extraction_date)
    print(f"staged {args.release_id} ({p.policy.regime}): {len(record['outputs'])} tables, "
          f"{record['counts']['patients']} patients; record {wh.staging(args.release_id, 'anonymize.json')}")
    return 0


def read_bronze(spark: SparkSession, wh: Warehouse, policy: Policy) -> tuple[dict[str, DataFrame], list[dict[str, Any]]]:
    frames, inputs = {}, []
    for name in policy.tables:
        path = wh.bronze(name)
        if name == PATIENT_FACTS or not is_delta(spark, path):
            continue
        version = _delta_version(spark, wh, path)
        frames[name] = read_delta(spark, path, version)
        inputs.append({"table": name, "path": path, "delta_version": version})
    if "receipts" not in frames:
        raise InputError(f"{wh.bronze('receipts')}: no bronze receipts table; run `tokumei ingest` first")
    if wh.is_local():  # default-deny for tables too: a bronze table the policy does not know stops the run
        root = wh.local_path(wh.bronze_root)
        unknown = sorted(p.name for p in root.iterdir() if not p.name.startswith("_") and p.name not in policy.tables)
        if unknown:
            raise PolicyError(f"tables.{unknown[0]}", f"bronze table {unknown[0]!r} has no rules (default-deny); "
                                                      f"add it to the policy")
    return frames, inputs


def _as_config_error(exc: PolicyError, policy_file: Path) -> ConfigError:
    return ConfigError(policy_file, exc.key, str(exc)[len(exc.key) + 2:] if exc.key else str(exc))


def anonymize(spark: SparkSession, cfg: PipelineConfig, wh: Warehouse, rid: str, policy: Policy, policy_file: Path,
              keys: dict[str, Key], key_id: str, recipient: Recipient | None, refs: Any,
              parallel: int = 1, extraction_date: dt.date | None = None) -> dict[str, Any]:
    with _releasing_cached(spark):
        return _anonymize(spark, cfg, wh, rid, policy, policy_file, keys, key_id, recipient, refs, parallel, extraction_date)


@contextmanager
def _releasing_cached(spark: SparkSession) -> Iterator[None]:
    """Free what the run cached when it ends. The pid maps and the lists of removed patients are
    local checkpoints, which `DataFrame.unpersist` does not release (their blocks stay until the JVM
    collects the objects, and a session that runs several releases, or the test suite, fills its
    memory with them): the RDDs persisted during the run are unpersisted here. A run owns its
    session's caching while it runs."""
    try:
        before = set(spark.sparkContext._jsc.getPersistentRDDs().keySet())
    except Exception:  # no JVM handle (Spark Connect): nothing to release from here
        yield
        return
    try:
        yield
    finally:
        rdds = spark.sparkContext._jsc.getPersistentRDDs()
        for rdd_id in set(rdds.keySet()) - before:
            rdds.get(rdd_id).unpersist(False)


def _anonymize(spark: SparkSession, cfg: PipelineConfig, wh: Warehouse, rid: str, policy: Policy, policy_file: Path,
               keys: dict[str, Key], key_id: str, recipient: Recipient | None, refs: Any,
               parallel: int = 1, extraction_date: dt.date | None = None) -> dict[str, Any]:
    created = dt.datetime.now(dt.UTC).isoformat()
    waiting = WaitingPeriod(cfg.notice, extraction_date or today_jst())
    try:
        bronze, inputs = read_bronze(spark, wh, policy)
        for name, df in bronze.items():  # default-deny at run time, before anything is written
            check_schema(df, policy.tables[name], with_pid=False)
    except PolicyError as exc:
        raise _as_config_error(exc, policy_file) from None
    ctx = Context({k: v.material for k, v in keys.items()}, key_id, refs.hierarchies, refs.prefectures, refs.municipalities)
    pid_key = derive_key(keys[key_id].material, "pid")
    stored = stored_identities(spark, wh, bronze)  # ingest's identity hashes, when they match bronze
    pid_map, summary = patient_map(bronze, pid_key, policy.linkage, *_receipt_pseudonym(policy, ctx), stored=stored)
    linkage = {**summary, "identities": "stored" if stored is not None else "computed"}
    drop_unlinked = policy.linkage.unlinked == "drop"
    frames: dict[str, DataFrame] = {}
    small = summary["nodes"] <= BROADCAST_NODES
    kanon: KAnonStage | None = None
    final_map: DataFrame | None = None
    try:

        def attach(df: DataFrame, drop: bool = False) -> DataFrame:
            return with_pid(df, pid_map, drop, broadcast=small, small_table=estimated_size(df) <= SMALL_TABLE_BYTES)

        for name, table in policy.tables.items():
            if name in bronze and table.output:
                frames[name] = attach(bronze[name], drop_unlinked) if "pid" in table.derived else bronze[name]
        clinical = attach(bronze[CLINICAL_PATIENTS]) if CLINICAL_PATIENTS in bronze else None
        receipts = frames.get("receipts", attach(bronze["receipts"]))
        labs = attach(bronze["labs"]) if "labs" in bronze else None
        facts = patient_facts(receipts.where(~F.col("__drop_row")) if drop_unlinked else receipts,
                              clinical, refs.prefectures, _first_samples(bronze, attach))
        at_first_service = _at_first_service(policy)
        # Computed once when both k-anonymity and the pid map read it (tables with `at: first_service`).
        facts = frames[PATIENT_FACTS] = materialized(facts) if at_first_service else facts
        for name, df in frames.items():  # default-deny at run time, before anything is written
            try:
                check_schema(df, policy.tables[name])
            except PolicyError as exc:
                raise _as_config_error(exc, policy_file) from None
        frames, waiting = waiting_period(frames, policy, cfg.notice, waiting.extraction_date, receipts, labs)  # req 43
        write_policy = policy  # 規則34条5号 (reqs 21-22): k-anonymous patients, suppressed patients' rows removed
        if policy.profile == "anonymized":
            kanon = kanon_stage(frames, policy, policy_file, ctx)
            frames, write_policy = kanon.frames, kanon.policy

        # Every removal (held back, suppressed) folded into the pid map: each table joins one map
        # for pid and flags, instead of the map and then each list of removed patients on the pid.
        # Tables with `at: first_service` get each row's patient's first service month from it as well.
        final_map = with_removals(pid_map, lambda m: kanon.mark(waiting.mark(m)) if kanon is not None else waiting.mark(m),
                                  facts if at_first_service else None)

        def released(df: DataFrame) -> DataFrame:  # pid and every removal flag the written frames get
            return with_pid(df, final_map, drop_unlinked, broadcast=small, small_table=estimated_size(df) <= SMALL_TABLE_BYTES)

        for name in list(frames):
            if name != PATIENT_FACTS and name in bronze and "pid" in frames[name].columns:
                frames[name] = released(bronze[name])

        # Rare-code plans (req 18) from the bronze code columns: their union gets pid in one join.
        sources = {n: bronze[n] for n, df in frames.items() if n in bronze and "pid" in df.columns}
        ctx = plan_rares(sources, write_policy.tables, ctx, node_projection, released)
        staging_root = wh.local_path(wh.staging(rid)) if wh.is_local() else None
        if staging_root is not None:
            fs.remove_tree(staging_root)  # a rerun never mixes with a failed run's leftovers
        with stage_events(wh.local_path(wh.staging(rid, "lineage.jsonl")) if staging_root else None, "anonymize", rid) as ev:
            outputs, tables = _write_tables(spark, wh, rid, write_policy, frames, ctx, ev, inputs, parallel,
                                            kanon.recode if kanon is not None else None, bronze)
        kanon_entry = kanon.record(outputs, tables) if kanon is not None else None
        waiting_entry = waiting.record(tables)
        tables = kanon.table_stats(tables) if kanon is not None else tables
        tables = waiting.table_stats(tables)
    finally:
        pid_map.unpersist()
        if final_map is not None:
            final_map.unpersist()
        waiting.unpersist()
        if kanon is not None:
            kanon.unpersist()
    record = _record(rid, policy, policy_file, keys, key_id, recipient, created, inputs, outputs, tables, linkage, frames,
                     kanon_entry, waiting_entry)
    fs.write_json_atomic(wh.local_path(wh.staging(rid, "anonymize.json")), record)
    return record


def _write_tables(spark: SparkSession, wh: Warehouse, rid: str, policy: Policy, frames: dict[str, DataFrame],
                  ctx: Context, ev: Any, inputs: list[dict[str, Any]], parallel: int = 1,
                  post: Callable[[str, DataFrame], DataFrame] | None = None,
                  sources: dict[str, DataFrame] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Write every table; `parallel` tables at a time (Spark runs concurrent jobs; small tables and
    Delta commits then overlap instead of leaving the cores idle). `post(name, frame)`: a last step on
    the ruled frame before it is written (k-anonymity's recoding of quasi-identifier carriers).
    `sources`: the bronze table of each frame (the same rows, without the pid join) for table-wide
    statistics such as quantiles, and for the order the tables are written in."""
    sources = sources or {}
    sizes = {n: estimated_size(df) for n, df in sources.items()}

    def one(name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        table = policy.tables[name]
        assert table.output is not None
        applied = apply_table(frames[name], table, ctx, _row_id(frames[name]), sources.get(name))
        path = wh.staging_table(rid, table.output)
        written = post(name, applied.df) if post is not None else applied.df
        pseudonyms = {"pid"} | {r.output for r in table.columns.values() if r.method == "pseudonymize"}
        release_writer(written, "overwrite", pseudonyms).option("overwriteSchema", "true").save(path)
        stats = applied.stats()
        rows = stats["rows_in"] - stats["rows_removed"]  # observed in the writing pass
        log.info("staged %s -> %s: %s rows", name, table.output, rows)
        out = {"table": table.output, "source": name, "path": path, "delta_version": _delta_version(spark, wh, path),
               "rows": rows, "columns": written.columns}
        return name, out, {"source": name, **stats}

    # Largest first (the Delta files' bytes): the last tables to finish are small ones, so the cores
    # are not left to a single large table at the end (longest-processing-time-first scheduling).
    order = sorted(frames, key=lambda n: -sizes.get(n, 0))
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        done = dict(zip(order, pool.map(one, order), strict=True))
    results = [done[n] for n in frames]  # the record lists tables in policy order
    outputs, tables = [], {}
    for name, out, stats in results:
        outputs.append(out)
        tables[out["table"]] = stats
        for inp in inputs:
            if inp["table"] == name:
                inp["rows"] = stats["rows_in"]
        ev.outputs.append(DatasetRef(f"staging/{rid}/tables/{out['table']}", out["delta_version"], out["rows"]))
    ev.inputs.extend(DatasetRef(f"bronze/{i['table']}", i["delta_version"], i.get("rows")) for i in inputs)
    return outputs, tables


def _delta_version(spark: SparkSession, wh: Warehouse, path: str) -> int:
    """The table's latest version: from the log's file names when local (no Spark job), else history."""
    if wh.is_local():
        log_dir = wh.local_path(path) / "_delta_log"
        versions = [int(p.name[:20]) for p in log_dir.glob("*.json") if p.name[:20].isdigit()]
        if versions:
            return max(versions)
    return int(last_commit(spark, path)["version"])


def _receipt_pseudonym(policy: Policy, ctx: Context) -> tuple[bytes | None, int]:
    """(key, bits) of receipt_key's pseudonym when every released table uses the same plain rule for
    it, else (None, 256): the pid map then carries no receipt pseudonym."""
    rules = [t.columns["receipt_key"] for t in policy.tables.values() if t.output and "receipt_key" in t.columns]
    first = rules[0] if rules else None
    if first is None or first.method != "pseudonymize" or first.params["normalize"] != "none":
        return None, 256
    if any(r.method != first.method or r.params != first.params for r in rules):
        return None, 256
    return ctx.key(first, f"column:{first.params['domain'] or 'receipt_key'}"), first.params.get("bits", PSEUDONYM_BITS)


def _row_id(df: DataFrame) -> Any:
    """A stable identity per input row for keyed noise and swaps: the source line, else the patient."""
    if {"file_sha256", "line_no"} <= set(df.columns):
        return F.concat_ws(":", F.col("file_sha256"), F.col("line_no").cast("string"))
    return F.col("pid") if "pid" in df.columns else None


def _first_samples(bronze: dict[str, DataFrame], attach: Callable[[DataFrame], DataFrame]) -> DataFrame | None:
    """Each clinical patient's first lab sample, with pid: all patient_facts needs of labs. Taken per
    patient before the pid map is joined (3M lab rows become one row per patient)."""
    labs = bronze.get("labs")
    if labs is None:
        return None
    if not {"institution_code", "patient_id"} <= set(labs.columns):
        return attach(labs)
    return attach(labs.groupBy("institution_code", "patient_id").agg(F.min("sampled_on").alias("sampled_on")))


def _at_first_service(policy: Policy) -> bool:
    """Whether a rule takes an age at the patient's first service month on a table other than patients."""
    return any(r.params.get("at") == FIRST_SERVICE for n, t in policy.tables.items() if n != PATIENT_FACTS
               for r in t.columns.values())


def estimated_size(df: DataFrame) -> int:
    """The optimizer's size estimate of a bronze frame (the Delta files' bytes; no Spark job). Where
    there is no JVM handle (Spark Connect, Databricks shared clusters) the frame counts as large: the
    plain join, which is always correct."""
    try:
        return int(str(df._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))
    except Exception:  # AttributeError without _jdf; a Py4J error from a remote session
        return SMALL_TABLE_BYTES + 1


def _record(rid: str, policy: Policy, policy_file: Path, keys: dict[str, Key], key_id: str, recipient: Recipient | None,
            created: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], tables: dict[str, Any],
            linkage: dict[str, Any], frames: dict[str, DataFrame], kanon: dict[str, Any] | None = None,
            waiting: dict[str, Any] | None = None) -> dict[str, Any]:
    catalog = policy_catalog({"clinical_layouts": policy.clinical_layouts}, policy_file)
    labels = {policy.tables[s].output: table_labels(policy.tables[s], catalog[s]) for s in frames}
    patients = next((o["rows"] for o in outputs if o["source"] == PATIENT_FACTS), 0)
    steps = processing_steps(policy, tables)
    if kanon is not None:  # item 5 done here (reqs 21-22): what was generalized and how many patients suppressed
        steps["5_dataset_properties"].update(status="applied", levels=kanon["levels"],
                                             suppressed_patients=kanon["suppressed_patients"], note="applied to patients")
    return {
        "release_id": rid,
        "profile": policy.profile,
        "regime": policy.regime,
        "created_at": created,
        "code_version": code_version(),
        "policy": {"path": str(policy_file), "sha256": policy.sha256(),
                   "file_sha256": hashlib.sha256(policy_file.read_bytes()).hexdigest()},
        "key": {"key_id": key_id, "fingerprint": keys[key_id].fingerprint,
                "all": [{"key_id": k.key_id, "fingerprint": k.fingerprint} for k in keys.values()]},
        "recipient": recipient.record() if recipient else None,
        "inputs": inputs,
        "outputs": outputs,
        "counts": {
            "patients": patients,
            "patients_unlinked": linkage["unlinked"],
            "records_removed": {t: s["rows_removed"] for t, s in tables.items()},
            "rows_in": {t: s["rows_in"] for t, s in tables.items()},
            "patients_suppressed": kanon["suppressed_patients"] if kanon else 0,  # with all their rows (req 21)
            "patients_held_back": (waiting or {}).get("patients_held_back", 0),  # waiting period (req 43)
        },
        "waiting_period": waiting,
        "linkage": {**linkage, "keys": list(policy.linkage.keys), "rounds": policy.linkage.rounds,
                    "unlinked_policy": policy.linkage.unlinked},
        "processing_steps": steps,
        "labels": labels,
        "tables": tables,
        "quasi_identifiers": list(policy.params.quasi_identifiers),
        "params": dict(policy.effective()["params"]),
        **({"kanon": kanon} if kanon is not None else {}),
    }


if __name__ == "__main__":
    sys.exit(main())
