"""Spark side of UKE ingest: read lines, position them once into scratch, check and parse each record type.

The positioned lines are written once to scratch Parquet partitioned by record type, so the window
that rebuilds line order runs once and each bronze table reads only its own record type; the checked
lines (each with its first problem) are written once more the same way, and each table is typed from them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.scratch import Scratch, write_scratch
from jobs.stages.ingest.files import SourceFile, spark_path
from transforms.identity.optout import opted_out_receipts
from transforms.uke.layout import ALL_LAYOUTS, CLAIM_KINDS, RecordLayout, table_fields
from transforms.uke.parse import checked_sql, parse_sql, receipt_key, select_parsed, select_rejected
from transforms.uke.read import (
    OTHER,
    block_stats,
    file_layout,
    other_lines_problem,
    position_lines,
    select_raw_lines,
)
from transforms.uke.sql import lit

log = logging.getLogger("tokumei.ingest")
IR_FACTS = ("payer_kind", "pref_code", "institution_code", "billing_month")


@dataclass
class FileFacts:
    """Per-file figures gathered while reading (small, held in the driver)."""

    lines_read: dict[str, int]
    encoding: dict[str, str]
    encoding_evidence: dict[str, str]
    eof_mark: dict[str, bool]
    lines: Scratch  # the positioned lines as written


def position_files(
    spark: SparkSession, files: Sequence[SourceFile], out_dir: str, encoding: str, partition: bool = True
) -> FileFacts:
    """Read the files as lines, write them positioned and decoded to `out_dir` (Parquet)."""
    raw = select_raw_lines(spark.read.text([spark_path(f.path) for f in files]))
    layout_frame = file_layout(block_stats(raw), encoding)
    blocks = layout_frame.collect()  # one row per file block: small
    seen = {r["file_path"] for r in blocks}
    lost = [f.path for f in files if f.path not in seen]
    if lost:
        raise RuntimeError(f"Spark reported no lines for {lost[:3]}: file path mapping is broken")
    layout = spark.createDataFrame(blocks, schema=layout_frame.schema)
    sha = spark.createDataFrame([(f.path, f.sha256, f.claim_kind) for f in files],
                                "file_path string, file_sha256 string, claim_kind string")
    lines = write_scratch(position_lines(raw, layout, sha), out_dir, ["record_type"] if partition else [])
    by_path = {f.path: f.sha256 for f in files}
    facts = FileFacts({}, {}, {}, {}, lines)
    for r in blocks:
        sha256 = by_path[r["file_path"]]
        facts.lines_read[sha256] = int(r["file_lines"]) - (1 if r["ends_with_eof"] else 0)
        facts.encoding[sha256] = r["encoding"]
        facts.encoding_evidence[sha256] = f"utf8_lines={r['utf8_lines']},non_utf8_lines={r['non_utf8_lines']}"
        facts.eof_mark[sha256] = bool(r["ends_with_eof"])
        if r["utf8_lines"] and r["non_utf8_lines"] and r["block_start"] == 0:
            # Not guessed silently: lines of the other encoding are rejected (undecodable_bytes, with a
            # detail saying which); the ledger keeps the evidence too.
            log.warning("%s: mixed encodings (%d UTF-8 lines, %d not UTF-8); read as %s, lines of the other go to rejects",
                        r["file_path"], r["utf8_lines"], r["non_utf8_lines"], r["encoding"])
    return facts


def staged(spark: SparkSession, lines: Scratch, record_type: str) -> DataFrame:
    return lines.read(spark).where(F.col("record_type") == record_type)




@dataclass(frozen=True)
class Parsed:
    """The checked lines in scratch, read once (every read lists the folder: 0.13 s each, 61 reads per
    ingest before), and the claim kinds they were checked for."""

    scratch: Scratch
    kinds: tuple[str, ...]
    frame: DataFrame

    @property
    def layouts(self) -> dict[str, RecordLayout]:
        """Layout key -> layout, of every record of these kinds (the only keys the scratch holds)."""
        return _layouts(self.kinds)


def _layouts(kinds: Sequence[str]) -> dict[str, RecordLayout]:
    return {r.key: r for k in kinds for r in CLAIM_KINDS[k].records.values()}


def parse_to_scratch(spark: SparkSession, lines: Scratch, parsed_dir: str, kinds: Sequence[str]) -> Parsed:
    """Check the lines of every record layout (`RecordLayout.key`) of the claim kinds of this run's files
    and write them with their first problem (`_problem`, null for a good line) in one job, partitioned by
    record type; `parsed` types them when a table is cut from them.

    Only those kinds: a line read as another kind's record is in the OTHER partition anyway (its
    layout key comes from its file's kind), and every layout parsed adds to the plan of the job.

    Materializing is deliberate: filtering good and bad lines straight off the checks would let the
    optimizer push the `_problem` filter into them and inline every field expression into one
    generated method (beyond the JVM's 64 KB limit); and both halves are needed anyway. The scratch is
    narrow (the positioned line and its problem): typing again at read costs less than a table of every
    layout's typed columns side by side, mostly null. The plan is SQL text, one call to the JVM (issue
    18): on the few hundred lines of the four claim kinds (50 layouts) this step took 49 s built with
    the Column API and a wide typed table (172,749 Python-JVM round trips), 36 s as SQL with the wide
    table, 10 s as SQL with the narrow one.
    """
    kinds = tuple(dict.fromkeys(kinds))
    branches = [f"SELECT *, {lit(key)} AS record_type FROM "
                f"({checked_sql(layout, f'(SELECT * FROM {{lines}} WHERE record_type = {lit(key)})')})"
                for key, layout in _layouts(kinds).items()]
    union = spark.sql(" UNION ALL ".join(branches), lines=lines.read(spark))
    scratch = write_scratch(union, parsed_dir, ["record_type"])
    return Parsed(scratch, kinds, scratch.read(spark))


def parsed(spark: SparkSession, parsed_dir: Parsed, key: str) -> DataFrame:
    """One layout (`RecordLayout.key`) from the checked lines, in parse_records' shape."""
    assert key in parsed_dir.layouts, (key, parsed_dir.kinds)
    lines = parsed_dir.frame.where(f"record_type = {lit(key)}")
    return spark.sql(parse_sql(ALL_LAYOUTS[key], "{lines}", checked=True), lines=lines)


