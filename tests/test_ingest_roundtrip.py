"""Generated data in both date systems round-trips: the ingested bronze tables equal the generator's truth."""

import shutil
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.pipeline import run_ingest
from transforms.uke.layout import LAYOUTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def roundtrip(spark, generated, tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    # The 和暦 set starts in 2019-04, so its dates cross 平成31年4月 -> 令和元年5月 (shared with test_generate).
    sources = {"seireki": generated(60, 2, 11), "wareki": generated(120, 2, 3, era=True, start_month="2019-04")}
    for name, src in sources.items():
        shutil.copytree(src, root / name)
    wh = Warehouse(str(tmp_path_factory.mktemp("wh")))
    summary = run_ingest(spark, str(root), wh.root)
    return root, wh, summary


@pytest.mark.parametrize("system", ["seireki", "wareki"])
def test_ingested_uke_tables_equal_the_generator_truth(spark, roundtrip, system):
    root, wh, summary = roundtrip
    assert summary["lines_rejected"] == 0 and summary["lines_read"] == summary["lines_parsed"]
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


def test_generated_clinical_extracts_ingest_without_rejects(spark, roundtrip):
    root, wh, _ = roundtrip
    for table in ("patients", "labs"):
        # Extracts with the same bytes (same sha256) are ingested once: count distinct contents.
        unique = {p.read_bytes() for p in Path(root).glob(f"*/clinical/{table}/*.csv")}
        csv_rows = sum(len(data.splitlines()) - 1 for data in unique)
        assert spark.read.format("delta").load(wh.bronze(table)).count() == csv_rows > 0, table
    ledger = spark.read.format("delta").load(wh.ledger).where("kind = 'clinical'").collect()
    assert ledger and all(r["lines_rejected"] == 0 and r["reconciled"] for r in ledger)
