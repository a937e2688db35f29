"""Generated 調剤 claims round-trip in both date systems (issue 20 item 5): `tokumei generate --pharmacy`
writes RECEIPTY.CYO files beside the 医科 ones, and ingest gives back the generator's truth of every
調剤 record line by line, with no reject. The set is tests/e2e/conftest.py's `claim_kinds` (all four claim
kinds, ingested once)."""

import pytest
from helpers.generated import SYSTEMS
from pyspark.sql import functions as F

from synth.pharmacy import LAYOUT_OF_TABLE

pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def pharmacy_set(claim_kinds):
    return claim_kinds  # tests/e2e/conftest.py: all four claim kinds, ingested once


def _ledger(spark, wh, system):
    ledger = spark.read.format("delta").load(wh.ledger)
    return ledger.where(F.col("rel_path").startswith(f"{system}/uke/") & (F.col("claim_kind") == "pharmacy")).select(
        "file_sha256", F.regexp_replace("rel_path", f"^{system}/", "").alias("file"))


def test_generated_pharmacy_files_ingest_without_a_reject(spark, pharmacy_set):
    root, wh = pharmacy_set
    for system in SYSTEMS:
        files = {str(p.relative_to(root)) for p in (root / system).glob("uke/*/*/RECEIPTY.CYO")}
        assert len(files) >= 3, system
        rows = spark.read.format("delta").load(wh.ledger).where(F.col("claim_kind") == "pharmacy").collect()
        got = {r["rel_path"]: r for r in rows if r["rel_path"].startswith(f"{system}/")}
        assert set(got) == files
        for r in got.values():
            assert r["lines_rejected"] == 0 and r["lines_read"] == r["lines_parsed"] > 0 and r["reconciled"], r["rel_path"]


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_ingested_pharmacy_tables_equal_the_generator_truth(spark, pharmacy_set, system):
    root, wh = pharmacy_set
    ledger = _ledger(spark, wh, system)
    compared = 0
    for table, layout in LAYOUT_OF_TABLE.items():
        cols = ["file", "line_no", *(f.name for f in layout.kept())]
        truth = spark.read.parquet(str(root / system / "_truth" / "pharmacy" / table)).select(*cols)
        truth = truth.withColumn("line_no", F.col("line_no").cast("int"))
        got = spark.read.format("delta").load(wh.bronze(table)).join(ledger, "file_sha256").select(*cols)
        assert truth.count() > 0, table
        assert got.exceptAll(truth).count() == 0 and truth.exceptAll(got).count() == 0, table
        compared += truth.count()
    assert compared > 100


def test_a_patients_pharmacy_and_medical_claims_are_one_person_in_the_truth(spark, pharmacy_set):
    """The 調剤 receipts belong to people of the 医科 receipts: same person, same month (the linkage
    test on real keys is in tests/e2e/test_run.py)."""
    root, _ = pharmacy_set
    rx = spark.read.parquet(str(root / "seireki" / "_truth" / "pharmacy" / "receipts"))
    medical = spark.read.parquet(str(root / "seireki" / "_truth" / "receipts"))
    unmatched = rx.join(medical, ["person_id", "service_month", "birth_date", "sex"], "left_anti")
    assert rx.count() > 0 and unmatched.count() == 0
