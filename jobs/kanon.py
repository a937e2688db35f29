"""`tokumei kanon`: k-anonymity / distinct l-diversity of a CSV table with ARX hierarchies (issue 5).

Two passes over the input whatever the lattice size (DESIGN.md decision 4): one Spark job counts
records per finest quasi-identifier combination, the optimal generalization is searched on that
histogram in the driver (transforms/kanon), one more job applies it and writes the table. Requirement
21: generalize first, suppress the residual records (`*`) within the suppression limit.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jobs.runtime.args import add_conf
from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import InputError, RefusedError, entrypoint
from jobs.runtime.hierarchy_files import load_hierarchies
from jobs.runtime.session import get_spark
from jobs.stages.kanon_table import JobCounter, read_histogram, request_from_args, write_released
from transforms.kanon import HierarchyError, NoSolutionError, encode_histogram
from transforms.kanon.solve import solve

log = logging.getLogger("tokumei.kanon")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tokumei kanon",
        description="Make a CSV table k-anonymous (and distinct l-diverse) with ARX-style hierarchies: optimal "
        "full-domain generalization under a suppression limit (ARX's Loss by default) or Mondrian partitioning. "
        "Suppressed records keep their other columns; their quasi-identifiers become '*'.",
    )
    p.add_argument("--input", required=True, help="CSV file with a header row (UTF-8)")
    p.add_argument("--hierarchies", required=True, help="directory of <prefix>_hierarchy_<attr>.csv files")
    p.add_argument("--qi", required=True, help="quasi-identifiers, comma-separated (e.g. sex,age,zip)")
    p.add_argument("--k", required=True, type=int, help="minimum class size k (>= 1)")
    p.add_argument("--suppression-limit", type=float, default=0.0, help="largest share of records suppressed, 0..1")
    p.add_argument("--metric", choices=("loss", "discernibility"), default="loss", help="minimized (default loss)")
    p.add_argument("--sensitive", help="sensitive attribute for distinct l-diversity")
    p.add_argument("--l", type=int, dest="ell", help="distinct values of --sensitive required in every class")
    p.add_argument("--sep", default=";", help="one-character field separator of input and output (hierarchies: ';')")
    p.add_argument("--method", choices=("lattice", "mondrian"), default="lattice", help="default: lattice")
    p.add_argument("--out", required=True, help="anonymized CSV file to write (one file, with header)")
    p.add_argument("--summary", help="JSON summary to write (levels, Loss, suppressed, classes, timings)")
    add_conf(p, "pipeline settings (its spark section is used)")
    return p














@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = build_parser().parse_args(argv)
    req = request_from_args(args)  # argument, header and hierarchy errors come before Spark starts
    try:
        hierarchies = load_hierarchies(args.hierarchies, req.qi)  # ARX files are ';'-separated
    except HierarchyError as exc:
        raise InputError(str(exc)) from exc
    spark = get_spark(load_pipeline(args.conf).spark)
    jobs = JobCounter(spark)
    with jobs.phase("histogram"):
        table, reader, rows = read_histogram(spark, req, jobs)
    key_hash = np.array([r[-1] for r in rows], dtype=np.int64)
    try:
        hist = encode_histogram([r[:-1] for r in rows], req.qi, hierarchies, req.sensitive)
        solution = solve(hist, hierarchies, args.k, args.suppression_limit, args.metric, args.ell, args.method)
    except HierarchyError as exc:
        raise InputError(f"{req.input}: {exc}") from exc
    except NoSolutionError as exc:
        raise RefusedError(f"指定の k・l・抑制上限を満たす加工はありません (no solution): {exc}") from exc
    with jobs.phase("recode"):
        writer = write_released(table, reader, solution.recoding, key_hash, req, jobs)
    summary = {
        "input": str(req.input), "output": str(req.out), "method": args.method, "qi": list(req.qi), "k": args.k,
        "suppression_limit": args.suppression_limit, "metric": args.metric, "sensitive": req.sensitive,
        "l": args.ell, **solution.summary, "reader": reader, "writer": writer,
        "full_input_jobs": jobs.input_scans, "spark_jobs": jobs.counts, "phase_seconds": jobs.seconds,
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    log.info("kanon: levels=%s loss=%.5f suppressed=%d classes=%d wall=%.1fs", summary["levels"], summary["loss"],
             summary["suppressed"], summary["classes"], summary["wall_time_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main(None))
