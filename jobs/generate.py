"""`tokumei generate`: synthetic UKE claim files, clinical extracts and the restricted truth.

    DIR/uke/<10-digit institution code>/<billing YYYYMM>/RECEIPTC.UKE   CP932, CRLF
    DIR/clinical/patients/part-NNNNN.csv, DIR/clinical/labs/part-NNNNN.csv   UTF-8 with header
    DIR/_truth/<table>/part-NNNNN.snappy.parquet + README.txt            restricted test material

The same arguments give byte-identical trees: every draw is a hash of (seed, entity, purpose)
(synth/draws.py), partitions are fixed by the arguments, rows are sorted within them,
and Spark's part files are renamed and its _SUCCESS/.crc files removed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import math
import re
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import synth
from jobs.runtime.args import add_conf
from jobs.runtime.config import load_pipeline, resolve_conf_path
from jobs.runtime.errors import InputError, entrypoint
from jobs.runtime.session import get_spark

log = logging.getLogger("tokumei.generate")
OUTPUTS = ("uke", "clinical", "_truth")
_PART = re.compile(r"^(part-\d{5})-[0-9a-f-]{36}(?:-c\d{3})?(\..+)$")
TRUTH_README = """RESTRICTED TEST MATERIAL - synthetic, but shaped like personal data.

Every identifier tokumei generate gave each synthetic person (names, kana, birth dates, insurer and
card numbers, 枝番, 公費受給者番号, カルテ番号, phone, address) and the typed content of every UKE
record (one table per bronze table, with file and line_no). Tests use it to prove that parsing is
exact and that nothing identifying reaches a release. Never copy it into a warehouse or a release.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokumei generate", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory (must be empty unless --overwrite)")
    p.add_argument("--patients", type=int, default=1000, help="number of people (default 1000)")
    p.add_argument("--months", type=int, default=3, help="service months (default 3); billing is the month after")
    p.add_argument("--institutions", type=int, default=None, help="default max(5, patients/200)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--era-dates", action="store_true", help="write 和暦 dates (GYYMMDD/GYYMM) instead of 西暦")
    p.add_argument("--start-month", default="2025-01", help="first service month YYYY-MM (default 2025-01)")
    add_conf(p, "pipeline config (Spark settings)")
    p.add_argument("--catalogs", default="conf/hierarchies", help="directory of the reference CSVs")
    p.add_argument("--overwrite", action="store_true", help="replace uke/, clinical/ and _truth/ in --out")
    return p


