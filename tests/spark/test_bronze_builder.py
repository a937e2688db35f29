"""helpers/bronze.py writes a bronze warehouse shaped like ingest's output (the catalog's columns)."""

from helpers.bronze import CLINICAL_PATIENTS, LABS, RECEIPTS

from transforms.policy.catalog import uke_catalog


def test_bronze_builder_covers_the_catalog(spark, bronze_warehouse):
    """`bronze_warehouse` (tests/conftest.py) is helpers.bronze.write_bronze's output."""
    got = spark.read.format("delta").load(str(bronze_warehouse / "bronze" / "receipts"))
    assert set(got.columns) == set(uke_catalog()["receipts"]) and got.count() == 5 == len(RECEIPTS)
    tables = sorted(p.name for p in (bronze_warehouse / "bronze").iterdir())
    assert tables == sorted(["receipts", "insurances", "eligibility", "diagnoses", "drugs", "comments", "symptom_details",
                             "patients", "labs"])
    for name, rows in (("patients", CLINICAL_PATIENTS), ("labs", LABS)):
        assert spark.read.format("delta").load(str(bronze_warehouse / "bronze" / name)).count() == len(rows), name
