"""Spark side of UKE ingest: read lines, position them once into scratch, check and parse each record type.

The positioned lines are written once to scratch Parquet partitioned by record type, so the window
that rebuilds line order runs once and each parse reads only its own record types. Each line is then
parsed, typed and checked once: the lines of every bronze table into a scratch folder of that table's
shape, good and bad, with its first problem; receipt status, rejects, counts and the bronze rows are
all read from those folders.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.scratch import Scratch, write_scratch
from jobs.stages.ingest.files import SourceFile, spark_path
from transforms.identity.optout import opted_out_receipts
from transforms.local import local_frame
from transforms.uke.layout import ALL_LAYOUTS, CLAIM_KINDS, RecordLayout, table_fields
from transforms.uke.parse import (
    META_COLUMNS,
    checked_sql,
    parse_sql,
    select_parsed,
    select_rejected,
    table_sql,
)
from transforms.uke.read import (
    OTHER,
    block_stats,
    file_layout,
    other_lines_problem,
    position_lines,
    select_raw_lines,
)
from transforms.uke.sql import ident, lit

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
    layout = local_frame(spark, blocks, layout_frame.schema)
    sha = local_frame(spark, [(f.path, f.sha256, f.claim_kind) for f in files],
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
    """The checked lines in scratch, each folder read once (every read lists it: 0.13 s each, 61 reads
    per ingest before), and the claim kinds they were checked for.

    `tables`: per bronze table, its lines parsed, typed and checked once, good and bad, in the table's
    shape (parse.table_sql); `headers`: the lines of the layouts that feed no table (file and receipt
    headers, GO), checked only, typed when read (`parsed`)."""

    kinds: tuple[str, ...]
    tables: dict[str, DataFrame]
    headers: DataFrame
    headers_view: str  # a temporary view of `headers`, named in the SQL of `parsed`

    @property
    def layouts(self) -> dict[str, RecordLayout]:
        """Layout key -> layout, of every record of these kinds (the only keys the scratch holds)."""
        return _layouts(self.kinds)


def _layouts(kinds: Sequence[str]) -> dict[str, RecordLayout]:
    return {r.key: r for k in kinds for r in CLAIM_KINDS[k].records.values()}


def parse_to_scratch(spark: SparkSession, lines: Scratch, parsed_dir: str, kinds: Sequence[str],
                     threads: int = 4) -> Parsed:
    """Parse, type and check the lines of every record layout (`RecordLayout.key`) of the claim kinds of
    this run's files, once: the lines of each bronze table into a folder of their own in the table's
    shape with their first problem (`_problem`, null for a good line), the header lines into one
    folder partitioned by layout key with their problem only. One job per folder, several at once.

    Only those kinds: a line read as another kind's record is in the OTHER partition anyway (its
    layout key comes from its file's kind), and every layout parsed adds to the plan of the job.

    Materializing is deliberate: filtering good and bad lines straight off the checks would let the
    optimizer push the `_problem` filter into them and inline every field expression into one
    generated method (beyond the JVM's 64 KB limit); and both halves are needed anyway (issue 18: the
    checked lines were written narrow and typed again for each table, two parses of every line; on
    2M lines of the 医科 fixture the second was a third of the bronze writes). The plans are SQL text,
    one call to the JVM each (the Column API made 172,749 Python-JVM round trips on the four claim kinds).
    """
    kinds = tuple(dict.fromkeys(kinds))
    by_table: dict[str, list[RecordLayout]] = {}
    for layout in _layouts(kinds).values():
        if layout.table is not None:
            by_table.setdefault(layout.table, []).append(layout)
    source = _view(lines.read(spark), parsed_dir, "lines")
    header_sql = " UNION ALL ".join(
        f"SELECT *, {lit(key)} AS record_type FROM "
        f"({checked_sql(layout, f'(SELECT * FROM {source} WHERE record_type = {lit(key)})')})"
        for key, layout in _layouts(kinds).items() if layout.table is None)
    plans: dict[str, tuple[DataFrame, str, tuple[str, ...]]] = {
        table: (spark.sql(table_sql(table, layouts, source)), f"{parsed_dir}/{table}", ())
        for table, layouts in by_table.items()}
    plans["_headers"] = (spark.sql(header_sql), f"{parsed_dir}/_headers", ("record_type",))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = {name: pool.submit(write_scratch, df, path, by) for name, (df, path, by) in plans.items()}
        written = {name: future.result().read(spark) for name, future in futures.items()}
    headers = written.pop("_headers")
    return Parsed(kinds, written, headers, _view(headers, parsed_dir, "headers"))


# The parse queries name their input by a temporary view of the run rather than by a DataFrame passed
# to spark.sql: through Spark Connect, such a DataFrame travels inside the query as a relation of its
# own, and a parse used again later (a header parse, in the rejects written beside the tables) failed
# with TABLE_OR_VIEW_NOT_FOUND of its `_pyspark_connect_temp_view_...` while other writes ran side by side.
VIEWS = ("lines", "headers")


def _view_name(parsed_dir: str, what: str) -> str:
    return f"tokumei_uke_{what}_{hashlib.sha256(parsed_dir.encode('utf-8')).hexdigest()[:16]}"


def _view(df: DataFrame, parsed_dir: str, what: str) -> str:
    name = _view_name(parsed_dir, what)
    df.createOrReplaceTempView(name)
    return name


def drop_views(spark: SparkSession, parsed_dir: str) -> None:
    """Drop the temporary views `parse_to_scratch` made for `parsed_dir` (those that exist)."""
    for what in VIEWS:
        spark.catalog.dropTempView(_view_name(parsed_dir, what))


def parsed(spark: SparkSession, parsed_dir: Parsed, key: str) -> DataFrame:
    """One header layout (`RecordLayout.key`, a layout feeding no table) from the checked lines, in
    parse_records' shape."""
    assert key in parsed_dir.layouts and parsed_dir.layouts[key].table is None, (key, parsed_dir.kinds)
    lines = f"(SELECT * FROM {parsed_dir.headers_view} WHERE record_type = {lit(key)})"
    return spark.sql(parse_sql(ALL_LAYOUTS[key], lines, checked=True))


