"""The GX suite built from TableChecks passes clean tables and fails each kind of defect."""

import pytest

from expectations.checks import ScanColumn, TableChecks
from expectations.gx_suite import run_checks
from transforms.local import local_frame

PID = "a" * 64
ROWS = [(PID, "1", "1950-02", "130", "頭痛"), ("b" * 64, "2", None, None, None), ("c" * 64, "1", "1999-12", "600", "熱")]
SCHEMA = "pid string, sex string, birth_ym string, postal3 string, note string"
BASE = TableChecks(
    table="patients",
    columns=("pid", "sex", "birth_ym", "postal3", "note"),
    forbidden_columns=("name", "kana_name"),
    pseudonyms=("pid",),
    regex={"birth_ym": r"^[0-9]{4}-(0[1-9]|1[0-2])$", "postal3": r"^[0-9]{3}$"},
    identifier_scan=(ScanColumn("note"),),
    birth_columns=("birth_ym",),
    value_sets={"sex": ("1", "2")},
)


def _success(spark, rows, checks=BASE, schema=SCHEMA):
    df = local_frame(spark, rows, schema)
    result = run_checks({"patients": (df, checks)})["patients"]
    failed = sorted(e["expectation_type"] for e in result["expectations"] if not e["success"])
    return result["success"], failed


def test_clean_table_passes(spark):
    assert _success(spark, ROWS) == (True, [])


def test_req4_a_leaked_name_column_fails_the_column_set(spark):
    rows = [r + ("山田太郎",) for r in ROWS]
    ok, failed = _success(spark, rows, schema=SCHEMA + ", name string")
    assert not ok and failed == ["expect_table_columns_to_match_set"]


@pytest.mark.parametrize(
    ("index", "value", "expectation"),
    [
        (0, "xyz", "expect_column_values_to_match_regex"),
        (0, None, "expect_column_values_to_not_be_null"),
        (2, "1950-02-03", "expect_column_values_to_match_regex"),
        (3, "130-0001", "expect_column_values_to_match_regex"),
        (1, "9", "expect_column_values_to_be_in_set"),
        (4, "連絡先 03-1234-5678", "expect_no_identifier_values"),
        (4, "taro@example.jp", "expect_no_identifier_values"),
    ],
)
def test_req6_req7_req8_each_defect_fails_its_expectation(spark, index, value, expectation):
    rows = [tuple(value if i == index else v for i, v in enumerate(ROWS[0])), *ROWS[1:]]
    ok, failed = _success(spark, rows)
    assert not ok and expectation in failed


def test_req21_groups_below_k_and_req18_rare_codes_fail(spark):
    checks = TableChecks(
        table="patients",
        columns=("pid", "sex", "code"),
        min_group_size=(("sex",), 2),
        min_patients_per_code=(("code", "pid", 2),),
    )
    rows = [("p1", "1", "A"), ("p2", "1", "A"), ("p3", "2", "B")]
    ok, failed = _success(spark, rows, checks, "pid string, sex string, code string")
    assert not ok and failed == ["expect_codes_held_by_at_least_t_patients", "expect_quasi_identifier_groups_of_at_least_k"]
    rows = [("p1", "1", "A"), ("p2", "1", "A"), ("p3", "2", "A"), ("p4", "2", "A")]
    assert _success(spark, rows, checks, "pid string, sex string, code string") == (True, [])


def test_req21_classes_without_l_distinct_sensitive_values_fail(spark):
    checks = TableChecks(table="patients", columns=("pid", "sex", "dx"), min_diversity=(("sex",), "dx", 2))
    schema = "pid string, sex string, dx string"
    rows = [("p1", "1", "A"), ("p2", "1", None), ("p3", "2", "B"), ("p4", "2", "C")]
    assert _success(spark, rows, checks, schema) == (True, [])  # null is a value of its own, as in the search
    rows = [("p1", "1", "A"), ("p2", "1", "A"), ("p3", "2", "B"), ("p4", "2", "C")]
    ok, failed = _success(spark, rows, checks, schema)
    assert not ok and failed == ["expect_sensitive_values_diverse_in_every_class"]


def test_req28_results_carry_no_unexpected_values(spark):
    rows = [(PID, "1", "1950-02", "130", "山田太郎 090-1234-5678"), *ROWS[1:]]
    df = local_frame(spark, rows, SCHEMA)
    result = run_checks({"patients": (df, BASE)})["patients"]
    assert "090-1234-5678" not in str(result) and "山田" not in str(result)




def _identifier_result(spark, note):
    rows = [(PID, "1", "1950-02", "130", note), *ROWS[1:]]
    result = run_checks({"patients": (local_frame(spark, rows, SCHEMA), BASE)})["patients"]
    return next(e for e in result["expectations"] if e["expectation_type"] == "expect_no_identifier_values"), result


def test_req12_a_valid_mynumber_fails_validation_and_lists_where_never_the_value(spark):
    found, result = _identifier_result(spark, "個人番号 123456789018")
    assert not found["success"] and not result["success"]
    assert found["result"]["details"]["findings"] == [{"table": "patients", "column": "note", "detector": "mynumber", "rows": 1}]
    assert "123456789018" not in str(result) and "個人番号 1" not in str(result)


def test_req12_the_same_digits_with_a_wrong_check_digit_pass(spark):
    found, result = _identifier_result(spark, "個人番号 123456789017")
    assert found["success"] and result["success"]
    assert found["result"]["details"]["findings"] == []
