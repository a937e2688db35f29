"""Delta Lake reads, writes and table facts used by the jobs (never by transforms).

Everything past reading and writing is Delta SQL on `delta.`<path>`` (DESCRIBE HISTORY/DETAIL, DELETE,
MERGE, VACUUM, ALTER TABLE), not the `DeltaTable` API: under Spark Connect that API needs Delta's
Connect plugin on the server (`io.delta:delta-connect-server`), the SQL needs only Delta's SQL
extension, which every Delta-enabled server has. The one exception is `is_delta` on a classic session,
where the API is 25x faster than the SQL probe (3 ms against 80 ms) and is called before every read;
it is imported there, so a Spark Connect client needs no delta-spark package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs.runtime.errors import InputError
from jobs.runtime.session import is_connect

# Parquet codec of the tables a release hands over (staging and published): zstd. The pseudonyms are
# random hex that snappy cannot shrink; zstd writes the anonymized procedures table (6.8M rows) in
# 78 MB instead of 186 MB in the same time (bench/results/anonymize_ingest_2026-11-26.md). Every
# Parquet reader of the last years (Spark, Databricks, delta-rs, DuckDB, Trino, pyarrow) reads it.
RELEASE_COMPRESSION = "zstd"


def delta_table(path: str) -> str:
    """The SQL name of the Delta table at `path`."""
    return f"delta.`{path.replace('`', '``')}`"


def sql_string(text: str) -> str:
    """`text` as a Spark SQL string literal: quotes, backslashes and control characters escaped."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return "'" + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in escaped) + "'"


# What Delta answers for a path that holds no Delta table (missing, empty, plain files, a subfolder).
_NOT_DELTA = {"DELTA_MISSING_DELTA_TABLE", "DELTA_TABLE_NOT_FOUND", "PATH_NOT_FOUND"}


def is_delta(spark: SparkSession, path: str) -> bool:
    if not is_connect(spark):
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(spark, path)
    return is_delta_sql(spark, path)


def is_delta_sql(spark: SparkSession, path: str) -> bool:
    """is_delta through SQL (Spark Connect): other errors than "no Delta table here" are raised."""
    try:
        spark.sql(f"DESCRIBE DETAIL {delta_table(path)}").select("format").first()
    except AnalysisException as exc:
        if exc.getCondition() in _NOT_DELTA:
            return False
        raise
    return True