def _union(frames: Sequence[DataFrame]) -> DataFrame:
    return reduce(lambda a, b: a.unionByName(b), frames)


def _keys_of(parsed_dir: Parsed, record_type: str) -> list[str]:
    """The layout keys of one record type across the parsed claim kinds (RE -> RE, dental_RE)."""
    return [k for k, layout in parsed_dir.layouts.items() if layout.record_type == record_type]


def _good(spark: SparkSession, parsed_dir: Parsed, record_type: str) -> DataFrame:
    """Good lines of one record type of every parsed kind, in the shape of the table they feed."""
    keys = _keys_of(parsed_dir, record_type)
    table = ALL_LAYOUTS[keys[0]].table
    assert table is not None, record_type
    return _union([select_parsed(parsed(spark, parsed_dir, k), ALL_LAYOUTS[k], table_fields(table)) for k in keys])


def receipt_status(spark: SparkSession, parsed_dir: Parsed, registry_ids: DataFrame | None) -> DataFrame:
    """receipt_key -> status: `parent_rejected` (its RE was rejected) or `opted_out` (requirement 42)."""
    re = _union([parsed(spark, parsed_dir, k).select("receipt_key", "_problem") for k in _keys_of(parsed_dir, "RE")])
    rejected = re.where(F.col("_problem").isNotNull() & F.col("receipt_key").isNotNull())
    status = rejected.select("receipt_key", F.lit("parent_rejected").alias("status"))
    if registry_ids is not None:
        good = {t: _good(spark, parsed_dir, t) for t in ("RE", "HO", "SN")}
        opted = opted_out_receipts(good["RE"], good["HO"], good["SN"], registry_ids)
        status = status.unionByName(opted.select("receipt_key", F.lit("opted_out").alias("status")))
    return status


def _with_status(parsed: DataFrame, status: DataFrame) -> DataFrame:
    joined = parsed.join(status, "receipt_key", how="left")
    parent = F.struct(F.lit("parent_rejected").alias("reason"), F.lit("RE of this receipt rejected").alias("detail"))
    problem = F.when(F.col("_problem").isNull() & (F.col("status") == "parent_rejected"), parent)
    return joined.withColumn("_problem", F.coalesce(F.col("_problem"), problem))


@dataclass
class TableFrames:
    rows: DataFrame  # the bronze rows
    rejects: DataFrame


def table_frames(spark: SparkSession, parsed_dir: Parsed, table: str, status: DataFrame, ir_facts: DataFrame) -> TableFrames:
    """Bronze rows and rejects of one claim table, from every layout feeding it; opted-out receipts
    appear in neither."""
    fields = table_fields(table)
    goods, bads = [], []
    for key, layout in parsed_dir.layouts.items():
        if layout.table != table:
            continue
        frame = _with_status(parsed(spark, parsed_dir, key), status)
        kept = frame.where(F.col("status").isNull() | (F.col("status") != "opted_out"))
        goods.append(select_parsed(kept, layout, fields))
        bads.append(select_rejected(kept))
    rows = _union(goods)
    if table == "receipts":
        rows = rows.join(F.broadcast(ir_facts), "file_sha256", how="left").select(*rows.columns, *IR_FACTS, "claim_kind")
    return TableFrames(rows, _union(bads))