def _params(args: argparse.Namespace) -> synth.Params:
    match = re.fullmatch(r"(\d{4})-(\d{2})", args.start_month)
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1990 <= int(match.group(1)) <= 2090:
        raise InputError(f"--start-month {args.start_month!r}: expected YYYY-MM between 1990-01 and 2090-12")
    institutions = args.institutions if args.institutions is not None else max(5, args.patients // 200)
    checks = [("--patients", args.patients, 1, 100_000_000), ("--months", args.months, 1, 120),
              ("--institutions", institutions, 1, synth.MAX_INSTITUTIONS)]
    for flag, value, lo, hi in checks:
        if not lo <= value <= hi:
            raise InputError(f"{flag} {value}: must be between {lo} and {hi}")
    start = dt.date(int(match.group(1)), int(match.group(2)), 1)
    return synth.Params(args.patients, args.months, institutions, args.seed, start, args.era_dates)


def _prepare_out(out: Path, overwrite: bool) -> None:
    existing = [name for name in (*OUTPUTS, "_work") if (out / name).exists()]
    if existing and not overwrite:
        raise InputError(f"{out}: already holds {', '.join(existing)}; choose an empty directory or pass --overwrite")
    for name in existing:
        shutil.rmtree(out / name)
    out.mkdir(parents=True, exist_ok=True)


def _finalize(path: Path) -> None:
    """Spark part names carry a random UUID: rename them, and drop _SUCCESS and .crc files."""
    for f in sorted(path.rglob("*")):
        if f.is_file() and (f.name == "_SUCCESS" or f.name.endswith(".crc")):
            f.unlink()
        elif f.is_file() and (m := _PART.match(f.name)):
            f.rename(f.with_name(m.group(1) + m.group(2)))


def _write(df: DataFrame, path: Path, fmt: str, parts: int, keys: Sequence[str], order: Sequence[str],
           **options: str) -> None:
    t0 = time.monotonic()
    (df.repartition(parts, *keys).sortWithinPartitions(*order)
     .write.mode("overwrite").format(fmt).options(**options).save(str(path)))
    _finalize(path)
    log.info("generate: %s in %.1f s", path.name, time.monotonic() - t0)


def _scratch(spark: SparkSession, df: DataFrame, path: Path) -> DataFrame:
    t0 = time.monotonic()
    df.write.mode("overwrite").parquet(str(path))
    log.info("generate: %s in %.1f s", path.name, time.monotonic() - t0)
    return spark.read.parquet(str(path))


def _write_uke(lines: DataFrame, work: Path, out: Path, parts: int) -> None:
    tmp, t0 = work / "uke_lines", time.monotonic()
    (lines.repartition(parts, "institution_dir", "month_dir")
     .sortWithinPartitions("institution_dir", "month_dir", "line_no")
     .select("institution_dir", "month_dir", "line")
     .write.mode("overwrite").partitionBy("institution_dir", "month_dir")
     # CP932 needs spark.sql.legacy.javaCharsets (jobs/runtime/session.py); one column, no quoting and no
     # trimming: each row is written byte-exact as one CRLF-terminated line (reference/stack.md).
     .option("encoding", "windows-31j").option("lineSep", "\r\n").option("sep", "\t")
     .option("quote", "").option("escapeQuotes", "false").option("header", "false")
     .option("ignoreLeadingWhiteSpace", "false").option("ignoreTrailingWhiteSpace", "false")
     .csv(str(tmp)))
    for month_dir in sorted(tmp.glob("institution_dir=*/month_dir=*")):
        part_files = sorted(month_dir.glob("part-*"))
        if len(part_files) != 1:  # one file must come from one sorted task, or line order is lost
            raise RuntimeError(f"{month_dir}: expected one part file, found {len(part_files)}")
        target = out / "uke" / month_dir.parent.name.split("=", 1)[1] / month_dir.name.split("=", 1)[1] / "RECEIPTC.UKE"
        target.parent.mkdir(parents=True, exist_ok=True)
        part_files[0].rename(target)
    log.info("generate: uke files in %.1f s", time.monotonic() - t0)


def generate(spark: SparkSession, params: synth.Params, catalogs: synth.Catalogs, out: Path) -> dict[str, int]:
    work, truth = out / "_work", out / "_truth"
    rng = synth.Rng(params.seed)
    parts = max(1, math.ceil(params.patients * params.months / 250_000))
    inst = _scratch(spark, synth.with_institutions(spark.range(params.institutions), rng, catalogs), work / "institutions")
    people = _scratch(spark, synth.with_people(spark.range(params.patients), synth.institution_slots(inst), inst, rng,
                                               catalogs, params.start, params.months), work / "people")
    pairs = _scratch(spark, synth.with_pairs(people, inst, rng, params.patients, params.months), work / "pairs")
    visits = synth.with_visits(pairs, rng, params.start, params.months, max(2, parts * 8))
    receipts = _scratch(spark, synth.with_receipts(visits, rng, catalogs), work / "receipts")
    for table, df in synth.truth_tables(receipts).items():
        _write(df, truth / table, "parquet", parts, ["file"], ["file", "line_no"])
    _write(synth.files_table(receipts, inst), truth / "files", "parquet", 1, ["file"], ["file"])
    _write(synth.select_persons(people, pairs, params.start, params.months), truth / "persons", "parquet",
           parts, ["person_id"], ["person_id"])
    (truth / "README.txt").write_text(TRUTH_README, encoding="utf-8")
    files = spark.read.parquet(str(truth / "files"))
    records = synth.file_records(files)
    tables = {t: spark.read.parquet(str(truth / t)) for t in synth.TRUTH_TABLES}
    lines = synth.uke_lines(tables, records["IR"], records["GO"], params.era_dates)
    _write_uke(lines, work, out, max(1, params.patients * params.months // 20_000))
    last_month = F.add_months(F.lit(params.start), params.months - 1)
    kind, card, branch = synth.insurance_at(last_month, F.lit(params.months - 1))
    csv_opts = {"header": "true", "encoding": "UTF-8", "lineSep": "\n"}
    clinical_parts = max(1, math.ceil(params.patients / 200_000))
    patients = synth.select_patients(pairs, people, card, branch).select(*synth.PATIENT_COLUMNS)
    _write(patients, out / "clinical" / "patients", "csv", clinical_parts, ["institution_code"],
           ["institution_code", "patient_id"], dateFormat="yyyy-MM-dd", **csv_opts)
    labs = synth.select_labs(receipts, rng).select(*synth.LAB_COLUMNS)
    _write(labs, out / "clinical" / "labs", "csv", clinical_parts, ["institution_code"],
           ["institution_code", "patient_id", "sampled_on", "lab_code", "value"], dateFormat="yyyy/MM/dd", **csv_opts)
    summary = files.agg(F.count(F.lit(1)).alias("files"), F.sum("lines").alias("lines"),
                        F.sum("total_receipts").alias("receipts")).first()
    assert summary is not None  # an aggregate always has one row
    shutil.rmtree(work)
    return {"files": int(summary["files"] or 0), "lines": int(summary["lines"] or 0),
            "receipts": int(summary["receipts"] or 0)}


# The generator's wide projections compile to methods above HotSpot's 8 KB JIT limit (and one above
# the 64 KB class-file limit, whose compile fails), so whole-stage code runs interpreted: measured
# 1.4-1.7x slower for people, pairs and receipts than Spark's per-operator code.
GENERATOR_CONF = {"spark.sql.codegen.wholeStage": "false"}


@contextmanager
def _session_conf(spark: SparkSession, conf: dict[str, str]) -> Iterator[None]:
    previous: dict[str, str | None] = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, old in previous.items():
            if old is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, old)


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    params = _params(args)
    cfg = load_pipeline(args.conf)
    try:
        catalogs = synth.load_catalogs(resolve_conf_path(args.catalogs))
    except synth.CatalogError as exc:
        raise InputError(str(exc)) from exc
    out = Path(args.out)
    _prepare_out(out, args.overwrite)
    spark = get_spark(cfg.spark)
    t0 = time.monotonic()
    with _session_conf(spark, GENERATOR_CONF):
        counts = generate(spark, params, catalogs, out)
    seconds = time.monotonic() - t0
    print(f"tokumei generate: {out}: {params.patients} patients x {params.months} months, "
          f"{params.institutions} institutions, seed {params.seed}{' (和暦)' if params.era_dates else ''}")
    print(f"  {counts['files']} UKE files, {counts['receipts']} receipts, {counts['lines']} lines; "
          f"{_tree_bytes(out / 'uke')} bytes UKE, {_tree_bytes(out)} bytes in total; {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
