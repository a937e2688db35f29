"""The generate stage: synthetic UKE claim files, clinical extracts and the restricted truth, written.

    DIR/uke/<10-digit institution code>/<billing YYYYMM>/RECEIPTC.UKE   CP932, CRLF
                                                      /RECEIPTD.UKE   with --dpc: the DPC hospital's stays
    DIR/uke/<10-digit pharmacy code>/<billing YYYYMM>/RECEIPTY.CYO      with --pharmacy
    DIR/uke/<10-digit dental clinic code>/<billing YYYYMM>/RECEIPTS.UKE with --dental
    DIR/clinical/patients/part-NNNNN.csv, DIR/clinical/labs/part-NNNNN.csv   UTF-8 with header
    DIR/_truth/<table>/part-NNNNN.snappy.parquet + README.txt            restricted test material

The same arguments give byte-identical trees: every draw is a hash of (seed, entity, purpose)
(synth/draws.py), partitions are fixed by the arguments, rows are sorted within them, and Spark's
part files are renamed and its _SUCCESS/.crc files removed."""

from __future__ import annotations

import logging
import math
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import synth
from jobs.runtime.errors import InputError
from jobs.runtime.scratch import Scratch, write_scratch
from synth import dental, dpc, pharmacy
from transforms.uke.layout import DENTAL_UK, DPC_IR, PHARMACY_YK, RecordLayout

log = logging.getLogger("tokumei.generate")
OUTPUTS = ("uke", "clinical", "_truth")


_PART = re.compile(r"^(part-\d{5})-[0-9a-f-]{36}(?:-c\d{3})?(\..+)$")


TRUTH_README = """RESTRICTED TEST MATERIAL - synthetic, but shaped like personal data.

Every identifier tokumei generate gave each synthetic person (names, kana, birth dates, insurer and
card numbers, 枝番, 公費受給者番号, カルテ番号, phone, address) and the typed content of every UKE
record (one table per bronze table, with file and line_no). Tests use it to prove that parsing is
exact and that nothing identifying reaches a release. Never copy it into a warehouse or a release.
"""


def prepare_out(out: Path, overwrite: bool) -> None:
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
           **options: str) -> Scratch:
    """Write `df` as `parts` files sorted by `order`; return how to read it back (Parquet) without inference."""
    t0 = time.monotonic()
    (df.repartition(parts, *keys).sortWithinPartitions(*order)
     .write.mode("overwrite").format(fmt).options(**options).save(str(path)))
    _finalize(path)
    log.info("generate: %s in %.1f s", path.name, time.monotonic() - t0)
    return Scratch(str(path), df.schema)


def _scratch(spark: SparkSession, df: DataFrame, path: Path) -> DataFrame:
    t0 = time.monotonic()
    written = write_scratch(df, str(path))
    log.info("generate: %s in %.1f s", path.name, time.monotonic() - t0)
    return written.read(spark)


def _write_uke(lines: DataFrame, work: Path, out: Path, parts: int) -> None:
    tmp, t0 = work / "uke_lines", time.monotonic()
    (lines.repartition(parts, "institution_dir", "month_dir")
     .sortWithinPartitions("institution_dir", "month_dir", "file_name", "line_no")
     .select("institution_dir", "month_dir", "file_name", "line")
     .write.mode("overwrite").partitionBy("institution_dir", "month_dir", "file_name")
     # CP932 needs spark.sql.legacy.javaCharsets (jobs/runtime/session.py); one column, no quoting and no
     # trimming: each row is written byte-exact as one CRLF-terminated line (reference/stack.md).
     .option("encoding", "windows-31j").option("lineSep", "\r\n").option("sep", "\t")
     .option("quote", "").option("escapeQuotes", "false").option("header", "false")
     .option("ignoreLeadingWhiteSpace", "false").option("ignoreTrailingWhiteSpace", "false")
     .csv(str(tmp)))
    # A directory may hold two files (RECEIPTC.UKE and, with --dpc, RECEIPTD.UKE): each has a partition.
    for file_dir in sorted(tmp.glob("institution_dir=*/month_dir=*/file_name=*")):
        part_files = sorted(file_dir.glob("part-*"))
        if len(part_files) != 1:  # one file must come from one sorted task, or line order is lost
            raise RuntimeError(f"{file_dir}: expected one part file, found {len(part_files)}")
        institution_dir, month_dir, name = (d.name.split("=", 1)[1] for d in (file_dir.parent.parent,
                                                                                  file_dir.parent, file_dir))
        target = out / "uke" / institution_dir / month_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        part_files[0].rename(target)
    log.info("generate: uke files in %.1f s", time.monotonic() - t0)


