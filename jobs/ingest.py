"""`tokumei ingest`: UKE claim files and clinical CSV extracts -> bronze Delta tables (restricted zone).

read (driver: find files, sha256; Spark: lines) -> transforms (position, parse, opt-out) -> write
(one commit per table, `_rejects`, then the `_files` ledger last). Issue 3; requirement 42 (停止の求め).
One ingest (or erase, or run) writes a warehouse at a time: it holds WH/_locks/bronze.lock from before
it reads the warehouse, and a second one refuses before Spark starts (exit 1; jobs/runtime/lock.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from jobs.runtime.args import add_allow_unrecognized, add_break_lock, add_conf, add_layouts, add_warehouse
from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import entrypoint
from jobs.runtime.keys import load_key_checked
from jobs.runtime.lock import warehouse_lock
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.clinical import load_layouts
from jobs.stages.ingest.files import discover
from jobs.stages.ingest.pipeline import execute


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tokumei ingest",
        description="Parse UKE claim files (any name; 医科, 歯科 or 調剤 told by their first record) and the clinical CSV "
        "extracts declared in conf/layouts/ into bronze Delta tables, with rejects, a file ledger and "
        "opt-out (停止の求め) exclusion. Files already in the ledger (same sha256) are skipped.",
    )
    p.add_argument("--input", required=True, help="directory searched recursively for input files")
    add_warehouse(p, "warehouse root (bronze tables go to WH/bronze/)")
    add_conf(p)
    add_layouts(p)
    add_allow_unrecognized(p)
    add_break_lock(p)
    return p


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = load_pipeline(args.conf)
    layouts = load_layouts(args.layouts)
    # Unrecognized files, size and line-length limits, and the sha256 of every file, before Spark starts; the
    # warehouse is not read yet, so bad input exits 2 (unrecognized files 1) without a trace in it.
    files, unrecognized = discover(args.input, layouts, cfg.ingest.max_file_bytes,
                                   allow_unrecognized=args.allow_unrecognized)
    key = load_key_checked(cfg.keys, cfg.keys.key_id, args.conf)  # keys the stored linkage labels
    wh = Warehouse(args.warehouse)
    with warehouse_lock(wh, f"tokumei ingest --input {args.input}", break_lock=args.break_lock):
        spark = get_spark(cfg.spark)
        summary = execute(spark, files, unrecognized, wh, cfg.ingest, layouts, key, cfg.receipt)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(None))
