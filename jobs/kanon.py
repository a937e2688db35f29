"""`tokumei kanon`: k-anonymity / distinct l-diversity of a CSV table with ARX hierarchies (issue 5).

Two passes over the input whatever the lattice size (DESIGN.md decision 4): one Spark job counts
records per finest quasi-identifier combination, the optimal generalization is searched on that
histogram in the driver (transforms/kanon), one more job applies it and writes the table. Requirement
21: generalize first, suppress the residual records (`*`) within the suppression limit.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.runtime.args import add_conf
from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import InputError, RefusedError, entrypoint
from jobs.runtime.session import get_spark
from transforms.kanon import HierarchyError, NoSolutionError, Recoding, encode_histogram, load_hierarchies
from transforms.kanon import delimited as dl
from transforms.kanon.histogram import COUNT, col, qi_histogram
from transforms.kanon.recode import KEY, qi_key, recoding_frame, with_recoded_qis
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


@dataclass(frozen=True)
class KanonRequest:
    input: Path
    out: Path
    columns: tuple[str, ...]
    header_line: str  # as Spark's text reader sees the first line (a BOM included)
    qi: tuple[str, ...]
    sensitive: str | None
    sep: str


def request_from_args(args: argparse.Namespace) -> KanonRequest:
    """Check the arguments and the input's header; every problem is an InputError naming it."""
    sep = "\t" if args.sep == "\\t" else args.sep
    if len(sep) != 1 or sep in "\"\r\n":
        raise InputError(f"--sep must be one character other than a quote or newline, got {args.sep!r}")
    if args.k < 1:
        raise InputError(f"--k must be at least 1, got {args.k}")
    if not 0.0 <= args.suppression_limit <= 1.0:
        raise InputError(f"--suppression-limit must be between 0 and 1, got {args.suppression_limit}")
    if (args.sensitive is None) != (args.ell is None) or (args.ell is not None and args.ell < 1):
        raise InputError("--sensitive and --l go together, with --l at least 1")
    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"{path}: input file not found")
    with path.open(encoding="utf-8", newline="") as fh:
        raw = fh.readline().rstrip("\r\n")
    columns = tuple(next(csv.reader([raw.lstrip("\ufeff")], delimiter=sep), []))
    if not raw or len(set(columns)) != len(columns):
        raise InputError(f"{path}: line 1 must be a header of distinct column names, got {raw!r}")
    qi = tuple(q.strip() for q in args.qi.split(",") if q.strip())
    wanted = [*qi, *([args.sensitive] if args.sensitive else [])]
    missing = [c for c in wanted if c not in columns]
    if missing or not qi or len(set(wanted)) != len(wanted):
        raise InputError(f"{path}: quasi-identifiers/sensitive {wanted} must be distinct columns of the header; "
                         f"missing {missing}; available: {list(columns)}")
    return KanonRequest(path, Path(args.out), columns, raw, qi, args.sensitive, sep)


class JobCounter:
    """Spark jobs per phase (status tracker, by job group) and input scans (one per action on the input).

    Under Spark Connect there is no SparkContext: the per-phase counts are then left out.
    """

    def __init__(self, spark: SparkSession):
        try:
            self.sc: Any = spark.sparkContext
        except Exception:  # Spark Connect
            self.sc = None
        self.input_scans = 0
        self.counts: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        group = f"tokumei-kanon-{name}-{uuid.uuid4().hex[:8]}"
        if self.sc is not None:
            self.sc.setJobGroup(group, f"tokumei kanon: {name}")
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 3)
            if self.sc is not None:
                self.counts[name] = len(self.sc.statusTracker().getJobIdsForGroup(group))
                self.sc.setLocalProperty("spark.jobGroup.id", None)


