"""Generated DPC claims round-trip in both date systems: `tokumei generate --dpc` moves the inpatient stays at
DPC hospitals (200 beds or more, synth/dpc.py) out of RECEIPTC.UKE into a RECEIPTD.UKE beside it, and ingest
gives back the generator's truth of every DPC record line by line, with no reject, and still that of the
医科 files the stays left.

The set is tests/e2e/conftest.py's `claim_kinds` (80 patients x 2 months, seed 3, 12 institutions, all four
claim kinds): one 326-bed hospital with inpatients in both months.
"""

import pytest
from helpers.generated import SYSTEMS
from pyspark.sql import functions as F

from synth.dpc import DPC_MIN_BEDS, LAYOUT_OF_TABLE
from synth.records import LAYOUT_OF_TABLE as MEDICAL_LAYOUT_OF_TABLE

pytestmark = pytest.mark.slow

OPTIONAL = ("public_expenses",)  # a table the set may have no rows of (it has some today)


@pytest.fixture(scope="module")
def dpc_set(claim_kinds):
    return claim_kinds  # tests/e2e/conftest.py: all four claim kinds, ingested once


def _ledger(spark, wh, system, kind):
    ledger = spark.read.format("delta").load(wh.ledger)
    return ledger.where(F.col("rel_path").startswith(f"{system}/uke/") & (F.col("claim_kind") == kind)).select(
        "file_sha256", F.regexp_replace("rel_path", f"^{system}/", "").alias("file"))


def _compare(spark, wh, ledger, truth_dir, table, layout):
    """(truth rows, rows in one table but not the other) of `table` in the files of `ledger`."""
    cols = ["file", "line_no", *(f.name for f in layout.kept())]
    truth = spark.read.parquet(str(truth_dir / table)).select(*cols).withColumn("line_no", F.col("line_no").cast("int"))
    got = spark.read.format("delta").load(wh.bronze(table)).join(ledger, "file_sha256").select(*cols)
    return truth.count(), got.exceptAll(truth).count() + truth.exceptAll(got).count()


def test_generated_dpc_files_sit_beside_the_medical_ones_and_ingest_without_a_reject(spark, dpc_set):
    root, wh = dpc_set
    rows = spark.read.format("delta").load(wh.ledger).collect()
    for system in SYSTEMS:
        files = {str(p.relative_to(root)) for p in (root / system).glob("uke/*/*/RECEIPTD.UKE")}
        assert len(files) == 2, system  # the hospital's two billing months
        got = {r["rel_path"]: r for r in rows if r["rel_path"].startswith(f"{system}/") and r["claim_kind"] == "dpc"}
        assert set(got) == files
        medical = {r["rel_path"] for r in rows if r["rel_path"].startswith(f"{system}/") and r["claim_kind"] == "medical"}
        assert {f.replace("RECEIPTD.UKE", "RECEIPTC.UKE") for f in files} <= medical
    for r in (r for r in rows if "/uke/" in r["rel_path"]):
        assert r["lines_rejected"] == 0 and r["lines_read"] == r["lines_parsed"] > 0 and r["reconciled"], r["rel_path"]


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_ingested_dpc_tables_equal_the_generator_truth(spark, dpc_set, system):
    root, wh = dpc_set
    ledger = _ledger(spark, wh, system, "dpc")
    counts = {}
    for table, layout in LAYOUT_OF_TABLE.items():
        counts[table], differing = _compare(spark, wh, ledger, root / system / "_truth" / "dpc", table, layout)
        assert differing == 0, table
        assert counts[table] > 0 or table in OPTIONAL, table
    # 4 stays; a CD per (line, day) and an SB per diagnosis outnumber them.
    assert counts["receipts"] == counts["dpc_groups"] == counts["dpc_patient_basics"] == 4
    assert counts["dpc_inclusive_fees"] == counts["dpc_adjustments"] == 4
    assert counts["diagnoses"] >= 4 and counts["dpc_coding"] > 40
    # GT 調整点数 is signed: the stay billed in January too and discharged in February settles a refund.
    gt = spark.read.format("delta").load(wh.bronze("dpc_adjustments")).join(ledger, "file_sha256")
    assert gt.where(F.col("adjustment_points") < 0).count() == 1


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_the_stays_left_the_medical_files_and_those_still_equal_their_truth(spark, dpc_set, system):
    """The 医科 receipts were numbered again without the stays (synth/dpc.py medical_receipts): a line off
    by one would show in every table after it."""
    root, wh = dpc_set
    truth_dir = root / system / "_truth"
    medical = spark.read.parquet(str(truth_dir / "receipts"))
    # 医科 RE carries 病床数 on inpatient receipts only: none of a DPC hospital is left.
    assert medical.where(F.col("beds") >= DPC_MIN_BEDS).count() == 0 and medical.count() > 50
    ledger = _ledger(spark, wh, system, "medical")
    for table in ("receipts", "insurances", "diagnoses", "procedures", "drugs"):
        count, differing = _compare(spark, wh, ledger, truth_dir, table, MEDICAL_LAYOUT_OF_TABLE[table])
        assert count > 0 and differing == 0, table
    def at(df):
        return df.select("person_id", "service_month", F.split("file", "/")[1].alias("institution"))

    dpc = at(spark.read.parquet(str(truth_dir / "dpc" / "receipts")))
    assert dpc.count() == 4 and dpc.join(at(medical), ["person_id", "service_month", "institution"]).count() == 0
