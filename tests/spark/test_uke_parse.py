import datetime as dt
from decimal import Decimal

import pytest

from transforms.local import local_frame
from transforms.uke.layout import LAYOUTS
from transforms.uke.parse import LINE_COLUMNS, parse_records, select_parsed, select_rejected

SHA = "a" * 64


def _parse(lines, layout):
    """Materialized like jobs/stages/ingest/uke.parse_to_scratch: a filter straight on the parse would be
    pushed into it and inline every field expression into one generated method."""
    return parse_records(lines, layout).localCheckpoint(eager=True)


def _lines(spark, texts, ordinal=1):
    rows = [(SHA, "/in/x.UKE", i + 2, ordinal, False, t, None, None) for i, t in enumerate(texts)]
    schema = ("file_sha256 string, file_path string, line_no long, receipt_ordinal long, after_go boolean, "
              "text string, undecodable string, raw_hex string")
    df = local_frame(spark, rows, schema)
    assert tuple(df.columns) == LINE_COLUMNS
    return df


def test_ho_is_parsed_by_position_with_padding_stripped_and_trailing_fields_omitted(spark):
    parsed = _parse(_lines(spark, ["HO,  133066,１２,３４５,1,13642", "HO,06132013,記号,番号,,,,,,,,,,,"]), LAYOUTS["HO"])
    rows = select_parsed(parsed, LAYOUTS["HO"]).orderBy("line_no").collect()
    assert [r.asDict() for r in rows] == [
        dict(receipt_key=f"{SHA}:000000001", file_sha256=SHA, line_no=2, insurer_no="133066", card_symbol="１２",
             card_number="３４５", days=1, points=13642, meal_count=None, meal_amount=None, occupational=None,
             certificate_no=None, copay_amount=None, reduction_class=None, reduction_rate=None, reduction_amount=None),
        dict(receipt_key=f"{SHA}:000000001", file_sha256=SHA, line_no=3, insurer_no="06132013", card_symbol="記号",
             card_number="番号", days=None, points=None, meal_count=None, meal_amount=None, occupational=None,
             certificate_no=None, copay_amount=None, reduction_class=None, reduction_rate=None, reduction_amount=None),
    ]


def test_si_days_become_an_array_of_31_and_full_width_numbers_are_ascii(spark):
    days = ",".join(["1", "", "２"] + [""] * 28)
    parsed = _parse(_lines(spark, [f"SI,11,1,111000110,,１２３,3,,,,,,,{days}"]), LAYOUTS["SI"])
    row = select_parsed(parsed, LAYOUTS["SI"]).first()
    assert row["points"] == 123 and row["count"] == 3 and row["procedure_code"] == "111000110"
    assert row["day_counts"] == [1, None, 2] + [None] * 28
    assert row["quantity"] is None and row["comment_text_1"] is None


def test_iy_amount_is_decimal_and_co_text_is_verbatim(spark):
    iy = _parse(_lines(spark, ["IY,21,1,620098801,00001.50000,12,1"]), LAYOUTS["IY"])
    assert select_parsed(iy, LAYOUTS["IY"]).first()["amount"] == Decimal("1.50000")
    co = _parse(_lines(spark, ["CO,22,2,810000001,　１日５回　右眼 ", "CO,,,810000001,"]), LAYOUTS["CO"])
    texts = [r["comment_text"] for r in select_parsed(co, LAYOUTS["CO"]).orderBy("line_no").collect()]
    assert texts == ["　１日５回　右眼 ", None]


def test_re_dates_and_names_in_both_date_systems(spark):
    re_old = "RE,3,1112,43101,テスト　太郎,1,3551121,,,,,,,00886"
    re_new = "RE,4,1112,202110,ﾃｽﾄ ﾊﾅｺ,2,19911121,,20211001"
    parsed = _parse(_lines(spark, [re_old, re_new]), LAYOUTS["RE"])
    rows = select_parsed(parsed, LAYOUTS["RE"]).orderBy("line_no").collect()
    assert [(r["receipt_no"], r["service_month"], r["birth_date"], r["name"], r["admission_date"], r["chart_no"])
            for r in rows] == [
        (3, dt.date(2019, 1, 1), dt.date(1980, 11, 21), "テスト　太郎", None, "00886"),
        (4, dt.date(2021, 10, 1), dt.date(1991, 11, 21), "ﾃｽﾄ ﾊﾅｺ", dt.date(2021, 10, 1), None),
    ]


@pytest.mark.parametrize(
    ("rtype", "text", "reason", "detail"),
    [
        ("SY", "SY,2500013,20211001,1,,,01,,x", "too_many_fields", "8 fields, layout SY has 7"),
        ("SY", "SY,2500013,4320101,1,,,01,", "impossible_date", "start_date"),
        ("SY", "SY,2500013,202110,1", "invalid_date", "start_date"),
        ("SI", "SI,11,1,111000110,,28a,1", "bad_number", "points"),
        ("SI", "SI,11,1,111000110,,28,1,,,,,,,1,,,四", "bad_number", "day_counts[4]"),
        ("SI", "SI,11,1,111000110,,28,1,,,,,,,1,12345678901", "bad_number", "day_counts[2]"),  # not an INT
        ("HO", "HO,06132013,1,2,99999999999", "bad_number", "days"),  # does not fit INT
    ],
)
def test_each_field_check_names_the_reason_and_the_column(spark, rtype, text, reason, detail):
    parsed = _parse(_lines(spark, [text]), LAYOUTS[rtype])
    rejected = [(r["reason"], r["detail"], r["raw_text"]) for r in select_rejected(parsed).collect()]
    assert rejected == [(reason, detail, text)]
    assert parsed.where("_problem is null").count() == 0


@pytest.mark.parametrize(("ordinal", "key"), [(7, f"{SHA}:000000007"), (1234567890, f"{SHA}:1234567890"), (0, None)])
def test_receipt_key_is_the_file_and_the_ordinal_padded_to_nine_digits(spark, ordinal, key):
    parsed = _parse(_lines(spark, ["SY,2500013,20211001,1"], ordinal=ordinal), LAYOUTS["SY"])
    assert [r["receipt_key"] for r in parsed.collect()] == [key]


def test_bigint_fields_hold_what_int_fields_cannot(spark):
    parsed = _parse(_lines(spark, ["HO,06132013,1,2,3,99999999999"]), LAYOUTS["HO"])
    assert select_parsed(parsed, LAYOUTS["HO"]).first()["points"] == 99999999999


def test_structural_checks_come_before_field_checks(spark):
    schema = ("file_sha256 string, file_path string, line_no long, receipt_ordinal long, after_go boolean, "
              "text string, undecodable string, raw_hex string")
    rows = [
        (SHA, "/x", 2, 0, False, "SY,2500013,bad,1", None, None),  # before any RE
        (SHA, "/x", 9, 1, True, "SY,2500013,20211001,1", None, None),  # after GO
        (SHA, "/x", 5, 1, False, "SY,2500013,\ufffd,1", "bytes that do not decode as CP932", "5359"),  # undecodable wins
    ]
    parsed = _parse(local_frame(spark, rows, schema), LAYOUTS["SY"])
    got = sorted((r["line_no"], r["reason"], r["raw_hex"]) for r in select_rejected(parsed).collect())
    assert got == [(2, "child_before_re", None), (5, "undecodable_bytes", "5359"), (9, "misplaced_record", None)]
    assert parsed.where("_problem is null").count() == 0
