"""受領記録 (requirement 47; 48 on the provider's side): one row per ingested file in WH/records/intake.

The legal items of a receipt: the provider (医療機関コード and name from the file's IR record; for a
clinical extract the institution codes its rows carry), the date received, the items of information
the file holds (its record types and bronze tables), the number of persons in it and how it was
obtained (`receipt.method`). The table is created with `delta.appendOnly=true`: Delta then refuses
DELETE and UPDATE on it, so a record cannot be changed after the fact; `tokumei erase` never touches
it (a deletion is described in the erasure record instead). Rows are kept at least until
`retain_until` (received + `receipt.retention_years`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.runtime.config import ReceiptSettings
from jobs.runtime.delta_io import is_delta, table_properties
from jobs.runtime.errors import InputError
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.identities import IDENTITIES
from transforms.uke.layout import CLAIM_KINDS, MEDICAL

INTAKE = "intake"
APPEND_ONLY = "delta.appendOnly"
_JST = ZoneInfo("Asia/Tokyo")
PATIENT_KEY = ("institution_code", "patient_id")

INTAKE_SCHEMA = T.StructType([
    T.StructField("file_sha256", T.StringType(), False),
    T.StructField("rel_path", T.StringType(), True),
    T.StructField("kind", T.StringType(), False),
    T.StructField("provider_code", T.StringType(), True),  # UKE: 都道府県 + 点数表 + 医療機関コード (IR)
    T.StructField("provider_name", T.StringType(), True),  # UKE: 医療機関名称 (IR)
    T.StructField("received_on", T.DateType(), False),  # date in Japan
    T.StructField("record_types", T.ArrayType(T.StringType()), False),
    T.StructField("items", T.ArrayType(T.StringType()), False),  # bronze tables the file fed
    T.StructField("persons", T.LongType(), False),
    T.StructField("method", T.StringType(), False),
    T.StructField("retain_until", T.DateType(), False),
    T.StructField("run_id", T.StringType(), False),
    T.StructField("received_at", T.TimestampType(), False),
])


def _persons(spark: SparkSession, wh: Warehouse,
             ledger_rows: Sequence[dict[str, Any]]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Distinct persons per file, counted on what this run wrote: UKE files by the stored identity
    labels of their receipts (one person = one ID1, else ID2, else the receipt), clinical files by
    (institution_code, patient_id), with the institution codes a clinical file holds."""
    shas = [r["file_sha256"] for r in ledger_rows]
    out: dict[str, int] = {}
    codes: dict[str, list[str]] = {}
    if any(r["kind"] == "uke" for r in ledger_rows) and is_delta(spark, wh.bronze(IDENTITIES)):
        ids = spark.read.format("delta").load(wh.bronze(IDENTITIES)).where(
            F.col("file_sha256").isin(shas) & F.col("row_order").isNull())
        person = F.coalesce(F.col("hid1").cast("string"), F.col("hid2").cast("string"), F.col("node"))
        for r in ids.groupBy("file_sha256").agg(F.countDistinct(person).alias("n")).collect():
            out[r["file_sha256"]] = int(r["n"])
    for table in sorted({r["table"] for r in ledger_rows if r["kind"] == "clinical" and r["table"]}):
        path = wh.bronze(table)
        if not is_delta(spark, path):
            continue
        df = spark.read.format("delta").load(path)
        if not set(PATIENT_KEY) <= set(df.columns):
            continue
        agg = df.where(F.col("file_sha256").isin(shas)).groupBy("file_sha256").agg(
            F.countDistinct(*PATIENT_KEY).alias("n"), F.array_sort(F.collect_set("institution_code")).alias("codes"))
        for r in agg.collect():
            out[r["file_sha256"]] = int(r["n"])
            codes[r["file_sha256"]] = list(r["codes"])
    return out, codes


def intake_rows(spark: SparkSession, wh: Warehouse, ledger_rows: Sequence[dict[str, Any]],
                headers: dict[str, dict[str, Any]], receipt: ReceiptSettings) -> list[tuple[Any, ...]]:
    """The 受領記録 rows of this run's files (ledger rows as append_ledger wrote them)."""
    persons, codes = _persons(spark, wh, ledger_rows)
    rows = []
    for r in ledger_rows:
        sha, head = r["file_sha256"], headers.get(r["file_sha256"], {})
        received_at: dt.datetime = r["ingested_at"]
        received_on = received_at.replace(tzinfo=dt.UTC).astimezone(_JST).date()
        types = sorted(k for k, v in (r["record_counts"] or {}).items() if v and k != "header")
        if r["kind"] == "uke":
            # 10 digits as the clinical extracts write it: 都道府県番号 + 点数表番号 + 医療機関コード
            code = "".join(head.get(k) or "" for k in ("pref_code", "score_table", "institution_code")) or None
            fed = CLAIM_KINDS[r.get("claim_kind") or MEDICAL.name].fed()
            items = sorted({fed[t] for t in types if t in fed})
            name = head.get("institution_name")
        else:
            code, name = ",".join(codes.get(sha, [])) or None, None
            items = [r["table"]] if r["table"] else []
        retain = _add_years(received_on, receipt.retention_years)
        rows.append((sha, r["rel_path"], r["kind"], code, name, received_on, types, items, int(persons.get(sha, 0)),
                     receipt.method, retain, r["run_id"], received_at))
    return rows


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def append_intake(spark: SparkSession, wh: Warehouse, rows: Sequence[tuple[Any, ...]]) -> DataFrame:
    """Append the rows; the first write creates the table append-only. A table found without the
    property (created by hand) is refused: the record must not be open to DELETE or UPDATE."""
    path = wh.record(INTAKE)
    df = spark.createDataFrame(list(rows), INTAKE_SCHEMA)
    if is_delta(spark, path):
        if table_properties(spark, path).get(APPEND_ONLY) != "true":
            raise InputError(f"{path}: the 受領記録 table lacks {APPEND_ONLY}=true; set it with "
                             f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('{APPEND_ONLY}' = 'true') and re-run")
        df.write.format("delta").mode("append").save(path)
    else:
        df.write.format("delta").mode("append").option(APPEND_ONLY, "true").save(path)
    return df
