"""Stored identity hashes: `bronze/_identities`, what patient linkage needs, computed once at ingest.

Ingest normalizes the identities of every receipt and clinical patient row it writes (transforms/
identity.py) and stores, per row, the two 64-bit hashes of its canonical ID1 and ID2 (transforms/
linkage.identity_hashes). `tokumei anonymize` then builds the linkage graph from this table instead
of joining, normalizing and hashing every receipt on each run.

The table is restricted-zone data like the rest of bronze (a `_` table: never read as a release
table). Its rows go where their source rows go: replaced with their file, deleted by opt-out purges
(jobs/stages/ingest/optout.py). Anonymize uses it only when it matches bronze: the same receipt keys (a
checksum), the same number of clinical patient rows and the current hash version; otherwise (a
warehouse ingested before the table existed, a purge that stopped half way) it computes the
identities itself and says so in the log; the record (anonymize.json `linkage.identities`) says
which: `stored` or `computed`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.delta_io import is_delta
from jobs.runtime.keys import Key
from jobs.runtime.warehouse import Warehouse
from transforms.identity.linkage import (
    HASH_VERSION,
    clinical_node,
    clinical_rows,
    identity_hashes,
    link_key,
    receipt_identities,
)
from transforms.release.patients import CLINICAL_PATIENTS

IDENTITIES = "_identities"
log = logging.getLogger("tokumei.identities")


def identity_rows(frames: Mapping[str, DataFrame], key: Key) -> DataFrame | None:
    """The `_identities` rows of bronze-shaped `frames` (receipts with their insurances and
    eligibility, clinical patients): node, hid1, hid2 (labels keyed with the link key derived from
    `key`, the producer's own), row_order (null for a receipt), file_sha256, hash_version and the
    key's fingerprint. None when `frames` hold neither receipts nor clinical patients."""
    parts = []
    label_key = link_key(key.material)
    if "receipts" in frames:
        ids = receipt_identities(frames["receipts"], frames.get("insurances"), frames.get("eligibility"), ["file_sha256"])
        parts.append(identity_hashes(ids, label_key).withColumn("__order", F.lit(None).cast("string")))
    if CLINICAL_PATIENTS in frames:
        parts.append(identity_hashes(clinical_rows(frames[CLINICAL_PATIENTS], ["file_sha256"]), label_key))
    if not parts:
        return None
    out = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    return out.select("node", F.col("__hid1").alias("hid1"), F.col("__hid2").alias("hid2"),
                      F.col("__order").alias("row_order"), "file_sha256", F.lit(HASH_VERSION).alias("hash_version"),
                      F.lit(key.fingerprint).alias("key_fingerprint"))


def clinical_nodes(patient_keys: DataFrame) -> DataFrame:
    """`node` of each (institution_code, patient_id): the rows a purge deletes from `_identities`."""
    return patient_keys.select(clinical_node(F.col("institution_code"), F.col("patient_id")).alias("node"))


def _checksum(keys: DataFrame, col: str) -> tuple[int, int]:
    """(rows, sum of a 20-bit hash of `col`): equal for two columns holding the same keys, almost surely
    different otherwise."""
    row = keys.agg(F.count(F.lit(1)).alias("n"), F.sum(F.xxhash64(F.col(col)).bitwiseAND(0xFFFFF)).alias("s")).first()
    return (int(row["n"]), int(row["s"] or 0)) if row is not None else (0, 0)


def stored_identities(spark: SparkSession, wh: Warehouse, bronze: Mapping[str, DataFrame], key: Key) -> DataFrame | None:
    """`(node, __hid1, __hid2, __order)` from `_identities` when it matches the bronze tables about to
    be read (receipt-key checksum, clinical row count, hash version); None (and why, in the log) otherwise."""
    path = wh.bronze(IDENTITIES)
    if not is_delta(spark, path):
        log.info("no %s table: identities are computed from the bronze tables", IDENTITIES)
        return None
    stored = spark.read.format("delta").load(path)
    if "key_fingerprint" not in stored.columns:
        log.warning("%s has no key fingerprint (written by an older version): identities are computed from the "
                    "bronze tables; re-ingesting the files rebuilds it", IDENTITIES)
        return None
    row = stored.agg(F.min("hash_version").alias("lo"), F.max("hash_version").alias("hi"),
                     F.countDistinct("key_fingerprint").alias("keys"), F.first("key_fingerprint").alias("key"),
                     F.count(F.when(F.col("row_order").isNotNull(), 1)).alias("clinical")).first()
    expected_clinical = bronze[CLINICAL_PATIENTS].count() if CLINICAL_PATIENTS in bronze else 0
    problem = None
    if row is None or row["lo"] != HASH_VERSION or row["hi"] != HASH_VERSION:
        problem = f"hash version {row['lo'] if row else None}-{row['hi'] if row else None}, this code writes {HASH_VERSION}"
    elif row["keys"] != 1 or row["key"] != key.fingerprint:
        problem = f"its labels were keyed with key fingerprint {row['key']}, this run's link key is {key.fingerprint}"
    elif int(row["clinical"]) != expected_clinical:
        problem = f"{row['clinical']} clinical patient rows against {expected_clinical} in bronze"
    elif _checksum(stored.where(F.col("row_order").isNull()), "node") != _checksum(bronze["receipts"], "receipt_key"):
        problem = "its receipts are not those of bronze receipts"
    if problem:
        log.warning("%s does not match bronze (%s): identities are computed from the bronze tables; "
                    "re-ingesting the files rebuilds it", IDENTITIES, problem)
        return None
    return stored.select("node", F.col("hid1").alias("__hid1"), F.col("hid2").alias("__hid2"),
                         F.col("row_order").alias("__order"))