def header_records(spark: SparkSession, parsed_dir: Parsed) -> tuple[dict[str, dict[str, Any]], DataFrame, DataFrame]:
    """File header and GO facts per file (small, collected) and their rejects; header facts as a frame
    for receipts. A per-receipt header (歯科 IR) is only counted: its facts are the file header's."""
    facts: dict[str, dict[str, Any]] = {}
    frames, rejects = [], []
    for kind in (CLAIM_KINDS[k] for k in parsed_dir.kinds):
        head = kind.file_header()
        frame = parsed(spark, parsed_dir, head.key)
        good = select_parsed(frame, head)
        for row in good.collect():
            facts.setdefault(row["file_sha256"], {}).update(
                {k: row[k] for k in (*IR_FACTS, "volume_no", "institution_name", "score_table")},
                claim_kind=kind.name, header_record=head.record_type)
        frames.append(good.select("file_sha256", *IR_FACTS, F.lit(kind.name).alias("claim_kind")))
        rejects.append(select_rejected(frame))
        for layout in kind.records.values():
            if layout.role == "receipt_header":
                per_receipt = parsed(spark, parsed_dir, layout.key)
                for row in per_receipt.where(F.col("_problem").isNull()).groupBy("file_sha256").count().collect():
                    facts.setdefault(row["file_sha256"], {})["receipt_headers"] = int(row["count"])
                rejects.append(select_rejected(per_receipt))
    go = parsed(spark, parsed_dir, "GO")
    for row in select_parsed(go, ALL_LAYOUTS["GO"]).collect():
        f = facts.setdefault(row["file_sha256"], {})
        f.update(go_total_receipts=row["total_receipts"], go_total_points=row["total_points"], go_volume_no=row["volume_no"])
    rejects.append(select_rejected(go))
    return facts, _union(frames), _union(rejects)


def other_rejects(spark: SparkSession, lines: Scratch) -> DataFrame:
    return other_lines_problem(staged(spark, lines, OTHER))


@dataclass
class LineCounts:
    """What became of the lines of the UKE files, per file."""

    rows: list[tuple[str, str, str, int]]  # (file, table, record type, bronze rows)
    rejected: dict[str, int]
    opted_out: dict[str, int]  # withheld: their receipt belongs to an opted-out person (requirement 42)


def count_lines(spark: SparkSession, lines: Scratch, parsed_dir: Parsed, status: DataFrame) -> LineCounts:
    """Every line of the run counted by outcome in one job over the checked lines and the unknown ones,
    with the same receipt status as `table_frames`: a line of an opted-out receipt is withheld, a good
    line of a receipt with no status is a row, any other line is rejected. The headers and GO feed no
    table; their good lines are counted from their facts (`header_records`). What is written is checked
    against these counts table by table (jobs/stages/ingest/ledger.check_written)."""
    in_receipts = [k for k, layout in parsed_dir.layouts.items() if layout.table is not None]
    key = receipt_key("file_sha256", "receipt_ordinal")
    checked = parsed_dir.frame.selectExpr(
        "file_sha256", "record_type", "_problem IS NULL AS _ok",
        f"CASE WHEN record_type IN ({', '.join(lit(k) for k in in_receipts)}) THEN {key} END AS receipt_key")
    unknown = staged(spark, lines, OTHER).selectExpr("file_sha256", "record_type", "false AS _ok",
                                                     "CAST(NULL AS string) AS receipt_key")
    outcome = ("CASE WHEN status = 'opted_out' THEN 'opted_out' WHEN _ok AND status IS NULL THEN 'row' "
               "ELSE 'rejected' END AS outcome")
    joined = checked.unionByName(unknown).join(status, "receipt_key", how="left")
    counted = joined.selectExpr("file_sha256", "record_type", outcome).groupBy("file_sha256", "record_type", "outcome").count()
    out = LineCounts([], {}, {})
    for r in counted.collect():  # one row per file, record type and outcome: small
        sha, n = r["file_sha256"], int(r["count"])
        layout = parsed_dir.layouts.get(r["record_type"])
        if r["outcome"] == "rejected":
            out.rejected[sha] = out.rejected.get(sha, 0) + n
        elif r["outcome"] == "opted_out":
            out.opted_out[sha] = out.opted_out.get(sha, 0) + n
        elif layout is not None and layout.table is not None:
            out.rows.append((sha, layout.table, layout.record_type, n))
    return out
