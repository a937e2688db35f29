"""停止の求め at every release (requirement 42(b), (c)): who the registry names now, and which patients,
rows and counts a release leaves out. Literal frames; the whole anonymize run is in tests/e2e/test_optout_release.py."""

import datetime as dt

import pytest
from pyspark.sql import functions as F

from jobs.stages.release.policy_files import load_policy
from transforms.identity.linkage import clinical_node
from transforms.identity.optout import (
    CONFIRMATION_COLUMN,
    identity_sources,
    opted_out_nodes,
    opted_out_receipts,
    with_registry_types,
)
from transforms.local import local_frame
from transforms.release.apply import DROP_ROW
from transforms.release.optout import FactCounts, fact_counts, opt_out, opted_out_pids
from transforms.release.patients import join_map

D = dt.date
INST = "1312345678"
RECEIPTS = [  # receipt_key, birth_date, sex, kana_name
    ("r1", D(1960, 5, 1), "1", "ヤマダ　タロウ"),  # 山田, old card
    ("r2", D(1960, 5, 1), "1", "ﾔﾏﾀﾞ ﾀﾛｳ"),  # 山田, new card (the registry names this one)
    ("r3", D(1975, 3, 3), "1", "サトウ　イチロウ"),  # 佐藤: the registry holds a near miss of his name
    ("r4", None, None, None),  # no identity at all
]
INSURANCES = [("r1", 3, "06130011", "１", "２３"), ("r2", 10, "01130012", "ab", "9"), ("r3", 21, "06130011", "１", "1234567")]
ELIGIBILITY = [("r1", 4, "1", "06130011", "１", "２３", "01")]
PATIENTS = [  # clinical: institution_code, patient_id, kana, birth, sex (M/F), no card
    (INST, "H001", "やまだ たろう", D(1960, 5, 1), "M"),
    (INST, "H002", "タカハシ　ジロウ", D(1988, 8, 8), "M"),
]
REGISTRY = [  # insurer_no, card_symbol, card_number, branch_no, birth_date, sex, kana_name, confirmation_doc
    ("01130012", "AB", "9", None, "1960-05-01", "男", None, "REQ-1.pdf"),  # 山田 by his new card only
    (None, None, None, None, "19880808", "M", "ﾀｶﾊｼ ｼﾞﾛｳ", "REQ-2.pdf"),  # 高橋 by kana, half-width
    (None, None, None, None, "1975-03-03", "1", "サトウ　イチロ", "REQ-3.pdf"),  # one kana short: no match (42(c))
]


def _registry_ids(spark, rows=REGISTRY):
    cols = "insurer_no string, card_symbol string, card_number string, branch_no string, birth_date string, " \
           "sex string, kana_name string, confirmation_doc string"
    typed = with_registry_types(local_frame(spark, rows, cols))
    return identity_sources(typed.drop("_bad", CONFIRMATION_COLUMN), [])


def _claims(spark):
    receipts = local_frame(spark, RECEIPTS, "receipt_key string, birth_date date, sex string, kana_name string")
    insurances = local_frame(spark,
        INSURANCES, "receipt_key string, line_no int, insurer_no string, card_symbol string, card_number string")
    eligibility = local_frame(spark, ELIGIBILITY, "receipt_key string, line_no int, burden_kind string, "
                                        "insurer_no string, card_symbol string, card_number string, branch_no string")
    return receipts, insurances, eligibility


def _patients(spark):
    rows = [(i, p, k, b, s, None, None, None, None) for i, p, k, b, s in PATIENTS]
    return local_frame(spark, rows, "institution_code string, patient_id string, kana_name string, birth_date date, "
                                       "sex string, insurer_no string, card_symbol string, card_number string, branch_no string")


def test_req42_registry_names_receipts_and_clinical_patients_exactly(spark):
    nodes = opted_out_nodes(*_claims(spark), _patients(spark), _registry_ids(spark))
    got = sorted(r["node"] for r in nodes.collect())
    h002 = spark.range(1).select(clinical_node(F.lit(INST), F.lit("H002")).alias("n")).first()["n"]
    # r1 (山田's old card) is not named by the registry itself: his pid takes it out (next test).
    assert got == sorted(["r2", h002])


def test_req42c_a_near_miss_of_a_name_is_not_matched(spark):
    receipts, _, _ = _claims(spark)
    only_sato = [REGISTRY[2]]
    assert opted_out_receipts(receipts, None, None, _registry_ids(spark, only_sato)).count() == 0
    exact = [(None, None, None, None, "1975-03-03", "1", "ｻﾄｳ ｲﾁﾛｳ", "REQ-4.pdf")]
    assert [r["receipt_key"] for r in opted_out_receipts(receipts, None, None, _registry_ids(spark, exact)).collect()] == ["r3"]


