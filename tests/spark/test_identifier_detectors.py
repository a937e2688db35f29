"""The identifier detectors of validate (expectations/detectors.py) on literal values: one DataFrame per
detector family, one column per case, run through the same SQL the GX expectation runs; and real
master codes in their declared code columns, which must never trip a detector."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pytest

from expectations.checks import ScanColumn
from expectations.detectors import findings_sql
from expectations.from_policy import identifier_scan
from jobs.stages.release.policy_files import load_policy, policy_catalog
from synth.reference import LABS
from transforms.local import local_frame

REPO = Path(__file__).resolve().parents[2]


def _findings(spark, cases: dict[str, str | None], code: frozenset[str] = frozenset(),
              rows: list[tuple] | None = None, schema: str | None = None, births: tuple[str, ...] = ()):
    """{(column, detector): rows} found in a one-row table whose columns are `cases` (or in `rows`)."""
    if rows is None:
        rows, schema = [tuple(cases.values())], ", ".join(f"`{c}` string" for c in cases)
    df = local_frame(spark, rows, schema)
    view = "detector_cases"
    df.createOrReplaceTempView(view)
    scan = [ScanColumn(c, code=c in code) for c in cases]
    return {(r["column_name"], r["detector"]): r["row_count"]
            for r in spark.sql(findings_sql("cases", scan, births, source=view)).collect()}


def test_req12_mynumber_with_a_valid_check_digit_is_found_and_a_wrong_one_is_not(spark):
    cases = {
        "valid": "123456789018",
        "valid_in_text": "個人番号は987654321093です",
        "spaced": "1234 5678 9018",
        "hyphens": "1234-5678-9018",
        "full_width": "１２３４５６７８９０１８",
        "remainder_0_or_1_gives_0": "111111111118",
        "wrong_check": "123456789017",
        "wrong_check_2": "987654321090",
        "thirteen_digits": "1234567890185",
        "null": None,
    }
    assert _findings(spark, cases) == {
        ("valid", "mynumber"): 1, ("valid_in_text", "mynumber"): 1, ("spaced", "mynumber"): 1,
        ("hyphens", "mynumber"): 1, ("full_width", "mynumber"): 1, ("remainder_0_or_1_gives_0", "mynumber"): 1,
    }


def test_req11_insurer_numbers_with_their_check_digit_and_card_symbols(spark):
    cases = {
        "kyokai": "01130012",  # 協会けんぽ 東京
        "kumiai_in_text": "保険者番号 06130017",
        "kouki": "39130018",
        "wrong_check": "01130013",
        "unknown_houbetsu": "20240401",  # a date: 法別 20 is no 医療保険
        "kokuho": "133066",
        "kokuho_in_code_column": "133066",
        "kokuho_wrong_check": "133067",
        "card": "記号 1234 番号 5678",
        "card_full_width": "被保険者証の番号：１２３",
        "no_number": "記号なし",
    }
    assert _findings(spark, cases, code=frozenset({"kokuho_in_code_column"})) == {
        ("kyokai", "insurer_no"): 1, ("kumiai_in_text", "insurer_no"): 1, ("kouki", "insurer_no"): 1,
        ("kokuho", "kokuho_insurer_no"): 1, ("card", "card_symbol_number"): 1, ("card_full_width", "card_symbol_number"): 1,
    }


def test_req8_phone_numbers_landline_mobile_toll_free_with_or_without_hyphens(spark):
    cases = {
        "landline": "03-1234-5678",
        "landline_brackets": "045(123)4567",
        "landline_bare": "0312345678",
        "mobile": "連絡先 090-1234-5678",
        "mobile_bare": "08012345678",
        "ip_phone": "050-1234-5678",
        "toll_free": "0120-123-456",
        "toll_free_bare": "0120123456",
        "toll_free_0800": "0800-123-4567",
        "jlac10": "3B090000002327201",
        "date": "2024-01-15",
        "too_long": "090123456789",
        "amount": "12-34-5678",
    }
    assert _findings(spark, cases) == {
        ("landline", "phone"): 1, ("landline_brackets", "phone"): 1, ("landline_bare", "phone"): 1,
        ("mobile", "mobile"): 1, ("mobile_bare", "mobile"): 1, ("ip_phone", "mobile"): 1,
        ("toll_free", "toll_free"): 1, ("toll_free_bare", "toll_free"): 1, ("toll_free_0800", "toll_free"): 1,
    }


def test_req8_email(spark):
    cases = {"plain": "taro@example.jp", "full_width_at": "連絡は taro.y＠mail.example.co.jp まで",
             "no_domain": "taro@example", "unit": "10^3/uL", "at_only": "@ 検査室"}
    assert _findings(spark, cases) == {("plain", "email"): 1, ("full_width_at", "email"): 1}


def test_req6_full_postcode(spark):
    cases = {"mark": "〒100-0001", "mark_bare": "〒 1000001", "hyphen": "東京都 100-0001",
             "bare": "1000001", "inside_phone": "03-1234-5678", "three_digits": "100"}
    found = _findings(spark, cases)
    assert {k: v for k, v in found.items() if k[1] == "postcode"} == {
        ("mark", "postcode"): 1, ("mark_bare", "postcode"): 1, ("hyphen", "postcode"): 1}
    assert found[("inside_phone", "phone")] == 1


def test_req13_passport_and_pension_numbers(spark):
    cases = {"passport": "TK1234567", "passport_in_text": "旅券 ＡＢ1234567 所持", "three_letters": "ABC1234567",
             "eight_digits": "AB12345678", "one_letter": "A12345678", "pension": "1234-567890", "short": "1234-5678"}
    assert _findings(spark, cases) == {
        ("passport", "passport"): 1, ("passport_in_text", "passport"): 1, ("pension", "pension_no"): 1}


def test_req4_katakana_full_names_only_in_rows_that_carry_a_birth_date(spark):
    rows = [
        ("ヤマダ タロウ", "1980-01"),  # a name beside the birth year-month of the row
        ("ｽｽﾞｷ ﾊﾅｺ", "1975-12"),  # half-width
        ("サトウ　ジロウ 1980年1月2日生", None),  # the birth date written in the value itself
        ("タナカ イチロウ", None),  # no birth date in the row
        ("アルブミン", "1990-02"),  # one katakana word
        ("ＨＤＬ－コレステロール", "1990-02"),
        (None, "1990-02"),
    ]
    found = _findings(spark, {"note": None}, rows=rows, schema="note string, birth_ym string", births=("birth_ym",))
    assert found == {("note", "katakana_name"): 3}


def _master_codes(path: Path, field: int, n: int = 30) -> list[str]:
    """`n` codes spread over a 支払基金 基本マスター file (CP932 CSV, every field quoted)."""
    with path.open(encoding="cp932", newline="") as f:
        codes = [row[field] for row in csv.reader(f)]
    step = max(1, len(codes) // n)
    return codes[::step][:n]


def test_req8_req12_real_master_codes_in_their_code_columns_trip_no_detector(spark, shared_dir):
    masters = shared_dir / "reference" / "masters"
    columns = {
        "disease_code": ("diagnoses", _master_codes(masters / "b_20240601.txt", 2)),
        "procedure_code": ("procedures", _master_codes(masters / "s_ALL20220218.csv", 2)),
        "drug_code": ("drugs", _master_codes(masters / "y_ALL20240321.csv", 2)),
        "lab_code": ("labs", [lab.jlac10 for lab in LABS] + [lab.local_code for lab in LABS]),
    }
    policy, path = load_policy(REPO / "conf" / "policies" / "pseudonymized.yaml")
    catalog = policy_catalog({"clinical_layouts": policy.clinical_layouts}, path)
    scan = [s for c, (t, _) in columns.items() for s in identifier_scan(policy.tables[t], catalog[t]) if s.column == c]
    assert [s.column for s in scan] == list(columns) and all(s.shape and s.code for s in scan)
    values = [v for _, v in columns.values()]
    assert min(map(len, values)) >= 30
    rows = list(itertools.zip_longest(*values))
    df = local_frame(spark, rows, ", ".join(f"{c} string" for c in columns))
    df.createOrReplaceTempView("master_codes")
    assert spark.sql(findings_sql("codes", scan, source="master_codes")).collect() == []
    # the exemption is by shape, not by column: a phone number planted in lab_code is still found
    planted = local_frame(spark, [*rows, (None, None, None, "09012345678")], df.schema)
    planted.createOrReplaceTempView("master_codes_planted")
    found = spark.sql(findings_sql("codes", scan, source="master_codes_planted")).collect()
    assert [(r["column_name"], r["detector"], r["row_count"]) for r in found] == [("lab_code", "mobile", 1)]


@pytest.mark.parametrize("shape", ["", r"^([0-9][0-9A-Z]{16}|L[0-9]{4})$"])
def test_req8_jlac10_lab_codes_no_longer_look_like_mobile_numbers(spark, shape):
    """The bug on main: `0[789]0-?[0-9]{4}-?[0-9]{4}` matched inside 3B090000002327201 (γ-GT), so the
    仮名 demo release failed validation. Digit boundaries fix it even without the declared shape."""
    df = local_frame(spark, [(lab.jlac10,) for lab in LABS], "lab_code string")
    df.createOrReplaceTempView("jlac10")
    assert spark.sql(findings_sql("labs", [ScanColumn("lab_code", shape, True)], source="jlac10")).collect() == []
