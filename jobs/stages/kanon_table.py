"""The k-anonymity of one CSV table (`tokumei kanon`): read the header and the histogram, write the
released CSV. The search itself is transforms/kanon's, on the histogram in the driver."""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.runtime.errors import InputError
from transforms.kanon import Recoding
from transforms.kanon import delimited as dl
from transforms.kanon.histogram import COUNT, col, qi_histogram
from transforms.kanon.recode import KEY, qi_key, recoding_frame, with_recoded_qis


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
