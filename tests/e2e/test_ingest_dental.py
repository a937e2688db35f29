"""歯科 claim files (RECEIPTS.UKE) ingest beside 医科 ones, in both date systems (issue 20 items 1, 2).

The 歯科 files here are written by hand from the layout in docs/formats/dental.md (values invented),
not by the generator, so a layout mistake in transforms/uke/layout.py and in synth/ cannot cancel out.
The only public 歯科 sample found has no licence and is not committed (issue 20 note).
"""

from decimal import Decimal

import pytest
from helpers.keys import TEST_KEY
from pyspark.sql import functions as F

from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.pipeline import run_ingest

DAYS = [""] * 31


def _days(**on: int) -> list[str]:
    out = list(DAYS)
    for day, n in on.items():
        out[int(day[1:]) - 1] = str(n)
    return out


def _dental(ym: str, day: str, birth: str) -> bytes:
    """Two receipts of one 歯科 clinic; `ym`, `day`, `birth` in the file's date system."""
    additions = ["CB023", "1"] + [""] * 68
    lines = [
        ["UK", "1", "13", "3", "1234567", "", "テスト歯科医院", ym, "", "00"],
        ["IR", "1", "13", "3", "1234567", "", ym, "03-0000-0000", "0102"],
        ["RE", "1", "3112", ym, "テスト　花子", "2", birth, "70", "", day, "1", "", "", "", "", "A-12",
         "", "", "", "", "", "", "", "", "", "テストハナコ", ""],
        ["HO", "06132013", "ＡＢ", "1234", "2", "850", "", "", "", "", "2550", "", "", ""],
        ["JD", "1", *_days(d1=1, d8=1)],
        ["HS", "", "", "102600103600", "5220063", "", "", "", "", "01", "", "", ""],
        ["SS", "11", "", "301000110", "", "", *additions, "267", "1", *_days(d1=1)],
        ["SI", "80", "", "113000910", "", "44", "1", *_days(d8=1)],
        ["IY", "21", "", "620000001", "00003.00000", "5", "1", "1", *_days(d8=1)],
        ["TO", "80", "", "700720000", "1", "", "", "", "", "", "", "テスト器材", "22", "1", *_days(d8=1)],
        ["CO", "80", "", "820100001", "", "102600", "", "", "", "", ""],
        ["IR", "1", "13", "3", "1234567", "", ym, "03-0000-0000", "0102"],
        ["RE", "2", "3118", ym, "テスト　次郎", "1", birth, "90", "", "", "", "", "", "", "", "B-7",
         "", "", "", "", "", "", "", "", "", "テストジロウ", ""],
        ["HO", "39131015", "", "7654321", "1", "120", "", "", "", "", "120", "", "", ""],
        ["KO", "54136015", "1234566", "", "1", "120", "0", "0", "", ""],
        ["HS", "", "", "104600", "5220063", "", "", "1", "", "", "", "", ""],
        ["SS", "12", "", "301001610", "", "", *([""] * 70), "120", "1", *_days(d3=1)],
        ["GO", "2", "1584", "99"],
    ]
    return ("\r\n".join(",".join(f) for f in lines) + "\r\n").encode("cp932") + b"\x1a"


COUNTS = {"UK": 1, "IR": 2, "RE": 2, "HO": 2, "KO": 1, "JD": 1, "HS": 2, "SS": 2, "SI": 1, "IY": 1, "TO": 1,
          "CO": 1, "GO": 1}


@pytest.fixture(scope="module")
def dental(spark, tmp_path_factory, uke_sample):
    root = tmp_path_factory.mktemp("dental_in")
    (root / "seireki").mkdir()
    (root / "wareki").mkdir()
    (root / "seireki" / "RECEIPTS.UKE").write_bytes(_dental("202604", "20260401", "19800101"))
    (root / "wareki" / "RECEIPTS.UKE").write_bytes(_dental("50804", "5080401", "3550101"))
    (root / "RECEIPTC.UKE").write_bytes(uke_sample.read_bytes())
    wh = Warehouse(str(tmp_path_factory.mktemp("wh_dental") / "wh"))
    summary = run_ingest(spark, str(root), wh.root, key=TEST_KEY)
    ledger = {r["rel_path"]: r.asDict() for r in spark.read.format("delta").load(wh.ledger).collect()}
    return {"wh": wh, "summary": summary, "ledger": ledger}


def _table(spark, wh, name):
    return spark.read.format("delta").load(wh.bronze(name))


def test_a_dental_file_ingests_with_no_reject_and_exact_counts_per_record_type(spark, dental):
    for name in ("seireki/RECEIPTS.UKE", "wareki/RECEIPTS.UKE"):
        row = dental["ledger"][name]
        assert (row["claim_kind"], row["lines_rejected"], row["reconciled"]) == ("dental", 0, True), name
        assert row["record_counts"] == COUNTS, name
        assert row["lines_read"] == sum(COUNTS.values())
        assert (row["institution_code"], row["go_total_receipts"]) == ("1234567", 2)
    assert dental["ledger"]["RECEIPTC.UKE"]["claim_kind"] == "medical"
    assert _table(spark, dental["wh"], "_rejects").count() == 0


def test_dental_rows_share_the_claim_tables_and_say_their_kind(spark, dental):
    wh = dental["wh"]
    receipts = _table(spark, wh, "receipts")
    kinds = {r["claim_kind"]: r["count"] for r in receipts.groupBy("claim_kind").count().collect()}
    assert kinds == {"dental": 4, "medical": 75}
    hanako = receipts.where(F.col("chart_no") == "A-12").collect()
    for r in hanako:  # both date systems give the same values
        assert (r["service_month"].isoformat(), r["birth_date"].isoformat(), r["care_start_date"].isoformat()) == \
            ("2026-04-01", "1980-01-01", "2026-04-01")
        assert (r["receipt_type"], r["outcome"], r["kana_name"], r["beds"]) == ("3112", "1", "テストハナコ", None)
    assert len(hanako) == 2
    teeth = {r["tooth_codes"] for r in _table(spark, wh, "diagnoses").where(F.col("tooth_codes").isNotNull()).collect()}
    assert teeth == {"102600103600", "104600"}
    ko = _table(spark, wh, "public_expenses").where(F.col("public_copay").isNotNull()).collect()
    assert [(r["payer_no"], r["public_copay"]) for r in ko] == [("54136015", 0)] * 2
    drug = _table(spark, wh, "drugs").where(F.col("drug_category").isNotNull()).first()
    assert (drug["amount"], drug["points"], drug["drug_category"]) == (Decimal("3.00000"), 5, "1")
    tool = _table(spark, wh, "materials").where(F.col("material_code") == "700720000").first()
    assert (tool["points"], tool["count"], tool["product_name"]) == (22, 1, "テスト器材")


def test_dental_procedures_keep_their_additions_as_pairs(spark, dental):
    rows = _table(spark, dental["wh"], "dental_procedures").orderBy("file_sha256", "line_no").collect()
    assert len(rows) == 4
    first = [r for r in rows if r["procedure_code"] == "301000110"][0]
    assert [(a["code"], a["quantity"]) for a in first["additions"]] == [("CB023", 1)]
    assert (first["points"], first["count"], first["day_counts"][0]) == (267, 1, 1)
    second = [r for r in rows if r["procedure_code"] == "301001610"][0]
    assert second["additions"] == [] and second["points"] == 120
