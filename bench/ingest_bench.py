"""Benchmark: `tokumei ingest` against a plain text-to-Delta copy of the same files (issue 3 item 8).

Both run in one process on one SparkSession, after one warm-up read of the files; the copy runs before
and after ingest (mean taken). The copy is the floor any ingest pays (read the lines, write one Delta
table); the ratio is what parsing, line order, receipt grouping, rejects, opt-out and the ledger cost.
The plain script (bench/script_baseline.py: decode, split, count RE lines, one Parquet file per record
type, with pyarrow) is timed on the same UKE files after ingest, with 1 and with os.cpu_count() processes:
the ratio to it is what ingest costs over what a user could write in an afternoon (issue 18 item 3).

`make_big_input` writes a large UKE input by repeating the real fixture's body with renumbered
receipts (generated test input: write it under /tmp and delete it after). The fixture is read from
../shared beside the checkout ($TOKUMEI_SHARED if set), or from --fixture.

    python -m bench.ingest_bench --input DIR --warehouse WH [--json-out FILE]
    python -m bench.ingest_bench --make-big /tmp/big --lines 10000000 --files 20 [--fixture FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from bench.script_baseline import run_script
from jobs.runtime.config import DEFAULT_LAYOUTS, IngestSettings
from jobs.runtime.delta_io import is_delta
from jobs.runtime.session import SparkSettings, get_spark
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.clinical import load_layouts
from jobs.stages.ingest.files import discover, spark_path
from jobs.stages.ingest.pipeline import run_ingest

REPO = Path(__file__).resolve().parents[1]
FIXTURE_IN_SHARED = Path("fixtures") / "uke" / "RECEIPTC_GAIRAI_SAMPLE.UKE"


def default_fixture(repo: Path = REPO) -> Path:
    """The real UKE fixture in the shared folder: $TOKUMEI_SHARED if set, else `shared` in the first
    ancestor of the repository root that has shared/DESIGN.md (../shared beside the checkout)."""
    if os.environ.get("TOKUMEI_SHARED"):
        return Path(os.environ["TOKUMEI_SHARED"]) / FIXTURE_IN_SHARED
    for ancestor in repo.resolve().parents:
        if (ancestor / "shared" / "DESIGN.md").is_file():
            return ancestor / "shared" / FIXTURE_IN_SHARED
    raise FileNotFoundError(f"no shared folder beside {repo} (an ancestor with shared/DESIGN.md): "
                            "set TOKUMEI_SHARED or pass --fixture")


def driver_jvm_pids() -> list[int]:
    """The Spark driver JVM(s) of this process: in local mode spark-submit execs java as our child."""
    me, out = str(os.getpid()), []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                # the command name in stat may hold spaces and brackets: the fields after the last ")"
                ppid = (d / "stat").read_text().rsplit(")", 1)[1].split()[1]
                if ppid == me and b"java" in (d / "cmdline").read_bytes():
                    out.append(int(d.name))
            except (OSError, IndexError):
                continue
    return out


def peak_rss_mb() -> dict[str, int | None]:
    """`driver_peak_rss_mb`: VmHWM of the driver JVM, `python_peak_rss_mb`: ru_maxrss of this process.

    Both are peaks since the process started, not since the call before: whatever ran earlier in the
    same process (a warm-up read, `generate` in `make bench`) counts too. None where there is no local
    JVM (Spark Connect, a cluster) or /proc is missing."""
    jvm = []
    for pid in driver_jvm_pids():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        jvm += [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")]
    return {"driver_peak_rss_mb": round(max(jvm) / 1024) if jvm else None,
            "python_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def bench_script(files: Sequence[str], scratch: Path, processes: int) -> dict[str, Any]:
    """bench/script_baseline.py on `files` into `scratch` (removed after)."""
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        return run_script([Path(f) for f in files], scratch, processes)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def bench_ingest(spark: SparkSession, input_dir: str, warehouse: str) -> dict[str, Any]:
    """Time `run_ingest`, a plain text-to-Delta copy of the same files and the plain script; lines/s and ratios.

    Returns `seconds`, `lines`, `lines_per_s` (ingest), `plain_copy_seconds` (mean of a copy before and
    one after ingest), `plain_copy_lines_per_s` and `ratio` (ingest seconds / copy seconds), plus file
    figures. The copy reads exactly the files
    ingest takes (UKE and declared clinical extracts) and writes their lines to one Delta table: the
    floor any ingest pays. Use a fresh warehouse: files already in its ledger are skipped.

    The plain script (bench/script_baseline.py) reads the UKE files ingest takes, after ingest, with 1
    process and with os.cpu_count() processes: `script_1p_seconds`, `script_np_seconds`,
    `script_processes`, `script_lines` (what it read, UKE only), `ratio_to_script_1p` and
    `ratio_to_script_np` (ingest seconds / script seconds; ingest also reads any clinical extracts,
    the script does not). `driver_peak_rss_mb` and `python_peak_rss_mb`: `peak_rss_mb` read right
    after ingest, before the 1-process script runs in this Python process.
    """
    settings = IngestSettings(max_file_bytes=64 * 1024**3)
    files, _ = discover(input_dir, load_layouts(DEFAULT_LAYOUTS), settings.max_file_bytes)
    if not files:
        raise ValueError(f"bench_ingest: no UKE or clinical files under {input_dir}")
    paths = [spark_path(f.path) for f in files]
    wh = Warehouse(warehouse)
    if is_delta(spark, wh.ledger):
        raise ValueError(f"bench_ingest: {warehouse} already has a ledger; use a fresh warehouse")
    copy_path = wh.bronze("_bench_plain_copy")
    lines = spark.read.text(paths).count()  # warm-up: the OS cache holds the files for both runs

    def plain_copy() -> float:
        start = time.perf_counter()
        spark.read.text(paths).write.format("delta").mode("overwrite").save(copy_path)
        return time.perf_counter() - start

    # The copy runs before and after ingest and the mean is taken: on a shared machine the load drifts
    # during a long run, and a copy timed only at one end would skew the ratio.
    copy_before = plain_copy()
    start = time.perf_counter()
    summary = run_ingest(spark, input_dir, warehouse, settings)
    ingest_s = time.perf_counter() - start
    memory = peak_rss_mb()
    copy_after = plain_copy()
    copy_s = (copy_before + copy_after) / 2
    shutil.rmtree(wh.local_path(copy_path), ignore_errors=True)
    uke = [f.path for f in files if f.kind == "uke"]
    scratch = wh.local_path(wh.bronze("_bench_script"))
    cores = os.cpu_count() or 1
    one, many = bench_script(uke, scratch, 1), bench_script(uke, scratch, cores)
    ingested = int(summary.get("lines_read", 0))
    return {
        "seconds": round(ingest_s, 1),
        "lines": ingested,
        "lines_per_s": round(ingested / ingest_s),
        "plain_copy_seconds": round(copy_s, 1),
        "plain_copy_lines_per_s": round(lines / copy_s),
        "plain_copy_seconds_before_after": [round(copy_before, 1), round(copy_after, 1)],
        "ratio": round(ingest_s / copy_s, 2),
        "script_1p_seconds": one["seconds"],
        "script_np_seconds": many["seconds"],
        "script_processes": many["processes"],
        "script_lines": one["lines"],
        "script_1p_lines_per_s": one["lines_per_s"],
        "script_np_lines_per_s": many["lines_per_s"],
        "ratio_to_script_1p": round(ingest_s / one["seconds"], 2) if one["seconds"] else None,
        "ratio_to_script_np": round(ingest_s / many["seconds"], 2) if many["seconds"] else None,
        **memory,
        "files": len(files),
        "bytes": sum(f.size for f in files),
        "largest_file_bytes": max(f.size for f in files),
        "lines_rejected": summary.get("lines_rejected"),
    }


def bench_ingest_by_kind(spark: SparkSession, input_dir: str, root: str) -> dict[str, dict[str, Any]]:
    """`bench_ingest` once per claim kind (医科, DPC, 歯科, 調剤) present under `input_dir`: that kind's files
    alone, linked (or copied) under `root`/<kind>/input, ingested into `root`/<kind>/warehouse. Claim
    kind -> the figures of `bench_ingest` (lines/s, and the ratio to a plain copy of the same files)."""
    files, _ = discover(input_dir, [], 64 * 1024**3, allow_unrecognized=True)
    kinds: dict[str, list[Any]] = {}
    for f in files:
        if f.kind == "uke" and f.claim_kind:
            kinds.setdefault(f.claim_kind, []).append(f)
    out: dict[str, dict[str, Any]] = {}
    for kind, group in sorted(kinds.items()):
        base = Path(root) / kind
        shutil.rmtree(base, ignore_errors=True)
        for f in group:
            target = base / "input" / f.rel_path
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(f.path, target)
            except OSError:
                shutil.copyfile(f.path, target)
        out[kind] = bench_ingest(spark, str(base / "input"), str(base / "warehouse"))
        shutil.rmtree(base, ignore_errors=True)
    if Path(root).is_dir() and not any(Path(root).iterdir()):
        Path(root).rmdir()
    return out


def make_big_input(out_dir: str, lines: int, files: int = 1, fixture: Path | None = None) -> dict[str, int]:
    """`files` UKE files with about `lines` lines in all: the fixture body repeated, receipts renumbered.
    `fixture`: the UKE file to repeat (default: the real fixture in ../shared)."""
    text = (fixture or default_fixture()).read_bytes().decode("cp932").split("\r\n")[:-1]
    head, body, tail = text[0], text[1:-1], text[-1]
    per_file = max(1, -(-lines // files))  # at least `lines` in all
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(files):
        receipt, written = 0, 2
        with (out / f"RECEIPTC_{i:03d}.UKE").open("wb") as fh:
            # A distinct 医療機関コード per file: identical files would be ingested once (same sha256).
            ir = head.split(",")
            ir[4] = f"{9000000 + i:07d}"
            fh.write((",".join(ir) + "\r\n").encode("cp932"))
            while written < per_file:
                chunk = []
                for line in body:
                    if line.startswith("RE,"):
                        receipt += 1
                        line = f"RE,{receipt}," + line.split(",", 2)[2]
                    chunk.append(line)
                fh.write(("\r\n".join(chunk) + "\r\n").encode("cp932"))
                written += len(body)
            fh.write((tail + "\r\n").encode("cp932"))
        total += written
    return {"files": files, "lines": total}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ingest_bench", description=__doc__.splitlines()[0])
    p.add_argument("--input")
    p.add_argument("--warehouse")
    p.add_argument("--make-big", help="write a large input to this directory and exit")
    p.add_argument("--lines", type=int, default=10_000_000)
    p.add_argument("--files", type=int, default=1)
    p.add_argument("--fixture", type=Path, help="UKE file to repeat for --make-big (default: ../shared's fixture)")
    p.add_argument("--driver-memory", default="4g")
    p.add_argument("--json-out", type=Path, help="also write the result to this file")
    args = p.parse_args(argv)
    if args.make_big:
        print(json.dumps(make_big_input(args.make_big, args.lines, args.files, args.fixture)))
        return 0
    if not (args.input and args.warehouse):
        p.error("--input and --warehouse are required unless --make-big")
    spark = get_spark(SparkSettings(app_name="tokumei-bench", master="local[*]", driver_memory=args.driver_memory))
    result = bench_ingest(spark, args.input, args.warehouse)
    print(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
