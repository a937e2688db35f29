"""End-to-end ingest of the real UKE fixture, its encoding variants, the corrupt corpus and a volume set.

One module fixture makes three deliveries into one warehouse (the Spark jobs dominate the cost, not the
files): everything, the same files again, then a corrected file under an earlier name. It records what
each left; the tests only read it. The first delivery is also the issue's case of two ingests into one
new warehouse (issue 19 item 5; both used to fail with DELTA_PROTOCOL_CHANGED): while it holds the
warehouse's lock, `python -m jobs.ingest` of the same input starts as a second OS process and must
refuse at once naming it; only this process runs Spark.
"""

import datetime as dt
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from helpers.keys import TEST_KEY, TEST_KEY_TEXT
from helpers.locks import live_holder
from pyspark.sql import functions as F

import jobs.ingest
from jobs.runtime.lock import warehouse_lock
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.pipeline import run_ingest
from transforms.uke.layout import LAYOUTS
from transforms.uke.read import FOREIGN_UTF8

REPO = Path(__file__).resolve().parents[2]
BAD = Path(__file__).parent / "data" / "uke_bad"
GOOD = Path(__file__).parent / "data" / "uke_good"
TABLES = [layout.table for layout in LAYOUTS.values() if layout.table]
FIXTURE_COUNTS = {"RE": 75, "HO": 69, "KO": 71, "SN": 2, "SY": 9, "SI": 320, "IY": 32, "CO": 56, "IR": 1, "GO": 1}

# file -> {line_no: reason}: what the corrupt corpus must produce, line by line.
EXPECTED_REJECTS = {
    "01_unknown_record_type.UKE": {4: "unknown_record_type"},
    "02_too_many_fields.UKE": {4: "too_many_fields"},
    "03_invalid_date_shape.UKE": {4: "invalid_date"},
    "04_impossible_date_seireki.UKE": {4: "impossible_date"},
    "05_impossible_era_heisei32.UKE": {2: "impossible_date", 3: "parent_rejected", 4: "parent_rejected", 5: "parent_rejected"},
    "06_impossible_era_reiwa0.UKE": {4: "impossible_date"},
    "07_impossible_era_showa64_month13.UKE": {4: "impossible_date"},
    "08_child_before_re.UKE": {2: "child_before_re"},
    "09_undecodable_bytes.UKE": {4: "undecodable_bytes"},
    "10_bad_number_points.UKE": {5: "bad_number"},
    "11_record_after_go.UKE": {6: "misplaced_record"},
    "12_empty_line.UKE": {4: "empty_line"},
    "13_second_ir.UKE": {5: "misplaced_record"},
    "14_bad_day_column.UKE": {5: "bad_number"},
    "15_re_rejected_children_follow.UKE": {2: "bad_number", 3: "parent_rejected", 4: "parent_rejected", 5: "parent_rejected"},
    "16_unknown_era_code.UKE": {4: "invalid_date"},
    "17_impossible_service_month.UKE": {2: "impossible_date", 3: "parent_rejected", 4: "parent_rejected"},
    "18_eof_mark_mid_file.UKE": {4: "empty_line"},
    "19_utf8_line_in_cp932_file.UKE": {4: "undecodable_bytes"},  # one line of another encoding
    # 調剤 and 歯科 (issue 20): hand-written from docs/formats/pharmacy.md and dental.md
    "20_pharmacy_bad_number_in_fee_group.CYO": {5: "bad_number"},  # KI 薬学管理料1 点数 "4x"
    "21_pharmacy_impossible_dispensed_date.CYO": {4: "impossible_date"},  # CZ 調剤年月日 2021-13-32
    "22_dental_ss_too_many_fields.UKE": {5: "too_many_fields"},
    "23_pharmacy_second_yk.CYO": {4: "misplaced_record"},
    "24_pharmacy_dental_record.CYO": {4: "unknown_record_type"},  # 歯科 SS in a 調剤 file
    # DPC (issue 20): hand-written from docs/formats/dpc.md (tests/helpers/dpc.py)
    "25_dpc_impossible_discharge_date.UKE": {5: "impossible_date"},  # BU 今回退院年月日 2026-04-31
    "26_dpc_sb_too_many_fields.UKE": {6: "too_many_fields"},
    "27_dpc_bad_signed_number_in_gt.UKE": {10: "bad_number"},  # GT 調整点数 "－1x0"
    "28_dpc_pharmacy_record.UKE": {12: "unknown_record_type"},  # 調剤 CZ in a DPC file
}


