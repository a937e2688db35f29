"""The staged release of the shared pipeline run (tests/e2e/conftest.py: generate -> ingest -> anonymize
-> validate with the shipped anonymized policy): the released `patients` table is k-anonymous over
params.quasi_identifiers, suppressed patients leave no row in any table, and patients never notified
are held back (issue 5 item 3 and acceptance 3; requirements 21-22, 43). The staged tables are read
with `deltalake`, without Spark."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pycanon.anonymity import k_anonymity

from jobs.stages.release.policy_files import load_policy
from jobs.stages.release.validate import chosen_labels
from transforms.release.qi_hierarchies import age_band_labels

QI = ["age_band", "sex", "area"]
K, LIMIT = 10, 0.05  # the shipped policy's k and suppression limit (conf/policies/anonymized.yaml)


@pytest.fixture(scope="module")
def staged(pipeline):
    record = pipeline.record()
    root = pipeline.staging / "tables"
    tables = {p.name: DeltaTable(str(p)).to_pyarrow_table() for p in sorted(root.iterdir())}
    return record, tables


@pytest.mark.slow
def test_req43_patients_never_notified_are_held_back_with_all_their_rows(staged):
    record, tables = staged
    wp = record["waiting_period"]
    assert wp["applied"] and wp["wait_days"] == 30 and wp["institutions_with_own_date"] == 1
    held = wp["patients_held_back"]
    assert held > 0 and record["counts"]["patients_held_back"] == held and wp["rows_held_back"]["receipts"] > 0
    for name in tables:  # held-back rows are counted as removed, nothing else is lost
        assert wp["rows_held_back"].get(name, 0) <= record["counts"]["records_removed"].get(name, 0), name
    m = record["kanon"]["metrics"]  # held back before k-anonymity: not counted in any class
    assert m["patients_before"] == tables["patients"].num_rows + record["kanon"]["suppressed_patients"]
    without_data = record["linkage"]["patients_without_data"]  # in a clinical master only: never released
    assert record["counts"]["patients_without_data"] == without_data
    assert record["linkage"]["patients"] == m["patients_before"] + held + without_data  # every linked patient


@pytest.mark.slow
def test_req21_every_quasi_identifier_combination_of_patients_holds_k(staged):
    record, tables = staged
    patients = tables["patients"].to_pandas()
    assert record["kanon"]["quasi_identifiers"] == QI and record["kanon"]["k"] == K
    sizes = Counter(tuple(r) for r in patients[QI].itertuples(index=False))
    assert len(patients) > 0 and min(sizes.values()) >= K
    assert k_anonymity(patients.fillna("∅"), QI) >= K  # independent check (pycanon)
    level = record["kanon"]["levels"]["age_band"]
    assert set(patients["age_band"].dropna()) <= set(age_band_labels(5, 90, level))  # the labels validation must accept


@pytest.mark.slow
def test_req21_req22_no_row_of_a_suppressed_patient_remains_in_any_table(staged):
    record, tables = staged
    kanon, counts = record["kanon"], record["counts"]
    released = set(tables["patients"].column("pid").to_pylist())
    assert kanon["suppressed_patients"] > 0 and kanon["suppressed_rows"]["receipts"] > 0  # the fixture suppresses
    written = {o["table"]: o["rows"] for o in record["outputs"]}
    for name, table in tables.items():
        assert table.num_rows == written[name]
        if "pid" in table.column_names:
            assert set(table.column("pid").to_pylist()) - {None} <= released, name
        removed = kanon["suppressed_rows"].get(name, 0)
        assert counts["rows_in"][name] - counts["records_removed"][name] == table.num_rows, name
        assert removed <= counts["records_removed"][name], name


@pytest.mark.slow
def test_req21_counts_add_up_and_the_record_holds_the_risk_metrics(staged):
    record, tables = staged
    kanon, m = record["kanon"], record["kanon"]["metrics"]
    released, suppressed = tables["patients"].num_rows, kanon["suppressed_patients"]
    held = record["counts"]["patients_held_back"]  # taken out before k-anonymity (req 43)
    assert record["tables"]["patients"]["rows_in"] - held == m["patients_before"] == released + suppressed
    assert record["counts"]["patients"] == released and record["counts"]["patients_suppressed"] == suppressed
    assert kanon["suppressed_rows"]["patients"] == suppressed <= LIMIT * m["patients_before"]
    assert m["suppressed_share"] == pytest.approx(suppressed / m["patients_before"])
    assert m["prosecutor_risk_max_before"] > m["prosecutor_risk_max_after"] and m["prosecutor_risk_max_after"] <= 1 / K
    assert 0 < m["share_below_k_before"] <= 1 and m["sample_uniques_before"] > 0 and m["sample_uniques_after"] == 0
    assert m["min_class_size"] >= K and m["average_class_size"] == pytest.approx(released / m["classes"])
    assert 0 < m["loss"] <= 1 and m["discernibility"] >= released
    step = record["processing_steps"]["5_dataset_properties"]
    assert step["status"] == "applied" and step["levels"] == kanon["levels"]
    births = record["tables"]["patients"]["columns"]["birth_date"]
    assert births["method"] == "age_band" and births["generalized"] > 0  # the rules' own stats are kept


@pytest.mark.slow
def test_req21_claim_columns_carrying_a_quasi_identifier_are_released_at_the_chosen_level(staged):
    """A join on pid must not undo the generalization of `patients`: receipts' sex, age band and facility
    prefecture hold only values of the level k-anonymity chose (the fixture generalizes age and area)."""
    record, tables = staged
    kanon = record["kanon"]
    carriers = kanon["carriers"]["receipts"]
    assert {c: v["quasi_identifier"] for c, v in carriers.items()} == {"age_band": "age_band", "sex": "sex", "pref_code": "area"}
    assert kanon["levels"]["age_band"] > 0  # else this test proves nothing (pref_code -> 地方: test_kanon_pipeline)
    policy, _ = load_policy(Path(record["policy"]["path"]))
    labels = chosen_labels(policy, kanon)
    receipts, patients = tables["receipts"].to_pandas(), tables["patients"].to_pandas()
    for col, info in carriers.items():
        assert set(receipts[col].dropna()) <= set(labels[info["quasi_identifier"]]), col
        assert info["level"] == kanon["levels"][info["quasi_identifier"]]
        if info["level"] > 0:  # every 5-year band of a claim became the chosen wider band
            assert info["cells_recoded"] == len(receipts) > 0, col
    joined = receipts.merge(patients, on="pid", suffixes=("", "_patient"))
    assert len(joined) == len(receipts)
    assert (joined["sex"] == joined["sex_patient"]).all()  # the claim's sex is the patient's, at the same level


@pytest.mark.slow
def test_req21_validation_checks_the_carriers_at_the_chosen_level(pipeline, staged):
    record, _ = staged
    assert pipeline.exit_codes["validate"] == 0  # `tokumei validate` passed the release
    result = json.loads((pipeline.staging / "validation" / "receipts.json").read_text(encoding="utf-8"))
    in_set = {e["kwargs"]["column"]: e for e in result["expectations"] if e["expectation_type"] == "expect_column_values_to_be_in_set"}
    assert set(in_set) >= {"age_band", "sex", "pref_code"} and all(e["success"] for e in in_set.values())
    policy, _ = load_policy(Path(record["policy"]["path"]))
    labels = chosen_labels(policy, record["kanon"])
    assert in_set["age_band"]["kwargs"]["value_set"] == list(labels["age_band"]) != list(age_band_labels(5, 90, 0))
    assert in_set["pref_code"]["kwargs"]["value_set"] == list(labels["area"])
