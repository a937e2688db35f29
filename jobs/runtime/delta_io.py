"""Delta Lake reads, writes and table facts used by the jobs (never by transforms)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs.runtime.errors import InputError

# Parquet codec of the tables a release hands over (staging and published): zstd. The pseudonyms are
# random hex that snappy cannot shrink; zstd writes the anonymized procedures table (6.8M rows) in
# 78 MB instead of 186 MB in the same time (bench/results/anonymize_ingest_2026-11-26.md). Every
# Parquet reader of the last years (Spark, Databricks, delta-rs, DuckDB, Trino, pyarrow) reads it.
RELEASE_COMPRESSION = "zstd"


def is_delta(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def read_delta(spark: SparkSession, path: str, version: int | None = None) -> DataFrame:
    if not is_delta(spark, path):
        raise InputError(f"{path}: not a Delta table (run the stage that writes it first)")
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def last_commit(spark: SparkSession, path: str) -> dict[str, Any]:
    """Version, operation and metrics of the latest commit (row counts without another pass)."""
    row = DeltaTable.forPath(spark, path).history(1).select("version", "operation", "operationMetrics").first()
    assert row is not None
    return {"version": int(row["version"]), "operation": row["operation"], "metrics": dict(row["operationMetrics"] or {})}


def table_version(spark: SparkSession, path: str) -> int:
    return int(last_commit(spark, path)["version"])


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
    if stats_columns is None:
        skip = set(without_stats)
        if not skip & set(df.columns):
            return writer
        stats_columns = ",".join(f.name for f in df.schema.fields if f.name not in skip and _skipping_type(f.dataType))
    if not stats_columns:
        return writer.option("delta.dataSkippingNumIndexedCols", "0")
    return writer.option(STATS_COLUMNS, stats_columns)


def _skipping_type(dtype: T.DataType) -> bool:
    """Types Delta keeps min/max for (it refuses others in dataSkippingStatsColumns)."""
    return isinstance(dtype, (T.NumericType, T.StringType, T.DateType, T.TimestampType, T.TimestampNTZType))


def table_bytes(spark: SparkSession, path: str) -> int:
    """Bytes of the table's current files, from its Delta log (no data is read). Join strategies use it
    where the optimizer's own estimate would need JVM internals (and Spark Connect has none)."""
    row = DeltaTable.forPath(spark, path).detail().select("sizeInBytes").first()
    return int(row["sizeInBytes"] or 0) if row is not None else 0


def table_properties(spark: SparkSession, path: str) -> dict[str, str]:
    row = DeltaTable.forPath(spark, path).detail().select("properties").first()
    return dict(row["properties"] or {}) if row is not None else {}


def set_properties(spark: SparkSession, path: str, properties: dict[str, str]) -> None:
    """Table properties in the Delta log, visible to every Delta reader (requirement 29's label)."""
    if not properties:
        return
    assignments = ", ".join(f"'{_sql(k)}' = '{_sql(v)}'" for k, v in properties.items())
    spark.sql(f"ALTER TABLE delta.`{path.replace('`', '``')}` SET TBLPROPERTIES ({assignments})")


def _sql(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


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
            spark.sql(f"VACUUM delta.`{path.replace('`', '``')}` LITE{retain}")
        except Exception as exc:  # DELTA_CANNOT_VACUUM_LITE
            if "LITE" not in str(exc).upper():
                raise
            DeltaTable.forPath(spark, path).vacuum(retention_hours)
    finally:
        if short:
            spark.conf.set(RETENTION_CHECK, previous or "true")
