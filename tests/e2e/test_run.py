"""`tokumei run` end to end on the real UKE file written outside this project (issue 2 acceptance), with
a small generated set beside it (the `uke_run` fixture).

Beside them lie hand-written 調剤, 歯科 and DPC files of patients of the real file (helpers/pharmacy.py,
helpers/dpc.py).
The file holds 75 receipts of a handful of patients, the generated set 30 receipts of 40 people: the
shipped (k, k^m) rule cannot hold on them (no item combination is shared by 10 patients), so the
shipped policy refuses the release, and the run that publishes uses the shipped policy without
params.km (k-anonymity over the demographics only)."""

import json

import pytest
from deltalake import DeltaTable
from helpers.dpc import IDENTIFIERS as DPC_IDENTIFIERS
from helpers.dpc import LINKED_DPC_POINTS
from helpers.pharmacy import DENTAL_IDENTIFIERS, DENTAL_POINTS, IDENTIFIERS, LINKED, LINKED_MEDICAL_POINTS
from helpers.pipeline import uke_run_receipts

from jobs import cli


@pytest.mark.slow
def test_req22_the_shipped_policy_refuses_a_release_it_cannot_make_km_anonymous(uke_run):
    """Too few patients for (k=10, m=2): refused with nothing staged or published under that id."""
    wh = uke_run.parents[1]
    assert not (wh / "releases" / "fixture-km").exists()
    assert not (wh / "staging" / "fixture-km" / "anonymize.json").exists()