def _table_lines(parsed_dir: Parsed, record_type: str) -> tuple[str, DataFrame]:
    """The table one record type feeds, and the parsed lines of that record type of every parsed kind
    (RE -> RE, dental_RE) from it."""
    keys = [k for k, layout in parsed_dir.layouts.items() if layout.record_type == record_type]
    tables = {ALL_LAYOUTS[k].table for k in keys}
    assert len(tables) == 1, (record_type, tables)
    table = tables.pop()
    assert table is not None, record_type
    return table, parsed_dir.tables[table].where(f"_key IN ({', '.join(lit(k) for k in keys)})")


def _union(frames: Sequence[DataFrame]) -> DataFrame:
    return reduce(lambda a, b: a.unionByName(b), frames)


def _good(parsed_dir: Parsed, record_type: str) -> DataFrame:
    """Good lines of one record type of every parsed kind, in the shape of the table they feed."""
    table, lines = _table_lines(parsed_dir, record_type)
    return lines.where("_problem IS NULL").selectExpr(*META_COLUMNS, *(ident(f.name) for f in table_fields(table)))


def receipt_status(spark: SparkSession, parsed_dir: Parsed, registry_ids: DataFrame | None) -> DataFrame:
    """receipt_key -> status: `parent_rejected` (its RE was rejected) or `opted_out` (requirement 42)."""
    _, re = _table_lines(parsed_dir, "RE")
    rejected = re.where(F.col("_problem").isNotNull() & F.col("receipt_key").isNotNull())
    status = rejected.select("receipt_key", F.lit("parent_rejected").alias("status"))
    if registry_ids is not None:
        good = {t: _good(parsed_dir, t) for t in ("RE", "HO", "SN")}
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
    frame = _with_status(parsed_dir.tables[table], status)
    kept = frame.where(F.col("status").isNull() | (F.col("status") != "opted_out"))
    rows = kept.where("_problem IS NULL").selectExpr(*META_COLUMNS, *(ident(f.name) for f in table_fields(table)))
    if table == "receipts":
        rows = rows.join(F.broadcast(ir_facts), "file_sha256", how="left").select(*rows.columns, *IR_FACTS, "claim_kind")
    return TableFrames(rows, select_rejected(kept))


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
    checked = _union([frame.selectExpr("file_sha256", "_key AS record_type", "_problem IS NULL AS _ok", "receipt_key")
                      for frame in parsed_dir.tables.values()])
    headers = parsed_dir.headers.selectExpr("file_sha256", "record_type", "_problem IS NULL AS _ok",
                                            "CAST(NULL AS string) AS receipt_key")
    checked = checked.unionByName(headers)
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