def read_delta(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    if not is_delta(spark, path):
        raise InputError(f"{path}: not a Delta table (run the stage that writes it first)")
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def last_commit(spark: SparkSession, path: str) -> dict[str, Any]:
    """Version, operation and metrics of the latest commit (row counts without another pass)."""
    return recent_commits(spark, path, 1)[0]


def recent_commits(spark: SparkSession, path: str, n: int) -> list[dict[str, Any]]:
    """The latest `n` commits (fewer if the table has fewer), newest first: {version, operation, metrics}.

    Where this process sees the table's log on its own filesystem, read from the commit files (Delta
    protocol: one JSON action per line, `commitInfo` holds the operation and its metrics), with no Spark
    command: DESCRIBE HISTORY costs 0.15 s a table on a warm local session, and every stage asks it of
    every table it writes or pins. Elsewhere (a URI, a catalog's commits not yet in the log, a commit file
    cleaned up or written without commitInfo), Delta's history answers."""
    version = local_log_version(path)
    if version is not None:
        found = [_local_commit(path, v) for v in range(version, max(-1, version - n), -1)]
        if all(found):
            return found  # type: ignore[return-value]
    rows = spark.sql(f"DESCRIBE HISTORY {delta_table(path)} LIMIT {int(n)}").select("version", "operation", "operationMetrics").collect()
    return [{"version": int(r["version"]), "operation": r["operation"], "metrics": dict(r["operationMetrics"] or {})}
            for r in rows]


def table_version(spark: SparkSession, path: str) -> int:
    """The table's latest version (from the log's file names where local, see `recent_commits`)."""
    version = local_log_version(path)
    return version if version is not None else int(last_commit(spark, path)["version"])


def local_log_version(path: str) -> int | None:
    """The highest commit file `_delta_log/<20 digits>.json` of a table on a local path, or None where
    that cannot answer: a URI, no log here, or commits a catalog holds that are not in the log yet
    (`_staged_commits`, `_commits`; catalog-managed tables), where only Delta itself knows the version."""
    log_dir = _local_log(path)
    if log_dir is None or any(any((log_dir / d).glob("*.json")) for d in ("_staged_commits", "_commits")):
        return None
    versions = [int(p.name[:20]) for p in log_dir.glob("*.json") if len(p.name) == 25 and p.name[:20].isdigit()]
    return max(versions) if versions else None


def _local_log(path: str) -> Path | None:
    if path.startswith("file:"):  # a local root written as a URI (Warehouse keeps it so): file:/x, file:///x
        path = "/" + path[len("file:"):].lstrip("/")
    if "://" in path or path.startswith("dbfs:") or not path.startswith("/"):
        return None
    log_dir = Path(path) / "_delta_log"
    return log_dir if log_dir.is_dir() else None


def _local_commit(path: str, version: int) -> dict[str, Any] | None:
    log_dir = _local_log(path)
    commit = log_dir / f"{version:020d}.json" if log_dir is not None else None
    if commit is None or not commit.is_file():
        return None
    for line in commit.read_text(encoding="utf-8").splitlines():
        info = json.loads(line).get("commitInfo") if line.strip() else None
        if info is not None:
            metrics = {str(k): str(v) for k, v in (info.get("operationMetrics") or {}).items()}
            return {"version": version, "operation": info.get("operation"), "metrics": metrics}
    return None


def written_rows(commit: dict[str, Any]) -> int | None:
    value = commit["metrics"].get("numOutputRows")
    return int(value) if value is not None else None


STATS_COLUMNS = "delta.dataSkippingStatsColumns"


def release_writer(df: DataFrame, mode: str, without_stats: Iterable[str] = (), stats_columns: str | None = None) -> Any:
    """A writer for a release table: zstd, and file statistics (min/max per file, for data skipping)
    on every column except `without_stats`, or on `stats_columns` as given (a table property).

    Pseudonyms are uniformly random: every file spans nearly their whole range, so their min/max skip
    nothing, and computing them for two 64-character columns cost about a fifth of writing the claim
    tables. Statistics only apply to a table the write creates (staging is rewritten from scratch)."""
    writer = df.write.format("delta").mode(mode).option("compression", RELEASE_COMPRESSION)
    for key, value in stats_properties(df, without_stats, stats_columns).items():
        writer = writer.option(key, value)
    return writer


def stats_properties(df: DataFrame, without_stats: Iterable[str] = (), stats_columns: str | None = None) -> dict[str, str]:
    """The table properties that choose the columns Delta keeps file statistics on (see `release_writer`):
    none where every column keeps them."""
    if stats_columns is None:
        skip = set(without_stats)
        if not skip & set(df.columns):
            return {}
        stats_columns = ",".join(f.name for f in df.schema.fields if f.name not in skip and _skipping_type(f.dataType))
    if not stats_columns:
        return {"delta.dataSkippingNumIndexedCols": "0"}
    return {STATS_COLUMNS: stats_columns}


def create_release_table(df: DataFrame, path: str, properties: dict[str, str], stats_columns: str | None = None) -> None:
    """A new Delta table at `path` (refused if one is there) holding `df`: zstd files, statistics on
    `stats_columns` (see `release_writer`) and `properties`, all in its first commit (version 0), so that
    no version of the table lacks them. One commit instead of a write and a property change: 28 commits fewer
    per release; one warm publish of the `uke_run` test data took 12.8 s before, 9.9 s after (2 cores)."""
    writer = df.writeTo(delta_table(path)).using("delta").option("compression", RELEASE_COMPRESSION)
    for key, value in {**stats_properties(df, stats_columns=stats_columns), **properties}.items():
        writer = writer.tableProperty(key, value)
    writer.create()


def _skipping_type(dtype: T.DataType) -> bool:
    """Types Delta keeps min/max for (it refuses others in dataSkippingStatsColumns)."""
    return isinstance(dtype, (T.NumericType, T.StringType, T.DateType, T.TimestampType, T.TimestampNTZType))


def table_bytes(spark: SparkSession, path: str) -> int:
    """Bytes of the table's current files, from its Delta log (no data is read). Join strategies use it
    where the optimizer's own estimate would need JVM internals (and Spark Connect has none)."""
    row = spark.sql(f"DESCRIBE DETAIL {delta_table(path)}").select("sizeInBytes").first()
    return int(row["sizeInBytes"] or 0) if row is not None else 0


def table_properties(spark: SparkSession, path: str) -> dict[str, str]:
    row = spark.sql(f"DESCRIBE DETAIL {delta_table(path)}").select("properties").first()
    return dict(row["properties"] or {}) if row is not None else {}


def delete_where(spark: SparkSession, path: str, condition: str) -> None:
    """Delta DELETE of the rows matching a SQL condition (literals through `sql_string`)."""
    spark.sql(f"DELETE FROM {delta_table(path)} WHERE {condition}")


def delete_matching(spark: SparkSession, path: str, keys: DataFrame, columns: Sequence[str]) -> None:
    """Delta DELETE of the rows whose `columns` equal those of a row of `keys` (a MERGE)."""
    on = " AND ".join(f"t.`{c}` = k.`{c}`" for c in columns)
    spark.sql(f"MERGE INTO {delta_table(path)} AS t USING {{keys}} AS k ON {on} WHEN MATCHED THEN DELETE", keys=keys)


RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
DELTA_MIN_RETENTION_HOURS = 168.0


def vacuum(spark: SparkSession, path: str, retention_hours: float | None = None) -> None:
    """VACUUM the files a DELETE removed, so old versions cannot return the rows (requirements 44, 46).

    VACUUM LITE first: the files to delete come from the log's remove actions, not from a listing of the
    whole directory. When the log no longer reaches back far enough Delta refuses LITE: then a full
    VACUUM. `None` keeps the table's retention window (Delta's 7 days). A window below Delta's 168-hour
    safety check is a deliberate choice of the deletion duty: the check is disabled for this call only
    and restored after, never as a session-wide setting other writers could trip over."""
    short = retention_hours is not None and retention_hours < DELTA_MIN_RETENTION_HOURS
    previous = spark.conf.get(RETENTION_CHECK, "true") if short else None
    if short:
        spark.conf.set(RETENTION_CHECK, "false")
    try:
        retain = f" RETAIN {float(retention_hours)} HOURS" if retention_hours is not None else ""
        try:
            spark.sql(f"VACUUM {delta_table(path)} LITE{retain}")
        except Exception as exc:  # DELTA_CANNOT_VACUUM_LITE
            if "LITE" not in str(exc).upper():
                raise
            spark.sql(f"VACUUM {delta_table(path)}{retain}")
    finally:
        if short:
            spark.conf.set(RETENTION_CHECK, previous or "true")
