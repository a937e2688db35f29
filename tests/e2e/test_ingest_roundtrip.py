"""Generated data in both date systems round-trips: the bronze tables that the shared pipeline run
ingested (tests/e2e/conftest.py) equal the generator's truth, line by line."""

import pytest
from pyspark.sql import functions as F

from jobs.runtime.warehouse import Warehouse
from transforms.uke.layout import LAYOUTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ingested(spark, pipeline):
    wh = Warehouse(str(pipeline.warehouse))
    return pipeline.input, wh, spark.read.format("delta").load(wh.ledger).collect()


def test_every_generated_file_was_ingested_without_a_reject(ingested):
    root, _, ledger = ingested
    files = {str(p.relative_to(root)) for p in root.glob("*/uke/*/*/RECEIPTC.UKE")}
    assert files and files <= {r["rel_path"] for r in ledger}
    for r in ledger:
        assert r["lines_rejected"] == 0 and r["lines_read"] == r["lines_parsed"] > 0 and r["reconciled"], r["rel_path"]


@pytest.mark.parametrize("system", ["seireki", "wareki"])
def test_ingested_uke_tables_equal_the_generator_truth(spark, ingested, system):
    root, wh, _ = ingested
    ledger = spark.read.format("delta").load(wh.ledger).select(
        "file_sha256", F.regexp_replace("rel_path", f"^{system}/", "").alias("file"), "rel_path")
    ledger = ledger.where(F.col("rel_path").startswith(f"{system}/uke/"))
    compared = 0
    for layout in LAYOUTS.values():
        truth_dir = root / system / "_truth" / str(layout.table)
        if layout.table is None or not truth_dir.exists():
            continue
        cols = ["file", "line_no", *(f.name for f in layout.kept())]
        truth = spark.read.parquet(str(truth_dir)).select(*cols).withColumn("line_no", F.col("line_no").cast("int"))
        got = spark.read.format("delta").load(wh.bronze(layout.table)).join(ledger, "file_sha256").select(*cols)
        assert got.exceptAll(truth).count() == 0 and truth.exceptAll(got).count() == 0, layout.table
        compared += truth.count()
    assert compared > 500


def test_generated_clinical_extracts_ingest_without_rejects(spark, ingested):
    root, wh, ledger = ingested
    for table in ("patients", "labs"):
        # Extracts with the same bytes (same sha256) are ingested once: count distinct contents.
        unique = {p.read_bytes() for p in root.glob(f"*/clinical/{table}/*.csv")}
        csv_rows = sum(len(data.splitlines()) - 1 for data in unique)
        assert spark.read.format("delta").load(wh.bronze(table)).count() == csv_rows > 0, table
    clinical = [r for r in ledger if r["kind"] == "clinical"]
    assert clinical and all(r["lines_rejected"] == 0 and r["reconciled"] for r in clinical)
