"""Parquet folders a run writes for itself and reads back (ingest's positioned and parsed lines, the run
cache), with the schema they were written with.

Reading Parquet without a schema costs a Spark job that reads a footer to infer it, at every read:
35 of the 102 jobs of one ingest of the real UKE file (tokumei reads its scratch once per record type).
The writer knows the schema, so the reader is given it: no job, and an empty folder (no file at all)
reads as an empty frame instead of failing the inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T


@dataclass(frozen=True)
class Scratch:
    """A Parquet folder and the schema it reads back with (partition columns last, as Spark reads them)."""

    path: str
    schema: T.StructType

    def read(self, spark: SparkSession) -> DataFrame:
        return spark.read.schema(self.schema).parquet(self.path)


def write_scratch(df: DataFrame, path: str, partition_by: Sequence[str] = ()) -> Scratch:
    """Write `df` to `path` (overwrite), partitioned by `partition_by`; return how to read it back."""
    writer = df.write.mode("overwrite")
    (writer.partitionBy(*partition_by) if partition_by else writer).parquet(path)
    data = [f for f in df.schema.fields if f.name not in partition_by]
    return Scratch(path, T.StructType(data + [df.schema[name] for name in partition_by]))