def test_req42_receipts_without_insurance_tables_still_match_by_kana(spark):
    receipts, insurances, _ = _claims(spark)
    ids = _registry_ids(spark, [(None, None, None, None, "1960-05-01", "1", "ヤマダ タロウ", "REQ-5.pdf")])
    assert sorted(r["receipt_key"] for r in opted_out_receipts(receipts, None, None, ids).collect()) == ["r1", "r2"]
    card = _registry_ids(spark, [REGISTRY[0]])
    assert [r["receipt_key"] for r in opted_out_receipts(receipts, insurances, None, card).collect()] == ["r2"]


def _pid_map(spark):
    """r1, r2 and the clinical H001 are one patient (aa); r3 is bb, H002 cc, r4 dd."""
    h = {p: spark.range(1).select(clinical_node(F.lit(INST), F.lit(p)).alias("n")).first()["n"] for p in ("H001", "H002")}
    rows = [("r1", "aa"), ("r2", "aa"), (h["H001"], "aa"), ("r3", "bb"), (h["H002"], "cc"), ("r4", "dd")]
    return join_map(local_frame(spark, rows, "node string, pid string"))


def test_req42b_a_named_record_takes_out_every_record_linked_to_its_patient(spark):
    nodes = opted_out_nodes(*_claims(spark), _patients(spark), _registry_ids(spark))
    assert sorted(r["pid"] for r in opted_out_pids(_pid_map(spark), nodes).collect()) == ["aa", "cc"]


def test_req42b_counts_in_one_pass_with_a_none_row(spark):
    facts = local_frame(spark, [("aa", D(2025, 1, 1)), ("bb", D(2025, 2, 1)), ("cc", None), ("ee", None)],
                                  "pid string, first_service date")
    opted = local_frame(spark, [("aa",), ("cc",)], "pid string")
    assert fact_counts(facts, opted) == FactCounts(without_data=2, patients_in=2, opted_out=1)
    assert fact_counts(facts, None) == FactCounts(without_data=2, patients_in=2, opted_out=0)


@pytest.fixture(scope="module")
def policy():
    return load_policy("conf/policies/pseudonymized.yaml")[0]


def test_req42b_release_frames_flag_every_row_of_opted_out_patients(spark, policy):
    facts = local_frame(spark, [("aa", D(2025, 1, 1)), ("bb", D(2025, 2, 1)), ("cc", D(2025, 2, 1))],
                                  "pid string, first_service date")
    diagnoses = local_frame(spark, [("r1", "aa", "2500015"), ("r2", "aa", "8833421"), ("r3", "bb", "8833421"),
                                       ("r4", None, "8833421")], "receipt_key string, pid string, disease_code string")
    opted = local_frame(spark, [("aa",)], "pid string")
    frames, stage = opt_out({"patient_facts": facts, "diagnoses": diagnoses}, policy, opted, fact_counts(facts, opted))
    assert sorted(r["pid"] for r in frames["patient_facts"].collect()) == ["bb", "cc"]
    flagged = {(r["receipt_key"], r[DROP_ROW], r["__removed_by_optout"]) for r in frames["diagnoses"].collect()}
    assert flagged == {("r1", True, True), ("r2", True, True), ("r3", False, False), ("r4", False, False)}
    stats = stage.table_stats({"patients": {"rows_in": 2, "rows_removed": 0},
                               "diagnoses": {"rows_in": 4, "rows_removed": 2, "rows_removed_by": {"optout": 2}}})
    assert stats["patients"] == {"rows_in": 3, "rows_removed": 1, "rows_removed_by": {"optout": 1}}
    record = stage.record(released=2, held_back=0, suppressed=0, tables=stats)
    assert record == {"applied": True, "patients_in": 3, "patients_opted_out": 1, "patients_held_back": 0,
                      "patients_suppressed": 0, "patients_after": 2, "reconciled": True,
                      "rows_removed": {"patients": 1, "diagnoses": 2}}
    assert stage.record(released=3, held_back=0, suppressed=0, tables=stats)["reconciled"] is False


def test_req42_without_registry_nothing_is_flagged_and_the_record_says_not_applied(spark, policy):
    facts = local_frame(spark, [("aa", D(2025, 1, 1))], "pid string, first_service date")
    frames, stage = opt_out({"patient_facts": facts}, policy, None, fact_counts(facts, None))
    assert frames["patient_facts"] is facts
    assert stage.record(1, 0, 0, {})["applied"] is False
