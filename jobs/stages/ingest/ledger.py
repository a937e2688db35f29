"""Bronze writes of one ingest run: data tables, `_rejects`, and the `_files` ledger written last.

Every table is written with one Delta commit that replaces the rows of this run's files (and of the
file versions they supersede), so a run that crashed half-way is simply re-run: its files are not in
the ledger yet, and their partial rows are replaced, never doubled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.runtime.delta_io import is_delta, last_commit, table_version
from jobs.runtime.errors import InputError

LEDGER_SCHEMA = T.StructType([
    T.StructField("path", T.StringType(), False),
    T.StructField("rel_path", T.StringType(), True),
    T.StructField("file_sha256", T.StringType(), False),
    T.StructField("version", T.IntegerType(), False),
    T.StructField("supersedes_sha256", T.StringType(), True),
    T.StructField("replaced_previous", T.BooleanType(), False),
    T.StructField("kind", T.StringType(), False),
    T.StructField("claim_kind", T.StringType(), True),  # UKE: medical | dental | pharmacy (transforms/uke/layout.py)
    T.StructField("table", T.StringType(), True),
    T.StructField("size_bytes", T.LongType(), False),
    T.StructField("encoding", T.StringType(), True),
    T.StructField("encoding_evidence", T.StringType(), True),
    T.StructField("line_end", T.StringType(), True),
    T.StructField("eof_mark", T.BooleanType(), True),
    T.StructField("payer_kind", T.StringType(), True),
    T.StructField("pref_code", T.StringType(), True),
    T.StructField("institution_code", T.StringType(), True),
    T.StructField("billing_month", T.DateType(), True),
    T.StructField("volume_no", T.StringType(), True),
    T.StructField("go_volume_no", T.StringType(), True),
    T.StructField("go_total_receipts", T.IntegerType(), True),
    T.StructField("go_total_points", T.LongType(), True),
    T.StructField("record_counts", T.MapType(T.StringType(), T.LongType()), True),
    T.StructField("lines_read", T.LongType(), False),
    T.StructField("lines_parsed", T.LongType(), False),
    T.StructField("lines_rejected", T.LongType(), False),
    T.StructField("lines_opted_out", T.LongType(), False),
    T.StructField("receipts_opted_out", T.LongType(), False),
    T.StructField("optout_checked", T.BooleanType(), False),
    T.StructField("reconciled", T.BooleanType(), False),
    T.StructField("run_id", T.StringType(), False),
    T.StructField("ingested_at", T.TimestampType(), False),
])

REJECTS_SCHEMA = T.StructType([
    T.StructField("file_sha256", T.StringType(), False),
    T.StructField("file_path", T.StringType(), True),
    T.StructField("line_no", T.IntegerType(), True),
    T.StructField("record_type", T.StringType(), True),
    T.StructField("reason", T.StringType(), False),
    T.StructField("detail", T.StringType(), True),
    T.StructField("raw_text", T.StringType(), True),
    T.StructField("raw_hex", T.StringType(), True),
])


def read_ledger(spark: SparkSession, path: str) -> list[dict[str, Any]]:
    """Identity columns of every ledger row (one row per file version: small)."""
    if not is_delta(spark, path):
        return []
    rows = spark.read.format("delta").load(path).select("path", "file_sha256", "version", "kind", "table",
                                                        "institution_code", "billing_month", "payer_kind", "volume_no")
    return [r.asDict() for r in rows.collect()]


def _sha_predicate(shas: Iterable[str]) -> str:
    quoted = sorted({s for s in shas if all(c in "0123456789abcdef" for c in s)})
    return "file_sha256 IN (" + ", ".join(f"'{s}'" for s in quoted) + ")" if quoted else "false"


def replace_rows(spark: SparkSession, df: DataFrame, path: str, shas: Sequence[str]) -> int:
    """One commit: rows of these files (and superseded versions) replaced by `df`; creates the table.

    Returns the number of rows the commit wrote (Delta's own operation metric).
    """
    if not is_delta(spark, path):
        df.write.format("delta").mode("append").save(path)
        return _commit_rows(spark, path, None)
    before = table_version(spark, path)
    # mergeSchema: a table written before a claim kind added its columns gains them (null in old rows).
    df.write.format("delta").mode("overwrite").option("replaceWhere", _sha_predicate(shas)) \
        .option("mergeSchema", "true").save(path)
    return _commit_rows(spark, path, before)


def _commit_rows(spark: SparkSession, path: str, before: int | None) -> int:
    """Rows the latest commit added, 0 if there is none after `before` (nothing to write or replace);
    from the commit file where local (jobs/runtime/delta_io.py `recent_commits`: no Spark job per table)."""
    commit = last_commit(spark, path)
    if before is not None and commit["version"] == before:
        return 0
    metrics = commit["metrics"]
    # A replaceWhere rewrites files it deletes from; the rows it merely copies are not this run's.
    return int(metrics.get("numOutputRows", 0)) - int(metrics.get("numCopiedRows", 0))


def write_tables(spark: SparkSession, targets: dict[str, DataFrame], shas: Sequence[str], threads: int = 4) -> dict[str, int]:
    """All bronze writes of a run, several at once: each is mostly Delta commit latency, not CPU."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = {path: pool.submit(replace_rows, spark, df, path, shas) for path, df in targets.items()}
        return {path: future.result() for path, future in futures.items()}


def count_rows(frames: dict[str, DataFrame], rejects: Sequence[DataFrame]) -> list[tuple[str, str, str, int]]:
    """(file_sha256, table, table, rows) for every frame about to be written, and (file_sha256, `_rejects`,
    `_rejects`, rejects), in one Spark job: the counts of the clinical extracts, whose table is their
    record type (the UKE lines are counted by jobs/stages/ingest/uke.count_lines)."""
    parts = [bad.select("file_sha256", F.lit("_rejects").alias("_table")) for bad in rejects]
    parts += [df.select("file_sha256", F.lit(table).alias("_table")) for table, df in frames.items()]
    union = reduce(lambda a, b: a.unionByName(b), parts)
    rows = union.groupBy("file_sha256", "_table").count().collect()
    return [(r["file_sha256"], r["_table"], r["_table"], int(r["count"])) for r in rows]


def check_written(written: dict[str, int], expected: dict[str, int]) -> None:
    """What Delta committed per table equals what the run counted; otherwise nothing is recorded."""
    bad = {t: (written.get(t, 0), expected.get(t, 0)) for t in {*written, *expected}
           if written.get(t, 0) != expected.get(t, 0)}
    if bad:
        raise InputError(f"reconciliation failed: rows written != rows counted per table: {bad}")


def reconcile(rows: Sequence[dict[str, Any]]) -> None:
    """lines read = lines parsed + lines rejected, per file (issue 3 item 5); InputError otherwise."""
    bad = [r for r in rows if r["lines_read"] != r["lines_parsed"] + r["lines_rejected"]]
    if bad:
        detail = "; ".join(
            f"{r['rel_path']}: read {r['lines_read']} != parsed {r['lines_parsed']} + rejected {r['lines_rejected']}"
            for r in bad[:5]
        )
        raise InputError(f"reconciliation failed for {len(bad)} file(s), ledger not written: {detail}")


def append_ledger(spark: SparkSession, path: str, rows: Sequence[dict[str, Any]]) -> None:
    """This run's file versions, in one commit. Files already in the ledger were filtered out before
    the run, and the ledger is written last, so an append cannot record a file twice."""
    df = spark.createDataFrame([tuple(r.get(f.name) for f in LEDGER_SCHEMA.fields) for r in rows], LEDGER_SCHEMA)
    df.write.format("delta").mode("append").option("mergeSchema", "true").save(path)  # claim_kind came later


def empty_rejects(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], REJECTS_SCHEMA)


def conform_rejects(df: DataFrame) -> DataFrame:
    return df.select(*(F.col(f.name).cast(f.dataType).alias(f.name) for f in REJECTS_SCHEMA.fields))