@pytest.mark.slow
def test_req4_req11_req14_real_uke_file_runs_to_a_published_release(uke_run, uke_run_generated):
    manifest = json.loads((uke_run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["release_id"] == "fixture-1"
    receipts = DeltaTable(str(uke_run / "tables" / "receipts")).to_pyarrow_table()
    # every RE of the fixture (uke_format.md sample) and of the generated files
    assert receipts.num_rows == uke_run_receipts(uke_run_generated) == 75 + 2 + 1 + 2 + 30
    assert not {"name", "kana_name", "birth_date", "card_number", "chart_no"} & set(receipts.column_names)
    pids = [p for p in receipts.column("pid").to_pylist()]
    assert all(p and len(p) == 32 and set(p) <= set("0123456789abcdef") for p in pids)
    diagnoses = DeltaTable(str(uke_run / "tables" / "diagnoses")).to_pyarrow_table()
    assert set(diagnoses.column("pid").to_pylist()) <= set(pids)


@pytest.mark.slow
def test_publishing_the_same_release_id_again_is_refused(uke_run, capsys, monkeypatch):
    monkeypatch.delenv("TOKUMEI_KEY_DEMO", raising=False)  # refused before any key is looked up
    code = cli.main(["run", "--input", str(uke_run), "--warehouse", str(uke_run.parents[1]),
                     "--release-id", "fixture-1"])
    assert code == 1
    assert "already published" in capsys.readouterr().err


def _rows(release, table):
    return DeltaTable(str(release / "tables" / table)).to_pyarrow_table().to_pylist()


@pytest.mark.slow
def test_a_patients_pharmacy_dental_and_dpc_claims_carry_the_pid_of_their_medical_claims(uke_run):
    """Issue 20 item 4: the 調剤, 歯科 and DPC receipts of a patient of the real 医科 file join that patient's
    医科 receipts through the same ID1 / ID2 keys, so every kind carries one pid in the release."""
    receipts = {r["receipt_id"]: r for r in _rows(uke_run, "receipts")}
    pid_by_points: dict[int, set[str]] = {}
    for ho in _rows(uke_run, "insurances"):
        pid_by_points.setdefault(ho["points"], set()).add(ho["pid"])
    for patient in LINKED:
        (pid,) = pid_by_points[patient.points]
        medical = set().union(*(pid_by_points[p] for p in LINKED_MEDICAL_POINTS[patient.points]))
        assert medical == {pid}, patient.points
    assert pid_by_points[DENTAL_POINTS] == pid_by_points[LINKED[0].points]
    assert [pid_by_points[p] for p in LINKED_DPC_POINTS] == [pid_by_points[LINKED[0].points]] * 2
    linked = set().union(*(pid_by_points[p.points] for p in LINKED))
    kinds = sorted(r["claim_kind"] for r in receipts.values() if r["pid"] in linked)
    assert len(linked) == 2 and kinds == ["dental"] + ["dpc"] * 2 + ["medical"] * 3 + ["pharmacy"] * 2


@pytest.mark.slow
def test_req4_req9_req14_req20_no_pharmacy_prescriber_dental_or_dpc_identifier_is_released(uke_run):
    """The truth scan over the release of the 調剤, 歯科 and DPC files: no value of the pharmacy (code, name,
    phone), the prescribing institution (code, name, address), its doctors (names, 麻薬免許番号), the
    調剤録番号, the 歯科 clinic (code, name, phone, カルテ番号) or the DPC hospital (code, name, phone, カルテ番号,
    医療機関別係数, 死因 and 重症度 text) appears in any column of any table, nor in any file of the release;
    exact dates are months."""
    tables = sorted(p.name for p in (uke_run / "tables").iterdir())
    assert {"prescriptions", "dispensings", "pharmacy_fees", "remarks", "split_dispensings"} <= set(tables)
    found = []
    for table in tables:
        for row in _rows(uke_run, table):
            found += [(table, col, v) for col, value in row.items() for v in (*IDENTIFIERS, *DENTAL_IDENTIFIERS, *DPC_IDENTIFIERS) if v in str(value)]
    for path in uke_run.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".md", ".html", ".txt", ".csv", ".crc", ""):
            text = path.read_text(encoding="utf-8", errors="replace")
            found += [(str(path.relative_to(uke_run)), "", v) for v in (*IDENTIFIERS, *DENTAL_IDENTIFIERS, *DPC_IDENTIFIERS) if v in text]
    assert found == []
    dispensings = _rows(uke_run, "dispensings")
    assert len(dispensings) == len(LINKED)
    assert {(r.get("dispensed_date"), r["dispensed_month"], r["prescribed_month"]) for r in dispensings} == {(None, "2021-10", "2021-10")}


@pytest.mark.slow
def test_req18_req21_req22_a_dpc_claim_is_released_no_finer_than_the_release_levels(uke_run):
    """DPC detail that would undo a level the release chose is not released: the 診断群分類 and ICD-10 code
    (finer than the diagnosis level of (k, k^m)), 入院時年齢 / 月齢 and 出生時体重 (finer than the age band),
    the day-by-day 外泊 pattern and exact dates (months only)."""
    tables = {p.name for p in (uke_run / "tables").iterdir()}
    assert {"dpc_groups", "dpc_patient_basics", "dpc_care_events", "dpc_leaves", "dpc_inclusive_fees",
            "dpc_adjustments", "dpc_coding"} <= tables
    (group,) = _rows(uke_run, "dpc_groups")
    assert (group["admission_month"], group["discharge_month"], group["dpc_outcome"]) == ("2021-10", "2021-10", "2")
    assert not {"dpc_code", "admission_date", "discharge_date", "death_cause_text"} & set(group)
    (basics,) = _rows(uke_run, "dpc_patient_basics")
    assert basics["admission_route"] == "2"
    assert not {"age_at_admission", "months_at_admission", "birth_weight", "severity_text"} & set(basics)
    (leave,) = _rows(uke_run, "dpc_leaves")
    assert not {"leave_days", "dpc_code", "institution_coefficient"} & set(leave)
    diagnoses = _rows(uke_run, "diagnoses")
    assert "icd10_code" not in diagnoses[0] and {"01", "02"} <= {d["diagnosis_class"] for d in diagnoses}
    assert all("dpc_code" not in r for r in _rows(uke_run, "dpc_exclusions"))
    assert {r["performed_month"] for r in _rows(uke_run, "dpc_coding")} == {"2021-10"}