def _volume(no: str, go: str, receipt: int) -> bytes:
    lines = [f"IR,1,13,1,1234567,,テスト医院,202110,{no}", f"RE,{receipt},1112,202110,試験　花子,2,19900101",
             "HO,06132013,１,２,1,100", "SY,2500013,20211001,1,,,01", f"GO,,,{go}" if go != "99" else "GO,2,200,99"]
    return ("\r\n".join(lines) + "\r\n").encode("cp932")


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory, uke_sample):
    root = tmp_path_factory.mktemp("ingest_in")
    shutil.copy(uke_sample, root / "RECEIPTC_GAIRAI_SAMPLE.UKE")
    shutil.copytree(BAD, root / "bad")
    shutil.copytree(GOOD, root / "good")
    text = uke_sample.read_bytes().decode("cp932")
    variants = root / "variants"
    variants.mkdir()
    (variants / "utf8.UKE").write_bytes(text.encode("utf-8"))
    (variants / "lf_eof.txt").write_bytes(text.replace("\r\n", "\n").encode("cp932") + b"\x1a")
    (variants / "copy_of_sample.dat").write_bytes(uke_sample.read_bytes())  # same sha256: ingested once
    (root / "volumes").mkdir()
    (root / "volumes" / "RECEIPTC.001").write_bytes(_volume("01", "01", 1))
    (root / "volumes" / "RECEIPTC.002").write_bytes(_volume("02", "99", 2))
    (root / "notes.txt").write_text("not a claim file", encoding="utf-8")
    (root / "versioned").mkdir()
    versioned = root / "versioned" / "RECEIPTC.UKE"
    versioned.write_bytes(_volume("00", "99", 1))
    wh = Warehouse(str(tmp_path_factory.mktemp("wh") / "wh"))  # a new warehouse: not even its folder exists
    first = f"tokumei ingest --input {root}"
    with warehouse_lock(wh, first):  # delivery 1 holds the lock from here (run_ingest re-enters it)
        env = {**os.environ, "TOKUMEI_KEY_DEMO": TEST_KEY_TEXT}  # the key is checked before the lock
        second = subprocess.run([sys.executable, "-m", "jobs.ingest", "--input", str(root), "--warehouse", wh.root,
                                 "--allow-unrecognized"],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        left_by_second = sorted(str(p.relative_to(wh.root)) for p in Path(wh.root).rglob("*"))
        summary = run_ingest(spark, str(root), wh.root, key=TEST_KEY, allow_unrecognized=True)
    ledger = {r["rel_path"]: r.asDict() for r in spark.read.format("delta").load(wh.ledger).collect()}

    def counts() -> dict[str, int]:
        return {t: _table(spark, wh, t).count() for t in [*TABLES, "_rejects", "_files"]}

    # Delivery 2: the same files again.
    before = counts()
    again = run_ingest(spark, str(root), wh.root, key=TEST_KEY, allow_unrecognized=True)
    after = counts()
    # Delivery 3: a corrected re-delivery of the same claim batch under the same name.
    versioned.write_bytes(_volume("00", "99", 1).replace("試験　花子".encode("cp932"), "試験　華子".encode("cp932")))
    corrected = run_ingest(spark, str(root), wh.root, key=TEST_KEY, allow_unrecognized=True)
    versions = sorted((r.asDict() for r in _table(spark, wh, "_files").where(F.col("path") == str(versioned)).collect()),
                      key=lambda r: r["version"])
    shas = [ledger["versioned/RECEIPTC.UKE"]["file_sha256"], *(r["file_sha256"] for r in versions[1:])]
    names = [r["name"] for r in _table(spark, wh, "receipts").where(F.col("file_sha256").isin(*shas)).collect()]
    return {"root": root, "wh": wh, "summary": summary, "ledger": ledger, "uke_sample": uke_sample,
            "second": second, "left_by_second": left_by_second, "first": first,
            "again": {"summary": again, "before": before, "after": after},
            "corrected": {"summary": corrected, "versions": versions, "names": names}}


def _table(spark, wh, name):
    return spark.read.format("delta").load(wh.bronze(name))


def test_two_ingests_into_a_new_warehouse_one_ingests_the_other_refuses_naming_it(ingested):
    second, lock = ingested["second"], Path(ingested["wh"].root) / "_locks" / "bronze.lock"
    assert second.returncode == 1, second.stderr
    for part in ("tokumei: refused:", ingested["first"], f"pid {os.getpid()}", str(lock), "何も変更していません"):
        assert part in second.stderr, part
    assert "Traceback" not in second.stderr and "DELTA_" not in second.stderr
    assert ingested["left_by_second"] == ["_locks", "_locks/bronze.lock"]  # the holder's lock, nothing else
    assert ingested["ledger"]["RECEIPTC_GAIRAI_SAMPLE.UKE"]["record_counts"]["RE"] == 75  # the first ingested
    assert not lock.exists()


def test_an_ingest_refused_by_a_running_one_touches_nothing(spark, ingested, tmp_path, monkeypatch, capsys):
    wh = tmp_path / "wh"
    shutil.copytree(ingested["wh"].root, wh)
    monkeypatch.setenv("TOKUMEI_KEY_DEMO", TEST_KEY_TEXT)

    def files() -> dict[str, tuple[int, int]]:
        return {str(p.relative_to(wh)): (p.stat().st_size, p.stat().st_mtime_ns) for p in wh.rglob("*")}

    with live_holder(wh / "_locks" / "bronze.lock", "tokumei ingest --input /data/2026-04") as running:
        before = files()
        assert jobs.ingest.main(["--input", str(GOOD), "--warehouse", str(wh)]) == 1  # new files: it would write
        assert files() == before
    err = capsys.readouterr().err
    assert "tokumei ingest --input /data/2026-04" in err and f"pid {running.pid}" in err and "何も変更していません" in err


def test_fixture_ingests_with_zero_rejects_and_exact_counts(ingested):
    row = ingested["ledger"]["RECEIPTC_GAIRAI_SAMPLE.UKE"]
    assert row["lines_rejected"] == 0 and row["lines_read"] == row["lines_parsed"] == 636
    assert dict(row["record_counts"]) == FIXTURE_COUNTS
    assert (row["institution_code"], row["pref_code"], row["payer_kind"], str(row["billing_month"])) == (
        "0000000", "12", "1", "2021-11-01")
    assert (row["encoding"], row["line_end"], row["eof_mark"], row["version"]) == ("cp932", "crlf", False, 1)
    assert (row["go_total_receipts"], row["go_total_points"], row["go_volume_no"]) == (140, 86392, "99")


def test_ingest_leaves_no_temporary_view_in_the_session(spark, ingested):
    """The parse queries name their input by temporary views of the run (jobs/stages/ingest/uke.py); the
    run drops them, whatever happened, so a long-lived session (a notebook, a Connect server) keeps none."""
    assert ingested["summary"]["lines_parsed"] > 0
    # SHOW VIEWS, not spark.catalog.listTables(): that decodes every table and view of the session, and
    # failed on one that another test left (EXPRESSION_DECODING_FAILED in the whole run)
    assert spark.sql("SHOW VIEWS LIKE 'tokumei_uke_*'").collect() == []


def test_every_child_hangs_off_the_re_before_it_in_the_raw_file(spark, ingested):
    wh, sha = ingested["wh"], ingested["ledger"]["RECEIPTC_GAIRAI_SAMPLE.UKE"]["file_sha256"]
    raw = ingested["uke_sample"].read_bytes().decode("cp932").split("\r\n")
    owner, current = {}, None
    for no, line in enumerate(raw, start=1):
        if line.startswith("RE,"):
            current = int(line.split(",")[1])
        owner[no] = current
    receipts = _table(spark, wh, "receipts").where(F.col("file_sha256") == sha).select("receipt_key", "receipt_no")
    for table in TABLES:
        if table == "receipts":
            continue
        rows = (_table(spark, wh, table).where(F.col("file_sha256") == sha)
                .join(receipts, "receipt_key", "left").select("line_no", "receipt_no").collect())
        assert all(r["receipt_no"] == owner[r["line_no"]] for r in rows), table
    # A few by hand: RE 4 (都ぞ弥生 美波, 公費単独) owns the KO on the next line and the SI after it.
    ko = _table(spark, wh, "public_expenses").where(F.col("file_sha256") == sha).join(receipts, "receipt_key")
    assert [(r["receipt_no"], r["payer_no"], r["recipient_no"], r["points"]) for r in ko.where("line_no = 57").collect()] == [
        (4, "12143210", "0000000", 431)]
    re4 = _table(spark, wh, "receipts").where(F.col("file_sha256") == sha).where("receipt_no = 4").first()
    assert (re4["line_no"], re4["name"], re4["kana_name"], str(re4["birth_date"])) == (56, "都ぞ弥生　美波", "ミヤコゾヤヨイミナミ", "2021-01-27")
    co = _table(spark, wh, "comments").where(F.col("file_sha256") == sha).where("line_no = 11").first()
    assert (co["comment_text"], co["receipt_key"]) == ("疼痛時", f"{sha}:000000001")


def test_utf8_lf_and_eof_variants_give_the_same_records(ingested):
    ledger = ingested["ledger"]
    for rel, encoding, line_end, eof in [("variants/utf8.UKE", "utf-8", "crlf", False),
                                         ("variants/lf_eof.txt", "cp932", "lf", True)]:
        row = ledger[rel]
        assert (row["encoding"], row["line_end"], row["eof_mark"]) == (encoding, line_end, eof), rel
        assert dict(row["record_counts"]) == FIXTURE_COUNTS and row["lines_rejected"] == 0, rel
        evidence = dict(kv.split("=") for kv in row["encoding_evidence"].split(","))
        assert (evidence["non_utf8_lines"] == "0") == (encoding == "utf-8"), rel
    assert "variants/copy_of_sample.dat" not in ledger and "notes.txt" not in ledger
    assert ingested["summary"]["files_unrecognized"] == 1


def test_corrupt_corpus_lands_in_rejects_with_reasons_and_good_lines_ingest(spark, ingested):
    wh, ledger = ingested["wh"], ingested["ledger"]
    rejects = spark.read.format("delta").load(wh.rejects).collect()
    by_sha = {row["file_sha256"]: rel for rel, row in ledger.items()}
    got: dict[str, dict[int, str]] = {}
    for r in rejects:
        got.setdefault(by_sha[r["file_sha256"]].removeprefix("bad/"), {})[r["line_no"]] = r["reason"]
    assert got == EXPECTED_REJECTS
    assert len(EXPECTED_REJECTS) >= 15 and {"undecodable_bytes", "child_before_re", "too_many_fields"} <= {
        reason for file in got.values() for reason in file.values()}
    bad_rows = {r["line_no"]: r for r in rejects if by_sha[r["file_sha256"]] == "bad/09_undecodable_bytes.UKE"}
    assert bad_rows[4]["raw_hex"].endswith("FFFE85402C2C") and "\ufffd" in bad_rows[4]["raw_text"]
    group = next(r for r in rejects if by_sha[r["file_sha256"]] == "bad/20_pharmacy_bad_number_in_fee_group.CYO")
    assert group["detail"] == "management_fees[1].points"
    foreign = next(r for r in rejects if by_sha[r["file_sha256"]] == "bad/19_utf8_line_in_cp932_file.UKE")
    assert (foreign["raw_text"], foreign["detail"]) == ("CO,,,1,追記：別システムからの行", FOREIGN_UTF8)
    # The good lines of the same files are in bronze: e.g. 10_bad_number_points keeps its other SI.
    row = ledger["bad/10_bad_number_points.UKE"]
    assert dict(row["record_counts"]) == {"IR": 1, "RE": 1, "HO": 1, "SY": 1, "SI": 1, "GO": 1}
    for rel, row in ledger.items():
        assert row["lines_read"] == row["lines_parsed"] + row["lines_rejected"] and row["reconciled"], rel
        expected = len(EXPECTED_REJECTS.get(rel.removeprefix("bad/"), {}))
        assert row["lines_rejected"] == expected, rel


def test_multi_volume_files_ingest_as_one_set(spark, ingested):
    ledger = ingested["ledger"]
    v1, v2 = ledger["volumes/RECEIPTC.001"], ledger["volumes/RECEIPTC.002"]
    assert (v1["volume_no"], v1["go_volume_no"], v1["go_total_receipts"]) == ("01", "01", None)
    assert (v2["volume_no"], v2["go_volume_no"], v2["go_total_receipts"]) == ("02", "99", 2)
    receipts = _table(spark, ingested["wh"], "receipts").where(
        F.col("file_sha256").isin(v1["file_sha256"], v2["file_sha256"])).collect()
    assert sorted(r["receipt_no"] for r in receipts) == [1, 2]


def test_reingest_adds_nothing(ingested):
    summary, before, after = ingested["again"]["summary"], ingested["again"]["before"], ingested["again"]["after"]
    assert summary["files_new"] == 0 and summary["files_already_ingested"] == summary["files_found"]
    # 3 copies of the fixture, 30 good corpus RE (8 of them in the DPC files), 3 small files, 1 all-record-types file
    assert after == before and before["receipts"] == 75 * 3 + 30 + 2 + 1 + 1


def test_changed_file_under_the_same_name_is_a_new_version(ingested):
    v1_sha = ingested["ledger"]["versioned/RECEIPTC.UKE"]["file_sha256"]
    assert ingested["corrected"]["summary"]["files_new"] == 1
    rows = ingested["corrected"]["versions"]
    assert [(r["version"], r["replaced_previous"], r["supersedes_sha256"]) for r in rows] == [
        (1, False, None), (2, True, v1_sha)]
    assert ingested["corrected"]["names"] == ["試験　華子"]  # v1's rows were replaced in the same commits, not doubled


_DAYS = [None] * 31
# tests/e2e/data/uke_good/15_all_record_types.UKE: one line of every 医科 record type, 和暦 dates,
# full-width digits in number and code fields, a right-justified HO 保険者番号, MF with its 31 予備 omitted.
ALL_TYPES = {
    "receipts": (2, {"receipt_no": 1, "service_month": dt.date(2021, 11, 1), "name": "全種　太郎", "sex": "1",
                     "birth_date": dt.date(1995, 2, 8), "chart_no": "C-01", "kana_name": "ゼンシュ　タロウ",
                     "institution_code": "1234567", "billing_month": dt.date(2021, 12, 1), "pref_code": "13"}),
    "insurances": (3, {"insurer_no": "133066", "card_symbol": "１２", "card_number": "３４５", "days": 1, "points": 123}),
    "public_expenses": (4, {"payer_no": "54136015", "recipient_no": "1234567", "days": 1, "points": 200, "copay_amount": 0}),
    "eligibility": (5, {"burden_kind": "1", "confirm_class": "01", "insurer_no": "133066", "branch_no": "01"}),
    "visit_days": (6, {"burden_kind": "1", "day_codes": [1, None, 2, *_DAYS[3:]]}),
    "window_payments": (7, {"window_class": "01"}),
    "dpc_exclusions": (8, {"dpc_code": "140010xx99x0xx", "calc_reason": "01"}),
    "diagnoses": (9, {"disease_code": "8842097", "start_date": dt.date(1995, 2, 8), "outcome": "1", "main_flag": "01"}),
    "procedures": (10, {"procedure_code": "111000110", "points": 12, "count": 1, "day_counts": [None, 1, *_DAYS[2:]]}),
    "drugs": (11, {"drug_code": "620098801", "amount": Decimal("1.50000"), "points": 12}),
    "materials": (12, {"material_code": "710001000", "amount": Decimal("1.00000"), "points": 150, "unit_code": "001",
                       "unit_price": Decimal("150.00000"), "product_name": "ディスポ注射器　２．５ｍＬ",
                       "day_counts": [None, 1, *_DAYS[2:]]}),
    "comments": (13, {"comment_code": "810000001", "comment_text": "全角　コメント"}),
    "symptom_details": (14, {"detail_class": "01", "detail_text": "腹痛が持続し、精査を要した。"}),
}


def test_every_record_type_is_parsed_into_its_bronze_table(spark, ingested):
    row = ingested["ledger"]["good/15_all_record_types.UKE"]
    sha = row["file_sha256"]
    assert row["lines_rejected"] == 0 and row["lines_read"] == 15
    assert set(dict(row["record_counts"])) == set(LAYOUTS) and set(dict(row["record_counts"]).values()) == {1}
    assert (row["institution_code"], str(row["billing_month"]), row["volume_no"], row["go_volume_no"],
            row["go_total_points"]) == ("1234567", "2021-12-01", "00", "99", 123)
    assert set(ALL_TYPES) == set(TABLES)
    for table, (line_no, want) in ALL_TYPES.items():
        rows = _table(spark, ingested["wh"], table).where(F.col("file_sha256") == sha).collect()
        assert len(rows) == 1, table
        got = rows[0].asDict()
        assert (got["line_no"], got["receipt_key"]) == (line_no, f"{sha}:000000001"), table
        assert {k: got[k] for k in want} == want, table
