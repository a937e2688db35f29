"""消去記録: one append-only row per `tokumei erase` in WH/records/erasure (requirements 44, 46).

What was erased (kind and a description naming no person, a digest of the subject), the rows deleted
per table, the staged candidates removed, the published releases that held the subject, when, by
whom and why. Created with `delta.appendOnly=true` like the 受領記録 (jobs/stages/ingest/intake.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from jobs.runtime.delta_io import is_delta
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.intake import APPEND_ONLY

ERASURE = "erasure"
SCHEMA = T.StructType([
    T.StructField("erase_id", T.StringType(), False),
    T.StructField("kind", T.StringType(), False),  # patient | file | institution | expired
    T.StructField("subject_digest", T.StringType(), False),
    T.StructField("description", T.StringType(), False),
    T.StructField("rows_deleted", T.MapType(T.StringType(), T.LongType()), False),  # table -> rows
    T.StructField("staging_removed", T.ArrayType(T.StringType()), False),
    T.StructField("releases_holding", T.ArrayType(T.StringType()), False),  # published: not changed
    T.StructField("intake_records_kept", T.LongType(), False),  # 受領記録 rows of the erased files, kept
    T.StructField("vacuum_retention_hours", T.DoubleType(), False),
    T.StructField("operator", T.StringType(), False),
    T.StructField("reason", T.StringType(), False),
    T.StructField("erased_at", T.TimestampType(), False),
])


def append_audit(spark: SparkSession, wh: Warehouse, row: dict[str, Any]) -> None:
    values = dict(row, erased_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    df = spark.createDataFrame([tuple(values[f.name] for f in SCHEMA.fields)], SCHEMA)
    writer = df.write.format("delta").mode("append")
    path = wh.record(ERASURE)
    (writer if is_delta(spark, path) else writer.option(APPEND_ONLY, "true")).save(path)