class ClaimSynth(Protocol):
    """What a module generating another claim kind from the 医科 receipts offers (synth/pharmacy.py,
    synth/dpc.py, synth/dental.py). `LAYOUT_OF_TABLE` maps each truth table to the layout of its lines; a
    table whose layout feeds no bronze table (歯科 IR, `receipt_headers`) is written and checked all the same."""

    LAYOUT_OF_TABLE: dict[str, RecordLayout]

    def truth_tables(self, receipts: DataFrame) -> dict[str, DataFrame]: ...

    def files_table(self, receipts: DataFrame) -> DataFrame: ...

    def file_records(self, files: DataFrame) -> dict[str, DataFrame]: ...


def _claims(spark: SparkSession, rows: DataFrame, kind: ClaimSynth, header: RecordLayout, truth: Path, parts: int,
            era_dates: bool) -> tuple[DataFrame, DataFrame]:
    """Write the truth of one more claim kind under `truth`; return its lines and its files' (lines,
    total_receipts)."""
    tables = {table: _write(df, truth / table, "parquet", parts, ["file"], ["file", "line_no"]).read(spark)
              for table, df in kind.truth_tables(rows).items()}
    files = _write(kind.files_table(rows), truth / "files", "parquet", 1, ["file"], ["file"]).read(spark)
    records = kind.file_records(files)
    lines = synth.uke_lines(tables, records[header.record_type], records["GO"], era_dates, kind.LAYOUT_OF_TABLE,
                            header)
    return lines, files.select("lines", "total_receipts")


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
    # With --dpc the stays at DPC hospitals leave the 医科 files (synth/dpc.py); the labs keep them.
    medical = _scratch(spark, dpc.medical_receipts(receipts), work / "medical_receipts") if params.dpc else receipts
    written = {table: _write(df, truth / table, "parquet", parts, ["file"], ["file", "line_no"])
               for table, df in synth.truth_tables(medical).items()}
    files = _write(synth.files_table(medical, inst), truth / "files", "parquet", 1, ["file"], ["file"]).read(spark)
    _write(synth.select_persons(people, pairs, params.start, params.months), truth / "persons", "parquet",
           parts, ["person_id"], ["person_id"])
    (truth / "README.txt").write_text(TRUTH_README, encoding="utf-8")
    records = synth.file_records(files)
    tables = {t: written[t].read(spark) for t in synth.TRUTH_TABLES}
    lines = synth.uke_lines(tables, records["IR"], records["GO"], params.era_dates)
    file_counts = files.select("lines", "total_receipts")
    more: list[tuple[DataFrame, DataFrame]] = []
    if params.pharmacy:
        rx = _scratch(spark, pharmacy.with_pharmacy_receipts(medical, inst, rng), work / "pharmacy_receipts")
        more.append(_claims(spark, rx, pharmacy, PHARMACY_YK, truth / "pharmacy", parts, params.era_dates))
    if params.dpc:
        stays = _scratch(spark, dpc.with_dpc_receipts(receipts, inst, rng, catalogs), work / "dpc_receipts")
        more.append(_claims(spark, stays, dpc, DPC_IR, truth / "dpc", parts, params.era_dates))
    if params.dental:
        # From the outpatient 医科 receipts only, so --dpc (which moves inpatient stays) changes no 歯科 file.
        seen = dental.with_dental_receipts(medical, people, inst, rng, catalogs, params.months)
        teeth = _scratch(spark, seen, work / "dental_receipts")
        more.append(_claims(spark, teeth, dental, DENTAL_UK, truth / "dental", parts, params.era_dates))
    for kind_lines, kind_counts in more:
        lines, file_counts = lines.unionByName(kind_lines), file_counts.unionByName(kind_counts)
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
    summary = file_counts.agg(F.count(F.lit(1)).alias("files"), F.sum("lines").alias("lines"),
                        F.sum("total_receipts").alias("receipts")).first()
    assert summary is not None  # an aggregate always has one row
    shutil.rmtree(work)
    return {"files": int(summary["files"] or 0), "lines": int(summary["lines"] or 0),
            "receipts": int(summary["receipts"] or 0)}


GENERATOR_CONF = {"spark.sql.codegen.wholeStage": "false"}


@contextmanager
def session_conf(spark: SparkSession, conf: dict[str, str]) -> Iterator[None]:
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


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
