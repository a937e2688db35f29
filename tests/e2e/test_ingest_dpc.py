"""DPC claim files (RECEIPTD.UKE) ingest beside 医科 ones, in both date systems (issue 20 items 1, 2, 4).

The files are written by hand from docs/formats/dpc.md (tests/helpers/dpc.py); no public DPC file exists.
A DPC file starts with IR like a 医科 file: ingest tells them apart by the DPC-only records (BU, SB, KK,
...), and reads its RE, HO and KO with the DPC layouts, whose fields from pos 18 on are not 医科's.
"""

import datetime as dt

import pytest
from helpers.dpc import (
    CHART_NO,
    COEFFICIENT,
    DISEASE,
    DPC_CODE,
    HOSPITAL_CODE,
    LEAVES,
    dpc_file,
    linked_dpc_file,
    record_counts,
)
from helpers.keys import TEST_KEY
from helpers.pharmacy import Patient
from pyspark.sql import functions as F

from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.pipeline import run_ingest

INVENTED = {
    "seireki": ("202605", "202604", [Patient("テスト　花子", "テストハナコ", "2", "19800101", "06132013", "ＡＢ", "1234", 0),
                                     Patient("テスト　次郎", "テストジロウ", "1", "19800101", "39131015", "", "7654321", 0)]),
    "wareki": ("50805", "50804", [Patient("テスト　花子", "テストハナコ", "2", "3550101", "06132013", "ＡＢ", "1234", 0),
                                  Patient("テスト　次郎", "テストジロウ", "1", "3550101", "39131015", "", "7654321", 0)]),
}
POINTS = [30100, 30200, 900]


@pytest.fixture(scope="module")
def dpc(spark, tmp_path_factory, uke_sample):
    root = tmp_path_factory.mktemp("dpc_in")
    for name, (billing, ym, patients) in INVENTED.items():
        (root / name).mkdir()
        (root / name / "RECEIPTD.UKE").write_bytes(dpc_file(billing, ym, patients, POINTS))
    (root / "linked").mkdir()
    (root / "linked" / "RECEIPTD.UKE").write_bytes(linked_dpc_file())
    (root / "RECEIPTC.UKE").write_bytes(uke_sample.read_bytes())
    wh = Warehouse(str(tmp_path_factory.mktemp("wh_dpc") / "wh"))
    summary = run_ingest(spark, str(root), wh.root, key=TEST_KEY)
    ledger = {r["rel_path"]: r.asDict() for r in spark.read.format("delta").load(wh.ledger).collect()}
    return {"wh": wh, "summary": summary, "ledger": ledger}


def _table(spark, wh, name):
    return spark.read.format("delta").load(wh.bronze(name))


def _of_dpc_files(spark, dpc, name):
    """The rows of table `name` from the DPC files (not from the real 医科 file beside them)."""
    shas = [r["file_sha256"] for r in dpc["ledger"].values() if r["claim_kind"] == "dpc"]
    return _table(spark, dpc["wh"], name).where(F.col("file_sha256").isin(*shas))


def test_a_dpc_file_is_told_from_a_medical_one_and_ingests_with_no_reject_and_exact_counts(spark, dpc):
    for name, patients in (("seireki/RECEIPTD.UKE", 2), ("wareki/RECEIPTD.UKE", 2), ("linked/RECEIPTD.UKE", 1)):
        row = dpc["ledger"][name]
        assert (row["claim_kind"], row["lines_rejected"], row["reconciled"]) == ("dpc", 0, True), name
        assert row["record_counts"] == record_counts(patients), name
        assert row["lines_read"] == sum(record_counts(patients).values()), name
        assert (row["institution_code"], row["go_total_receipts"]) == (HOSPITAL_CODE, patients + 1), name
    assert dpc["ledger"]["RECEIPTC.UKE"]["claim_kind"] == "medical"
    assert _table(spark, dpc["wh"], "_rejects").count() == 0


def test_both_date_systems_read_the_same_dates(spark, dpc):
    wh = dpc["wh"]
    invented = {r["file_sha256"] for r in _table(spark, wh, "receipts").where("claim_kind = 'dpc' AND birth_date = DATE'1980-01-01'").collect()}
    assert len(invented) == 2
    groups = _table(spark, wh, "dpc_groups").where(F.col("file_sha256").isin(*invented))
    assert {(r["admission_date"], r["discharge_date"]) for r in groups.collect()} == {(dt.date(2026, 4, 1), dt.date(2026, 4, 14))}
    assert groups.count() == 4
    coding = {r["performed_date"] for r in _table(spark, wh, "dpc_coding").collect()}
    assert coding == {dt.date(2026, 4, 10), dt.date(2021, 10, 10)}


def test_dpc_records_are_read_with_their_own_positions(spark, dpc):
    """DPC RE has レセプト総括区分 and 明細情報数 at pos 18-19 and one 診療科 set; HO and KO end with 標準負担額;
    SB and 医科 SY both feed `diagnoses`."""
    wh = dpc["wh"]
    receipts = _table(spark, wh, "receipts").where("claim_kind = 'dpc'").collect()
    assert len(receipts) == 8
    assert sorted(r["summary_class"] for r in receipts) == ["0"] * 5 + ["3"] * 3
    assert {(r["chart_no"], r["dept1_name"], r["dept2_name"], r["search_no"]) for r in receipts} == {(CHART_NO, "01", None, None)}
    assert {r["kana_name"] for r in receipts} == {"テストハナコ", "テストジロウ", "テストハンヨウ"}
    burdens = {r["standard_burden"] for r in _table(spark, wh, "insurances").where("copay_amount = 84000").collect()}
    assert burdens == {6440}
    assert [r["standard_burden"] for r in _table(spark, wh, "public_expenses").where("standard_burden IS NOT NULL").collect()] == [6440] * 3
    diagnoses = _of_dpc_files(spark, dpc, "diagnoses").collect()
    assert sorted((r["disease_code"], r["icd10_code"], r["diagnosis_class"]) for r in diagnoses) == sorted(
        [(DISEASE[0], DISEASE[1], "01")] * 5 + [("0000999", "J459", "02")] * 5 + [("2500013", None, None)] * 3)
    assert {r["dpc_code"] for r in _table(spark, wh, "dpc_groups").collect()} == {DPC_CODE}
    gt = _table(spark, wh, "dpc_adjustments").collect()
    assert {(r["adjustment_points"], r["month_points"], r["service_month"]) for r in gt if r["service_month"].year == 2026} == {
        (-120, 27880, dt.date(2026, 4, 1))}
    kk = _table(spark, wh, "dpc_patient_basics").collect()
    assert {(r["age_at_admission"], r["admission_route"]) for r in kk} == {(45, "2")}
    ga = _table(spark, wh, "dpc_leaves").collect()
    assert {(r["leave_days"], r["institution_coefficient"]) for r in ga} == {(LEAVES, COEFFICIENT)} and len(ga) == 3
    assert {r["period_points"] for r in _table(spark, wh, "dpc_inclusive_fees").collect()} == {2800}
    assert {r["section_no"] for r in _table(spark, wh, "dpc_care_events").collect()} == {"Ｋ６１５"}
    assert [r["dpc_code"] for r in _of_dpc_files(spark, dpc, "dpc_exclusions").collect()] == [DPC_CODE] * 3
