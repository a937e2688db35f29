"""Stored identity hashes (jobs/stages/ingest/identities.py): ingest writes them, anonymize links from them, and
falls back to computing the identities when the table does not match bronze."""

import logging
import shutil

from delta.tables import DeltaTable
from helpers.keys import TEST_KEY
from pyspark.sql import functions as F

from jobs.runtime.keys import Key
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.identities import IDENTITIES, identity_rows, stored_identities
from transforms.identity.linkage import derive_key, link_key
from transforms.policy import Linkage
from transforms.release.patients import patient_ids


def _bronze(spark, wh: Warehouse):
    root = wh.local_path(wh.bronze_root)
    return {p.name: spark.read.format("delta").load(str(p)) for p in root.iterdir() if not p.name.startswith("_")}


def _pids(bronze, stored):
    ids = patient_ids(bronze, derive_key(b"k", "pid"), Linkage(), stored=stored, link_key=link_key(TEST_KEY.material))
    try:
        return {r["node"]: (r["pid"], r["linked"]) for r in ids.collect()}
    finally:
        ids.unpersist()


def test_req15_stored_hashes_link_exactly_as_the_identities_computed_from_bronze(spark, bronze_warehouse, tmp_path, caplog):
    shutil.copytree(bronze_warehouse, tmp_path / "wh")  # this test writes the identities table
    wh = Warehouse(str(tmp_path / "wh"))
    bronze = _bronze(spark, wh)
    live = _pids(bronze, None)
    assert stored_identities(spark, wh, bronze, TEST_KEY) is None  # no table yet: computed from bronze

    rows = identity_rows(bronze, TEST_KEY)
    assert rows is not None and rows.columns == ["node", "hid1", "hid2", "row_order", "file_sha256", "hash_version",
                                              "key_fingerprint"]
    rows.write.format("delta").save(wh.bronze(IDENTITIES))
    n_receipts, n_clinical = bronze["receipts"].count(), bronze["patients"].count()
    assert rows.count() == n_receipts + n_clinical  # a row per receipt and per clinical patient row
    stored = stored_identities(spark, wh, bronze, TEST_KEY)
    assert stored is not None
    assert _pids(bronze, stored) == live  # the same pid for every node, linked or not
    assert len({p for p, _ in live.values()}) < len(live)  # the data links records (a real test)
    # labels keyed with another producer key: not used (HASH_VERSION 2, issue 16)
    other = Key("other", b"another-producer-key-not-a-secret-0123456789")
    with caplog.at_level(logging.WARNING, logger="tokumei.identities"):
        assert stored_identities(spark, wh, bronze, other) is None
    assert other.fingerprint in caplog.text and TEST_KEY.fingerprint in caplog.text
    caplog.clear()

    # a receipt missing from the table (a purge stopped half way): not used, and the log says why
    one = bronze["receipts"].select("receipt_key").first()["receipt_key"]
    DeltaTable.forPath(spark, wh.bronze(IDENTITIES)).delete(F.col("node") == one)
    with caplog.at_level(logging.WARNING, logger="tokumei.identities"):
        assert stored_identities(spark, wh, bronze, TEST_KEY) is None
    assert "not those of bronze receipts" in caplog.text
    # an older normalization: not used either
    rows.withColumn("hash_version", F.lit(0)).write.format("delta").mode("overwrite").save(wh.bronze(IDENTITIES))
    assert stored_identities(spark, wh, bronze, TEST_KEY) is None