def read_histogram(spark: SparkSession, req: KanonRequest, jobs: JobCounter) -> tuple[DataFrame, str, list]:
    """Scan the input once: the table (lazy), the reader used, histogram rows (keys..., count, key hash)."""
    keys = [*req.qi, *([req.sensitive] if req.sensitive else [])]
    table = dl.split_delimited(spark.read.text(str(req.input)), req.columns, req.sep, req.header_line)
    checks = {"_q": F.max(dl.QUOTED), "_lo": F.min(dl.FIELDS), "_hi": F.max(dl.FIELDS)}
    jobs.input_scans += 1
    rows = qi_histogram(table, req.qi, req.sensitive, checks).withColumn(KEY, qi_key(req.qi)).collect()
    if not any(r["_q"] for r in rows):
        bad = [r for r in rows if r["_lo"] != len(req.columns) or r["_hi"] != len(req.columns)]
        if bad:
            sample = table.where(F.col(dl.FIELDS) != len(req.columns)).limit(1).collect()
            raise InputError(f"{req.input}: a line has {sample[0][dl.FIELDS] if sample else '?'} fields, the header "
                             f"{len(req.columns)} (separator {req.sep!r}): {sample[0][:len(req.columns)] if sample else ''}")
        table = table.select(*[col(c) for c in req.columns])
        return table, "text", [tuple(r[c] for c in keys) + (r[COUNT], r[KEY]) for r in rows]
    # Quoted fields: Spark's CSV reader (RFC 4180 quotes); empty QI cells are compared as ''.
    schema = T.StructType([T.StructField(c, T.StringType()) for c in req.columns])
    table = (spark.read.schema(schema).option("header", True).option("sep", req.sep).option("quote", '"')
             .option("escape", '"').option("mode", "FAILFAST").csv(str(req.input)))
    table = table.select(*[F.coalesce(col(c), F.lit("")).alias(c) if c in keys else col(c) for c in req.columns])
    jobs.input_scans += 1
    try:
        rows = qi_histogram(table, req.qi, req.sensitive).withColumn(KEY, qi_key(req.qi)).collect()
    except Exception as exc:  # FAILFAST: a malformed quoted line
        raise InputError(f"{req.input}: not a valid CSV file: {str(exc).splitlines()[0][:300]}") from exc
    return table, "csv", [tuple(r) for r in rows]


def write_released(table: DataFrame, reader: str, recoding: Recoding, key_hash: np.ndarray, req: KanonRequest,
                   jobs: JobCounter) -> str:
    """Apply the recoding in one pass and write one CSV file at --out, in input order, header first."""
    released = with_recoded_qis(table, recoding_frame(table, recoding, key_hash), req.qi)
    req.out.parent.mkdir(parents=True, exist_ok=True)
    parts = req.out.parent / f".{req.out.name}.parts-{uuid.uuid4().hex[:8]}"
    labels = [str(v) for values in recoding.released for v in set(values)]
    jobs.input_scans += 1
    writer = "text" if reader == "text" and not dl.needs_quoting(labels, req.sep) else "csv"
    try:
        if writer == "text":
            dl.join_delimited(released, req.columns, req.sep).write.text(str(parts))
        else:
            (released.write.option("sep", req.sep).option("quote", '"').option("escape", '"')
             .option("emptyValue", "").csv(str(parts)))
        _concatenate(parts, req.header_line.lstrip("\ufeff"), req.out)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    return writer


def _concatenate(parts: Path, header: str, out: Path) -> None:
    """Spark's part files, in partition order (= input order), behind the header, as one file."""
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("wb") as dst:
        dst.write((header + "\n").encode("utf-8"))
        dst.flush()  # sendfile writes at the descriptor's offset, behind Python's buffer
        for part in sorted(parts.glob("part-*")):
            with part.open("rb") as src:
                remaining = os.fstat(src.fileno()).st_size
                while remaining > 0:
                    remaining -= os.sendfile(dst.fileno(), src.fileno(), None, min(remaining, 1 << 30))
    os.replace(tmp, out)


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
