"""Generated 歯科 claims round-trip in both date systems (issue 20 item 5): `tokumei generate --dental` writes
RECEIPTS.UKE files of dental clinics (synth/dental.py), ingest gives back the generator's truth of every 歯科
record line by line with no reject, and a patient's 歯科 and 医科 receipts link to one pid.

The set is tests/e2e/conftest.py's `claim_kinds` (80 patients x 2 months, seed 3, 12 institutions, all four
claim kinds): 5 dental clinics, each with receipts in both billing months (10 files, 17 歯科 receipts).
"""

import pytest
from helpers.generated import SYSTEMS
from helpers.keys import TEST_KEY
from pyspark.sql import functions as F

from synth.dental import LAYOUT_OF_TABLE
from transforms.identity.linkage import link_patients, receipt_identities

pytestmark = pytest.mark.slow

FILES = 10
RECEIPTS = 17


@pytest.fixture(scope="module")
def dental_set(claim_kinds):
    return claim_kinds  # tests/e2e/conftest.py: all four claim kinds, ingested once


def _ledger(spark, wh, system, kind="dental"):
    ledger = spark.read.format("delta").load(wh.ledger)
    return ledger.where(F.col("rel_path").startswith(f"{system}/uke/") & (F.col("claim_kind") == kind)).select(
        "file_sha256", F.regexp_replace("rel_path", f"^{system}/", "").alias("file"))


def test_generated_dental_files_ingest_as_dental_without_a_reject(spark, dental_set):
    root, wh = dental_set
    rows = spark.read.format("delta").load(wh.ledger).collect()
    for system in SYSTEMS:
        paths = sorted((root / system).glob("uke/*/*/RECEIPTS.UKE"))
        assert len(paths) == FILES and {p.parent.name for p in paths} == {"202502", "202503"}, system
        assert all(p.parent.parent.name[2] == "3" for p in paths)  # 点数表 3 in the 10-digit code
        medical = {p.parent.parent.name[3:] for p in (root / system).glob("uke/*/*/RECEIPTC.UKE")}
        assert medical and not medical & {p.parent.parent.name[3:] for p in paths}  # own 医療機関コード
        got = {r["rel_path"]: r for r in rows if r["rel_path"].startswith(f"{system}/") and r["claim_kind"] == "dental"}
        assert set(got) == {str(p.relative_to(root)) for p in paths}
    for r in (r for r in rows if "/uke/" in r["rel_path"]):
        assert r["lines_rejected"] == 0 and r["lines_read"] == r["lines_parsed"] > 0 and r["reconciled"], r["rel_path"]


@pytest.mark.parametrize("system", list(SYSTEMS))
def test_ingested_dental_tables_equal_the_generator_truth(spark, dental_set, system):
    root, wh = dental_set
    ledger = _ledger(spark, wh, system)
    truth_dir = root / system / "_truth" / "dental"
    counts = {}
    for table, layout in LAYOUT_OF_TABLE.items():
        cols = ["file", "line_no", *(f.name for f in layout.kept())]
        truth = spark.read.parquet(str(truth_dir / table)).select(*cols).withColumn("line_no", F.col("line_no").cast("int"))
        counts[layout.record_type] = truth.count()
        assert counts[layout.record_type] > 0, table
        if layout.table is None:  # 歯科 IR: ingest only counts it (below)
            continue
        got = spark.read.format("delta").load(wh.bronze(table)).join(ledger, "file_sha256").select(*cols)
        assert got.exceptAll(truth).count() == 0 and truth.exceptAll(got).count() == 0, table
    assert counts["RE"] == counts["IR"] == RECEIPTS
    assert counts["HS"] >= RECEIPTS and counts["SS"] > RECEIPTS
    # Per record type, ingest counted the lines the truth holds: UK and GO once per file.
    shas = {r["file_sha256"] for r in ledger.collect()}
    recorded: dict[str, int] = {}
    for r in spark.read.format("delta").load(wh.ledger).collect():
        if r["file_sha256"] in shas:
            for record_type, n in r["record_counts"].items():
                recorded[record_type] = recorded.get(record_type, 0) + n
    assert recorded == {**counts, "UK": FILES, "GO": FILES}


def test_a_patients_dental_and_medical_receipts_carry_one_pid(spark, dental_set):
    """The linkage anonymize runs (ID1 / ID2 over receipts, HO and SN) gives every person who saw a dentist one
    pid over their 歯科 and 医科 receipts of both months."""
    root, wh = dental_set
    bronze = {t: spark.read.format("delta").load(wh.bronze(t)) for t in ("receipts", "insurances", "eligibility")}
    pids = link_patients(receipt_identities(bronze["receipts"], bronze["insurances"], bronze["eligibility"]),
                         TEST_KEY.material).select(F.col("node").alias("receipt_key"), "pid")
    truth = (spark.read.parquet(str(root / "seireki" / "_truth" / "dental" / "receipts"))
             .unionByName(spark.read.parquet(str(root / "seireki" / "_truth" / "receipts")), allowMissingColumns=True)
             .select("file", F.col("line_no").cast("int").alias("line_no"), "person_id"))
    files = _ledger(spark, wh, "seireki").unionByName(_ledger(spark, wh, "seireki", "medical"))
    received = (bronze["receipts"].join(files, "file_sha256").join(pids, "receipt_key")
                .join(truth, ["file", "line_no"]).select("person_id", "pid", "claim_kind"))
    per_person = received.groupBy("person_id").agg(F.countDistinct("pid").alias("pids"),
                                                   F.collect_set("claim_kind").alias("kinds"))
    both = per_person.where(F.array_contains("kinds", "dental") & F.array_contains("kinds", "medical"))
    assert both.count() > 10
    assert both.where(F.col("pids") != 1).count() == 0
