"""調剤 claim files (RECEIPTY.CYO) ingest beside 医科 ones, in both date systems (issue 20 items 1, 2, 4).

The files are written by hand from docs/formats/pharmacy.md (tests/helpers/pharmacy.py); no public 調剤
file exists. The release side (pid shared with 医科, no identifier released) is in tests/e2e/test_run.py.
"""

import datetime as dt
from decimal import Decimal

import pytest
from helpers.keys import TEST_KEY
from helpers.pharmacy import Patient, linked_file, pharmacy_file, record_counts

from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.pipeline import run_ingest

INVENTED = {
    "seireki": [Patient("テスト　花子", "テストハナコ", "2", "19800101", "06132013", "ＡＢ", "1234", 250),
                Patient("テスト　次郎", "テストジロウ", "1", "19800101", "39131015", "", "7654321", 120)],
    "wareki": [Patient("テスト　花子", "テストハナコ", "2", "3550101", "06132013", "ＡＢ", "1234", 250),
               Patient("テスト　次郎", "テストジロウ", "1", "3550101", "39131015", "", "7654321", 120)],
}


@pytest.fixture(scope="module")
def pharmacy(spark, tmp_path_factory, uke_sample):
    root = tmp_path_factory.mktemp("pharmacy_in")
    for name in ("seireki", "wareki", "linked"):
        (root / name).mkdir()
    (root / "seireki" / "RECEIPTY.CYO").write_bytes(pharmacy_file("202605", "202604", "20260401", INVENTED["seireki"]))
    (root / "wareki" / "RECEIPTY.CYO").write_bytes(pharmacy_file("50805", "50804", "5080401", INVENTED["wareki"]))
    (root / "linked" / "RECEIPTY.CYO").write_bytes(linked_file())
    (root / "RECEIPTC.UKE").write_bytes(uke_sample.read_bytes())
    wh = Warehouse(str(tmp_path_factory.mktemp("wh_pharmacy") / "wh"))
    summary = run_ingest(spark, str(root), wh.root, key=TEST_KEY)
    ledger = {r["rel_path"]: r.asDict() for r in spark.read.format("delta").load(wh.ledger).collect()}
    return {"wh": wh, "summary": summary, "ledger": ledger}


def _table(spark, wh, name):
    return spark.read.format("delta").load(wh.bronze(name))


def test_a_pharmacy_file_ingests_with_no_reject_and_exact_counts_per_record_type(spark, pharmacy):
    for name in ("seireki/RECEIPTY.CYO", "wareki/RECEIPTY.CYO", "linked/RECEIPTY.CYO"):
        row = pharmacy["ledger"][name]
        assert (row["claim_kind"], row["lines_rejected"], row["reconciled"]) == ("pharmacy", 0, True), name
        assert row["record_counts"] == record_counts(2), name
        assert row["lines_read"] == sum(record_counts(2).values()), name
        assert (row["institution_code"], row["go_total_receipts"]) == ("4455667", 2), name
    assert pharmacy["ledger"]["RECEIPTC.UKE"]["claim_kind"] == "medical"
    assert _table(spark, pharmacy["wh"], "_rejects").count() == 0


def test_both_date_systems_read_the_same_dates(spark, pharmacy):
    wh = pharmacy["wh"]
    receipts = _table(spark, wh, "receipts").where("claim_kind = 'pharmacy'")
    by_file = {}
    for r in receipts.select("file_sha256", "service_month", "birth_date").collect():
        by_file.setdefault(r["file_sha256"], set()).add((r["service_month"], r["birth_date"]))
    assert sorted(map(sorted, by_file.values())) == sorted([
        [(dt.date(2026, 4, 1), dt.date(1980, 1, 1))], [(dt.date(2026, 4, 1), dt.date(1980, 1, 1))],
        [(dt.date(2021, 10, 1), dt.date(1991, 1, 25)), (dt.date(2021, 10, 1), dt.date(1991, 11, 21))]])
    dispensed = {r["dispensed_date"] for r in _table(spark, wh, "dispensings").collect()}
    assert dispensed == {dt.date(2026, 4, 1), dt.date(2021, 10, 15)}


def test_pharmacy_rows_share_the_claim_tables_and_carry_the_prescriber(spark, pharmacy):
    wh = pharmacy["wh"]
    receipts = _table(spark, wh, "receipts")
    kinds = {r["claim_kind"]: r["count"] for r in receipts.groupBy("claim_kind").count().collect()}
    assert kinds == {"pharmacy": 6, "medical": 75}
    first = receipts.where("claim_kind = 'pharmacy' AND receipt_no = 1").first()
    assert (first["prescriber_institution_code"], first["dispensing_record_no"]) == ("7654321", "CYO-000917")
    assert [d["name"] for d in first["prescriber_names"]] == ["処方医師　一郎", "処方医師　二郎"]
    assert first["institution_code"] == "4455667"  # the pharmacy, from YK
    assert first["service_month"] is not None and first["admission_date"] is None  # 医科-only column: null
    ho = _table(spark, wh, "insurances").where("prescription_count IS NOT NULL")
    assert ho.count() == 6 and {r["days"] for r in ho.collect()} == {None}
    drugs = _table(spark, wh, "drugs").where("single_dose IS NOT NULL").collect()
    assert len(drugs) == 6 and {(d["drug_code"], d["amount"]) for d in drugs} == {("620000001", Decimal("3.00000"))}


def test_repeated_fee_groups_keep_only_the_groups_written(spark, pharmacy):
    wh = pharmacy["wh"]
    cz = _table(spark, wh, "dispensings").collect()
    assert len(cz) == 6
    assert {tuple((a["burden_class"], a["code"], a["points"]) for a in r["additions"]) for r in cz} == {
        (("1", "420001010", 10),)}
    ki = _table(spark, wh, "pharmacy_fees").collect()
    assert {tuple(tuple(g) for g in r["management_fees"]) for r in ki} == {(("1", "420003010", 1, 45),)}
    assert all(r["base_additions"] == [] and r["base_code"] == "420000010" for r in ki)
    for table, n in (("prescriptions", 6), ("remarks", 3), ("split_dispensings", 3)):
        assert _table(spark, wh, table).count() == n, table

