"""`make bench`: generate data at a chosen scale, then time every stage against a plain Delta copy.

Everything runs in one process on one SparkSession, so the stages and their baselines see the same
machine state. Baselines: `text_copy` reads the raw UKE/CSV files as text and writes them to Delta
(what ingest must at least do; bench/ingest_bench.py, timed before and after ingest); `delta_copy` copies the bronze tables Delta-to-Delta (what
anonymize, validate and publish read and write). Ratios are stage seconds / baseline seconds. The data
hold 医科, DPC, 調剤 and 歯科 claims (`generate --pharmacy --dpc --dental`); ingest is also timed per claim
kind, each kind's files alone against a plain copy of them (`ingest_by_kind`).
Ingest is also set against the plain script (bench/script_baseline.py: decode CP932, split at commas,
count RE lines, one Parquet file per record type with pyarrow) on the same UKE files, with 1 process
and with os.cpu_count() processes (`ingest`: `script_1p_seconds`, `script_np_seconds`, `ratio_to_script_1p`,
`ratio_to_script_np`, beside `ratio` to the text copy), and with the peak RSS of the driver JVM
(`driver_peak_rss_mb`, VmHWM: since the JVM started, so generate's peak in this process counts too) and
of the Python driver (`python_peak_rss_mb`). `python -m bench.ingest_shapes` (`make bench-shapes`) does
the same on two shapes, many small files and a few large ones, each in a fresh process.
Results are printed as a table and appended to `bench/results/<date>.json`.

    python -m bench.run --patients 20000 --months 12 [--dir build/bench] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from bench.ingest_bench import bench_ingest, bench_ingest_by_kind
from jobs import generate
from jobs.runtime.args import add_conf
from jobs.runtime.config import DEFAULT_REGISTRY, load_pipeline
from jobs.runtime.delta_io import is_delta
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse
from jobs.stages.release.anonymize import anonymize
from jobs.stages.release.manifest import code_version
from jobs.stages.release.plan import plan
from jobs.stages.release.publish import publish
from jobs.stages.release.validate import validate

RESULTS = Path(__file__).resolve().parent / "results"
INGEST_FIGURES = ("lines_per_s", "ratio", "script_1p_seconds", "script_np_seconds", "script_processes", "script_lines",
                  "ratio_to_script_1p", "ratio_to_script_np", "driver_peak_rss_mb", "python_peak_rss_mb")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def delta_copy(spark: SparkSession, wh: Warehouse, target_root: str) -> dict[str, int]:
    """Every bronze table copied Delta-to-Delta, one after another: the floor under anonymize."""
    root = wh.local_path(wh.bronze_root)
    rows = {}
    for path in sorted(root.iterdir()):
        if path.name.startswith("_") or not is_delta(spark, str(path)):
            continue
        df = spark.read.format("delta").load(str(path))
        df.write.format("delta").mode("overwrite").save(f"{target_root}/{path.name}")
        rows[path.name] = spark.read.format("delta").load(f"{target_root}/{path.name}").count()
    return rows


def bench(args: argparse.Namespace) -> dict[str, Any]:
    cfg = load_pipeline(args.conf)
    root = Path(args.dir).resolve()
    data, wh_root, scratch = root / "input", root / "warehouse", root / "baseline"
    for d in (wh_root, scratch):
        shutil.rmtree(d, ignore_errors=True)
    p = plan(cfg, args.conf, "anonymized", None, None, DEFAULT_REGISTRY)
    spark = get_spark(cfg.spark)
    wh = Warehouse(str(wh_root))
    rid = "bench"
    secs: dict[str, float] = {}
    if args.reuse_input and (data / "uke").is_dir():
        secs["generate"] = float("nan")
    else:
        shutil.rmtree(data, ignore_errors=True)
        secs["generate"], code = timed(lambda: generate.main([
            "--out", str(data), "--patients", str(args.patients), "--months", str(args.months),
            "--seed", str(args.seed), "--conf", args.conf, "--pharmacy", "--dpc", "--dental"]))
        if code:
            raise SystemExit(code)
    ing = bench_ingest(spark, str(data), str(wh_root))
    by_kind = bench_ingest_by_kind(spark, str(data / "uke"), str(root / "by_kind"))
    secs["text_copy"], secs["ingest"] = ing["plain_copy_seconds"], ing["seconds"]
    files = ing.get("files", 0)
    secs["delta_copy"], rows = timed(lambda: delta_copy(spark, wh, str(scratch / "delta")))
    secs["anonymize"], record = timed(lambda: anonymize(spark, cfg, wh, rid, p, parallel=args.parallel))
    secs["validate"], verdict = timed(lambda: validate(spark, cfg, wh, rid, docs=False))
    if verdict["success"]:
        secs["publish"], _ = timed(lambda: publish(spark, cfg, wh, rid))
    shutil.rmtree(scratch, ignore_errors=True)
    lines = int(ing["lines"])
    base = {"ingest": "text_copy", "anonymize": "delta_copy", "validate": "delta_copy", "publish": "delta_copy"}
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "scale": {"patients": args.patients, "months": args.months, "seed": args.seed, "files": files,
                  "lines": lines, "bronze_rows": sum(rows.values()),
                  "receipts": rows.get("receipts", 0), "released_patients": record["counts"]["patients"]},
        "validation_passed": bool(verdict["success"]),
        "ingest": {k: ing[k] for k in INGEST_FIGURES},
        "ingest_by_kind": {kind: {k: r[k] for k in ("files", "lines", "seconds", "lines_per_s", "plain_copy_seconds", "ratio",
                                                    "script_1p_seconds", "ratio_to_script_1p", "ratio_to_script_np")}
                           for kind, r in by_kind.items()},
        "seconds": {k: round(v, 2) for k, v in secs.items()},
        "ratios": {stage: round(secs[stage] / secs[b], 2) for stage, b in base.items() if stage in secs and secs[b] > 0},
        "baseline_of": base,
    }


def table(result: dict[str, Any]) -> str:
    rows = [f"{'stage':<11}{'seconds':>10}{'baseline':>12}{'ratio':>8}"]
    for stage, s in result["seconds"].items():
        b = result["baseline_of"].get(stage, "")
        ratio = result["ratios"].get(stage)
        rows.append(f"{stage:<11}{s:>10.1f}{b:>12}{'' if ratio is None else f'{ratio:.2f}':>8}")
    ing = result.get("ingest")
    if ing:
        rows.append(f"ingest {ing['lines_per_s']} lines/s; plain script {ing['script_1p_seconds']:.1f} s with 1 process "
                    f"(ratio {ing['ratio_to_script_1p']}), {ing['script_np_seconds']:.1f} s with {ing['script_processes']} "
                    f"(ratio {ing['ratio_to_script_np']}); peak RSS driver JVM {ing['driver_peak_rss_mb']} MB, "
                    f"Python {ing['python_peak_rss_mb']} MB")
    for kind, r in result.get("ingest_by_kind", {}).items():
        rows.append(f"ingest {kind:<9}{r['seconds']:>7.1f} s {r['lines']:>10} lines {r['lines_per_s']:>8} lines/s "
                    f"ratio {r['ratio']:.2f} to a plain copy of its {r['files']} files, "
                    f"{r.get('ratio_to_script_1p')} to the plain script")
    sc = result["scale"]
    rows.append(f"scale: {sc['patients']} patients x {sc['months']} months, {sc['files']} files, "
                f"{sc['lines']} lines read, {sc['bronze_rows']} bronze rows")
    return "\n".join(rows)


def save(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{result['date'][:10]}.json"
    runs = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    runs.append(result)
    path.write_text(json.dumps(runs, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--patients", type=int, default=20000)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--dir", default="build/bench", help="data, warehouse and baselines (default: %(default)s)")
    add_conf(p)
    p.add_argument("--parallel", type=int, help="default: tuning.parallel_tables in --conf")
    p.add_argument("--reuse-input", action="store_true", help="keep DIR/input from an earlier run with the same scale")
    args = p.parse_args(argv)
    result = bench(args)
    print(table(result))
    print(f"written to {save(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
