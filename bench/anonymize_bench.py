"""Benchmark: `tokumei anonymize` against a plain Delta-to-Delta copy of the same bronze tables.

Issue 4 item 5: anonymize time / copy time on the same tables, target <= 1.5 at 10M+ claim lines.
Both run in one process on one SparkSession, copy first. `replicate_bronze` scales a small bronze
warehouse (e.g. from `tokumei generate` + `tokumei ingest`) by copying every table N times with
re-keyed receipts and distinct identities, so large volumes do not need a long generate run.

    python -m bench.anonymize_bench --warehouse /tmp/wh --release-id bench1 [--replicate-from SRC --copies N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.runtime.args import add_conf, add_profile, add_release_id, add_warehouse
from jobs.runtime.cache import RunCache
from jobs.runtime.config import DEFAULT_REGISTRY, load_pipeline
from jobs.runtime.delta_io import is_delta, release_writer, table_bytes
from jobs.runtime.keys import Key, load_key_checked
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.identities import IDENTITIES, identity_rows, stored_identities
from jobs.stages.release.anonymize import anonymize
from jobs.stages.release.plan import plan
from transforms.columns.pseudonym import PSEUDONYM_BITS, hmac_sha256_hex, with_keys
from transforms.identity.linkage import derive_key, link_key
from transforms.policy.catalog import PATIENT_FACTS
from transforms.release.assemble import Tuning
from transforms.release.patients import CLINICAL_PATIENTS, patient_map, with_pid

CLAIM_TABLES = ("insurances", "public_expenses", "eligibility", "visit_days", "window_payments", "dpc_exclusions",
                "diagnoses", "procedures", "drugs", "materials", "comments", "symptom_details")


def bench_anonymize(spark: SparkSession, warehouse: str, release_id: str, profile: str = "anonymized",
                    conf: str = "conf/pipeline.yaml", parallel: int | None = None, rounds: int = 1,
                    floor: bool = False) -> dict[str, Any]:
    """Seconds for anonymize and for a plain copy of the same bronze tables, and their ratios.

    `ratio` compares with a one-table-at-a-time copy (the plain baseline), timed before and after
    each anonymize run and averaged: a VM's speed drifts by 10-20% within minutes, and the copies on
    both sides of a run see the same drift it does. With `rounds` > 1, anonymize and the copy
    alternate (copy, anonymize, copy, anonymize, copy ...); each run gets its own ratio against
    the copies on both sides of it (`ratios`) and `ratio` is their median.
    `ratio_vs_parallel_copy` compares with a copy that, like anonymize, writes `parallel` tables at a
    time (timed once, before the first run).

    With `floor`, the bench also times the least any release with a `pid` on every row costs: the
    copy where each table with a patient gets `pid` from the pid map, joined as anonymize joins it,
    and nothing else (no rule, no k-anonymity, no rare codes; the map is built first, untimed:
    `floor_map_s`). `floor_ratio` is that copy over the plain copies on both sides of it.
    `floor_linked_ratio`: the same for tables that already carry their patient label (_floor)."""
    cfg = load_pipeline(conf)
    p = plan(cfg, conf, profile, None, None, DEFAULT_REGISTRY)
    policy, keys = p.policy, p.keys
    parallel = parallel or cfg.tuning.parallel_tables
    wh = Warehouse(warehouse)
    tables = [t for t in policy.tables if t != PATIENT_FACTS and is_delta(spark, wh.bronze(t))]
    rows = {t: spark.read.format("delta").load(wh.bronze(t)).count() for t in tables}
    copy_root = wh.staging(f"{release_id}-copy")

    def copy(t: str) -> None:
        spark.read.format("delta").load(wh.bronze(t)).write.format("delta").mode("overwrite").save(f"{copy_root}/{t}")

    # The first pass warms the JVM (class loading, code generation, the Delta log): timing it would
    # flatter the ratio. Anonymize runs after it too, so both are timed warm.
    for t in tables:
        copy(t)
    start = time.perf_counter()
    for t in tables:
        copy(t)
    copy_s = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(copy, tables))
    copy_par_s = time.perf_counter() - start

    anon_runs, copies = [], [copy_s]
    for _ in range(max(1, rounds)):
        start = time.perf_counter()
        record = anonymize(spark, cfg, wh, release_id, p, parallel=parallel)
        anon_runs.append(time.perf_counter() - start)
        start = time.perf_counter()
        for t in tables:
            copy(t)
        copies.append(time.perf_counter() - start)
    ratios = [a / ((copies[i] + copies[i + 1]) / 2) for i, a in enumerate(anon_runs)]
    extra = _floor(spark, wh, policy, keys[p.key_id].material, p.link, tables, copy, copies[-1], cfg.tuning) if floor else {}
    if wh.is_local():
        shutil.rmtree(wh.local_path(copy_root), ignore_errors=True)
    claim_lines = sum(n for t, n in rows.items() if t in CLAIM_TABLES)
    return {
        "stage": "anonymize", "profile": profile, "tables": len(tables), "input_rows": sum(rows.values()),
        "claim_lines": claim_lines, "receipts": rows.get("receipts", 0), "patients": record["counts"]["patients"],
        "anonymize_s": round(statistics.median(anon_runs), 2), "copy_s": round(copy_s, 2),
        "copy_after_s": round(copies[1], 2), "copy_parallel_s": round(copy_par_s, 2),
        "ratio": round(statistics.median(ratios), 3), "ratio_vs_parallel_copy": round(anon_runs[0] / copy_par_s, 3),
        "rounds": len(anon_runs), "anonymize_runs_s": [round(a, 2) for a in anon_runs], "copies_s": [round(c, 2) for c in copies],
        "ratios": [round(r, 3) for r in ratios], "parallel": parallel,
        "cores": os.cpu_count(), "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions"), **extra,
    }


def _floor(spark: SparkSession, wh: Warehouse, policy: Any, key: bytes, link: Key, tables: list[str],
           copy: Callable[[str], None], copy_before: float, tuning: Tuning) -> dict[str, Any]:
    """Two floors under anonymize (see bench_anonymize), each timed against the plain copies around it:

    - `floor_s`: the copy with `pid` joined on every table that has a patient;
    - `floor_linked_s`: tables that already carry each row's patient label (what the first floor wrote,
      as a zone linked after ingest would store them), written as a release writes them: `pid` =
      HMAC(label) and, on claim tables, `receipt_id` = HMAC(receipt_key) per row, no join."""
    t0 = time.perf_counter()
    bronze = {t: spark.read.format("delta").load(wh.bronze(t)) for t in tables}
    stored = stored_identities(spark, wh, bronze, link)
    sizes = {t: table_bytes(spark, wh.bronze(t)) for t in tables}
    cache = RunCache(wh.local_path(wh.scratch("bench-floor")) if wh.is_local() else None)
    pid_map, summary = patient_map(bronze, derive_key(key, "pid"), policy.linkage, stored=stored, cache=cache,
                                   link_key=link_key(link.material))
    map_s = time.perf_counter() - t0
    root, linked_root = wh.staging("floor-copy"), wh.staging("floor-linked")

    def copies() -> float:
        start = time.perf_counter()
        for t in tables:
            copy(t)
        return time.perf_counter() - start

    def linked(t: str) -> None:
        df = spark.read.format("delta").load(f"{root}/{t}")
        if "pid" in df.columns:
            df, pads = with_keys(df, {"pid": derive_key(key, "floor-pid"), "receipt": derive_key(key, "floor-receipt")})
            own = [c for c in df.columns if not c.startswith("__key")]
            extra = [hmac_sha256_hex(F.col("pid"), pads["pid"], PSEUDONYM_BITS).alias("pid")]
            if "receipt_key" in own:
                extra.append(hmac_sha256_hex(F.col("receipt_key"), pads["receipt"], PSEUDONYM_BITS).alias("receipt_id"))
            df = df.select(*[c for c in own if c != "pid"], *extra)
        release_writer(df, "overwrite", {"pid", "receipt_id"}).save(f"{linked_root}/{t}")

    try:
        start = time.perf_counter()
        for t in tables:
            df = bronze[t]
            if "pid" in policy.tables[t].derived:
                joined = with_pid(df, pid_map, broadcast=summary["nodes"] <= tuning.broadcast_nodes,
                                  small_table=sizes[t] <= tuning.small_table_bytes)
                df = joined.select(*df.columns, "pid")
            df.write.format("delta").mode("overwrite").save(f"{root}/{t}")
        floor_s = time.perf_counter() - start
        copy_after = copies()
        start = time.perf_counter()
        for t in tables:
            linked(t)
        linked_s = time.perf_counter() - start
        copy_last = copies()
    finally:
        cache.close()
        if wh.is_local():
            shutil.rmtree(wh.local_path(root), ignore_errors=True)
            shutil.rmtree(wh.local_path(linked_root), ignore_errors=True)
    return {"floor_map_s": round(map_s, 2), "floor_s": round(floor_s, 2),
            "floor_copies_s": [round(copy_before, 2), round(copy_after, 2), round(copy_last, 2)],
            "floor_ratio": round(floor_s / ((copy_before + copy_after) / 2), 3),
            "floor_linked_s": round(linked_s, 2), "floor_linked_ratio": round(linked_s / ((copy_after + copy_last) / 2), 3)}


def replicate_bronze(spark: SparkSession, source: str, target: str, copies: int, key: Key) -> dict[str, int]:
    """Write `copies` copies of every bronze table of `source` into `target`, each copy a new set of
    receipts and people (receipt keys, kana names, card and patient numbers get the copy number)."""
    src, dst = Warehouse(source), Warehouse(target)
    n = spark.range(copies).select(F.col("id").cast("int").alias("__copy"))
    suffix = F.lpad(F.col("__copy").cast("string"), 5, "0")
    out = {}
    for path in sorted(Path(src.local_path(src.bronze_root)).iterdir()):
        if path.name.startswith("_") or not is_delta(spark, str(path)):
            continue
        df = spark.read.format("delta").load(str(path)).crossJoin(n)
        for col, fn in {
            "receipt_key": lambda c: F.concat(c, F.lit("#"), suffix),
            "kana_name": lambda c: F.concat(c, F.translate(suffix, "0123456789", "アイウエオカキクケコ")),
            "card_number": lambda c: F.concat(c, suffix),
            "patient_id": lambda c: F.concat(c, F.lit("-"), suffix),
            "file_sha256": lambda c: F.concat(c, suffix),
        }.items():
            if col in df.columns:
                df = df.withColumn(col, fn(F.col(col)))
        df = df.drop("__copy")
        df.write.format("delta").mode("overwrite").save(dst.bronze(path.name))
        out[path.name] = spark.read.format("delta").load(dst.bronze(path.name)).count()
    write_identities(spark, target, key)
    return out


def write_identities(spark: SparkSession, warehouse: str, key: Key) -> int:
    """(Re)write `bronze/_identities` from the warehouse's bronze tables, as ingest writes it for the
    rows it adds (jobs/stages/ingest/identities.py): for a warehouse made by `replicate_bronze`, or ingested before
    the table existed. Returns its rows."""
    wh = Warehouse(warehouse)
    names = ("receipts", "insurances", "eligibility", CLINICAL_PATIENTS)
    frames = {t: spark.read.format("delta").load(wh.bronze(t)) for t in names if is_delta(spark, wh.bronze(t))}
    rows = identity_rows(frames, key)
    if rows is None:
        return 0
    rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(wh.bronze(IDENTITIES))
    return spark.read.format("delta").load(wh.bronze(IDENTITIES)).count()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.anonymize_bench", description=__doc__.splitlines()[0])
    add_warehouse(p)
    add_release_id(p, "id of the staged release to write")
    add_profile(p, required=False)
    add_conf(p)
    p.add_argument("--replicate-from", help="a small warehouse whose bronze tables are copied --copies times first")
    p.add_argument("--copies", type=int, default=1)
    p.add_argument("--write-identities", action="store_true",
                   help="(re)write bronze/_identities from the bronze tables first (a warehouse ingested before it existed)")
    p.add_argument("--parallel", type=int, help="default: tuning.parallel_tables in --conf")
    p.add_argument("--rounds", type=int, default=1, help="anonymize runs, each between two timed copies; ratio = median")
    p.add_argument("--floor", action="store_true",
                   help="also time the copy with only the pid join (the least a release with pid on every row costs)")
    args = p.parse_args(argv)
    cfg = load_pipeline(args.conf)
    link = load_key_checked(cfg.keys, cfg.keys.key_id, args.conf)
    spark = get_spark(cfg.spark)
    if args.replicate_from:
        t0 = time.perf_counter()
        counts = replicate_bronze(spark, args.replicate_from, args.warehouse, args.copies, link)
        print(json.dumps({"replicated": counts, "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    elif args.write_identities:
        t0 = time.perf_counter()
        n = write_identities(spark, args.warehouse, link)
        print(json.dumps({"identities": n, "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
    print(json.dumps(bench_anonymize(spark, args.warehouse, args.release_id, args.profile, args.conf, args.parallel,
                                     args.rounds, args.floor),
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
