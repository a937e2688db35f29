"""Benchmark: `tokumei ingest` against a plain text-to-Delta copy of the same files (issue 3 item 8).

Both run in one process on one SparkSession, after one warm-up read of the files, copy first. The
copy is the floor any ingest pays (read the lines, write one Delta table); the ratio is what parsing,
line order, receipt grouping, rejects, opt-out and the ledger cost on top.

`make_big_input` writes a large UKE input by repeating the real fixture's body with renumbered
receipts (generated test input: write it under /tmp and delete it after).

    python -m bench.ingest_bench --input DIR --warehouse WH
    python -m bench.ingest_bench --make-big /tmp/big --lines 10000000 --files 20
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from jobs.config import IngestSettings
from jobs.ingest import run_ingest
from jobs.ingest_files import discover, spark_path
from jobs.session import SparkSettings, get_spark
from jobs.warehouse import Warehouse

FIXTURE = Path("/work/shared/fixtures/uke/RECEIPTC_GAIRAI_SAMPLE.UKE")


def bench_ingest(spark: SparkSession, input_dir: str, warehouse: str) -> dict[str, Any]:
    """Seconds and lines/s for ingest and for a plain copy of the same UKE files, and their ratio.

    Use a fresh warehouse: files already in its ledger are skipped, which would flatter the figure.
    """
    settings = IngestSettings(max_file_bytes=64 * 1024**3)
    files, _ = discover(input_dir, [], settings.max_file_bytes)
    paths = [spark_path(f.path) for f in files if f.kind == "uke"]
    wh = Warehouse(warehouse)
    copy_path = wh.bronze("_bench_plain_copy")
    lines = spark.read.text(paths).count()  # warm-up: the OS cache holds the files for both runs

    start = time.perf_counter()
    spark.read.text(paths).write.format("delta").mode("overwrite").save(copy_path)
    copy_s = time.perf_counter() - start

    start = time.perf_counter()
    summary = run_ingest(spark, input_dir, warehouse, settings)
    ingest_s = time.perf_counter() - start
    shutil.rmtree(wh.local_path(copy_path), ignore_errors=True)
    return {
        "files": len(paths),
        "bytes": sum(f.size for f in files if f.kind == "uke"),
        "largest_file_bytes": max((f.size for f in files if f.kind == "uke"), default=0),
        "lines": lines,
        "lines_ingested": summary.get("lines_read", 0),
        "lines_rejected": summary.get("lines_rejected"),
        "copy_seconds": round(copy_s, 1),
        "ingest_seconds": round(ingest_s, 1),
        "copy_lines_per_s": round(lines / copy_s),
        "ingest_lines_per_s": round(lines / ingest_s),
        "ratio": round(ingest_s / copy_s, 2),
    }


def make_big_input(out_dir: str, lines: int, files: int = 1, fixture: Path = FIXTURE) -> dict[str, int]:
    """`files` UKE files with about `lines` lines in all: the fixture body repeated, receipts renumbered."""
    text = fixture.read_bytes().decode("cp932").split("\r\n")[:-1]
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
    p.add_argument("--driver-memory", default="4g")
    args = p.parse_args(argv)
    if args.make_big:
        print(json.dumps(make_big_input(args.make_big, args.lines, args.files)))
        return 0
    if not (args.input and args.warehouse):
        p.error("--input and --warehouse are required unless --make-big")
    spark = get_spark(SparkSettings(app_name="tokumei-bench", master="local[*]", driver_memory=args.driver_memory))
    print(json.dumps(bench_ingest(spark, args.input, args.warehouse), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
