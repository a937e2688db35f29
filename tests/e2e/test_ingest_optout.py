"""停止の求め (requirements 42, 44, 45): opted-out people are absent from every bronze table, with counts."""

import json
import shutil
from pathlib import Path

import pytest
from helpers.keys import TEST_KEY, TEST_KEY_TEXT
from pyspark.sql import functions as F

from jobs.runtime.config import IngestSettings
from jobs.runtime.errors import InputError
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.optout import vacuum_purged
from jobs.stages.ingest.pipeline import run_ingest
from jobs.stages.optout_registry import load_registry
from transforms.uke.layout import LAYOUTS

UKE = [
    "IR,1,13,1,1234567,,テスト医院,202501,00",
    # 山田: opted out by insurance identity although the registry spells his kana differently.
    "RE,1,1112,202501,山田　太郎,1,19600501,,,,,,,K-0001,,,,,,,,,,,,,,,,,,,,,,,ヤマダ　タロウ",
    "HO,06132013,１２,３４５,1,300",
    "SN,1,01,,,,01,,",
    "SY,2500013,20250105,1,,,01,",
    "SI,12,1,112007410,,7a,1",  # a bad line of an opted-out receipt: withheld, not rejected
    "CO,12,1,810000001,山田様より電話",
    # 鈴木: 公費単独 (no HO), opted out by kana name + birth date + sex (half-width kana in the registry).
    "RE,2,1212,202501,鈴木　花子,2,19750303,,,,,,,K-0002,,,,,,,,,,,,,,,,,,,,,,,スズキ　ハナコ",
    "KO,54136015,1234567,,1,200,0",
    "SY,8842097,20250110,1,,,01,",
    # 佐藤: a similar registry row (kana differs by one character, no card) must not match him.
    "RE,3,1112,202501,佐藤　一郎,1,19880808,,,,,,,K-0003,,,,,,,,,,,,,,,,,,,,,,,サトウ　イチロウ",
    "HO,01130012,２３,６７,1,150",
    "SY,2500013,20250112,1,,,01,",
    "GO,3,650,99",
]
REGISTRY = """insurer_no,card_symbol,card_number,branch_no,birth_date,sex,kana_name,confirmation_doc
06132013,12,345,,1960-05-01,1,ヤマダ　タロ,confirmations/REQ-0001.pdf
,,,,19750303,2,ｽｽﾞｷ ﾊﾅｺ,confirmations/REQ-0002.pdf
,,,,1988-08-08,1,サトウ　イチロ,confirmations/REQ-0003.pdf
"""
# A later stop request (佐藤, exact this time), and a lab delivery for 山田, who was withheld in run 1.
LATER_REQUEST = "01130012,23,67,,1988-08-08,1,,confirmations/REQ-0004.pdf\n"
LATER_LABS = """patient_id,institution_code,lab_code,value,sampled_on
K-0001,1234567,3D010000001926101,6.8,2025/02/03
"""
PATIENTS = """patient_id,institution_code,name,kana_name,birth_date,sex,insurer_no,card_symbol,card_number,branch_no
K-0001,1234567,山田太郎,ヤマダ　タロウ,1960-05-01,M,06132013,12,345,01
K-0003,1234567,佐藤一郎,サトウ　イチロウ,1988-08-08,M,01130012,23,67,00
"""
LABS = """patient_id,institution_code,lab_code,value,sampled_on
K-0001,1234567,3D010000001926101,6.1,2025/01/05
K-0001,1234567,3D010000001926101,6.4,2025/01/20
K-0003,1234567,3D010000001926101,5.2,2025/01/12
"""
PATIENTS_LAYOUT = """columns:
  - {name: patient_id, type: string, label: 患者ID, risk: DIRECT}
  - {name: institution_code, type: string, label: 医療機関コード, risk: INST}
  - {name: name, type: string, label: 氏名, risk: DIRECT}
  - {name: kana_name, type: string, label: カナ氏名, risk: DIRECT}
  - {name: birth_date, type: date, format: yyyy-MM-dd, label: 生年月日, risk: QUASI}
  - {name: sex, type: string, label: 性別, risk: QUASI}
  - {name: insurer_no, type: string, label: 保険者番号, risk: DIRECT}
  - {name: card_symbol, type: string, label: 記号, risk: DIRECT}
  - {name: card_number, type: string, label: 番号, risk: DIRECT}
  - {name: branch_no, type: string, label: 枝番, risk: DIRECT}
"""
LABS_LAYOUT = """files: [clinical/labs/*.csv]
columns:
  - {name: patient_id, type: string, label: 患者ID, risk: DIRECT}
  - {name: institution_code, type: string, label: 医療機関コード, risk: INST}
  - {name: lab_code, type: string, label: 検査コード}
  - {name: value, type: double, label: 結果値, risk: QUASI}
  - {name: sampled_on, type: date, format: "%Y/%m/%d", label: 検体採取日, risk: QUASI}
"""
SECRETS = ["山田", "鈴木", "ヤマダ", "スズキ", "K-0001", "K-0002", "３４５"]


@pytest.fixture(scope="module")
def opted(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("optout_in")
    (root / "RECEIPTC.UKE").write_bytes(("\r\n".join(UKE) + "\r\n").encode("cp932"))
    for table, text in (("patients", PATIENTS), ("labs", LABS)):
        (root / "clinical" / table).mkdir(parents=True)
        (root / "clinical" / table / "part-00000.csv").write_text(text, encoding="utf-8")
    restricted = tmp_path_factory.mktemp("restricted")
    (restricted / "optout.csv").write_text(REGISTRY, encoding="utf-8")
    (restricted / "confirmations").mkdir()
    for n in range(1, 5):
        (restricted / "confirmations" / f"REQ-{n:04d}.pdf").write_bytes(b"%PDF-1.4 stop request confirmation")
    layouts = tmp_path_factory.mktemp("layouts")
    (layouts / "patients.yaml").write_text(PATIENTS_LAYOUT, encoding="utf-8")
    (layouts / "labs.yaml").write_text(LABS_LAYOUT, encoding="utf-8")
    wh = str(tmp_path_factory.mktemp("wh"))
    settings = IngestSettings(optout_registry=str(restricted / "optout.csv"))
    summary = run_ingest(spark, str(root), wh, settings, layouts_dir=str(layouts), key=TEST_KEY)
    return {"wh": Warehouse(wh), "summary": summary, "root": root, "restricted": restricted, "layouts": layouts}


def _tables(spark, wh):
    names = [lay.table for lay in LAYOUTS.values() if lay.table] + ["patients", "labs", "_rejects"]
    return {n: spark.read.format("delta").load(wh.bronze(n)) for n in names}


def test_req42a_req42c_opted_out_patients_are_in_no_bronze_table_matched_exactly(spark, opted):
    tables = _tables(spark, opted["wh"])
    assert [r["name"] for r in tables["receipts"].collect()] == ["佐藤　一郎"]
    assert {r["receipt_key"][-1] for t in LAYOUTS.values() if t.table for r in tables[t.table].collect()} == {"3"}
    assert tables["_rejects"].count() == 0  # the bad SI line of 山田 is withheld, not kept as a reject
    assert [r["patient_id"] for r in tables["patients"].collect()] == ["K-0003"]
    assert [(r["patient_id"], r["value"]) for r in tables["labs"].collect()] == [("K-0003", 5.2)]
    for name, df in tables.items():
        text_cols = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
        for row in df.select(*text_cols).collect():
            for value in filter(None, row):
                assert not any(s in value for s in SECRETS), (name, value)


def test_req42_exclusions_are_counted_per_file_and_per_run(spark, opted):
    ledger = {r["rel_path"]: r for r in spark.read.format("delta").load(opted["wh"].ledger).collect()}
    uke = ledger["RECEIPTC.UKE"]
    assert (uke["receipts_opted_out"], uke["lines_opted_out"], uke["optout_checked"]) == (2, 9, True)
    assert uke["lines_read"] == 14 and uke["lines_parsed"] == 14 and uke["lines_rejected"] == 0
    assert dict(uke["record_counts"]) == {"IR": 1, "RE": 1, "HO": 1, "SY": 1, "GO": 1}
    # One patients.csv and one labs.csv: 山田 and his two lab rows are withheld.
    assert sorted((r["table"], r["lines_opted_out"], r["lines_read"]) for r in ledger.values() if r["kind"] == "clinical") == [
        ("labs", 2, 4), ("patients", 1, 3)]
    s = opted["summary"]
    assert (s["receipts_opted_out"], s["lines_opted_out"]) == (2, 12)


def test_req42_a_configured_registry_that_is_missing_or_unmatchable_stops_the_run(spark, tmp_path):
    with pytest.raises(InputError, match="no CSV file or Delta table"):
        load_registry(spark, str(tmp_path / "nope.csv"))
    bad = tmp_path / "bad.csv"
    bad.write_text("insurer_no,card_symbol,card_number,branch_no,birth_date,sex,kana_name,confirmation_doc\n"
                   ",,,,1960-13-01,1,ヤマダ,c.pdf\n,,,,1960-01-01,X,ヤマダ,c.pdf\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"birth_date': 1.*sex': 1|sex': 1.*birth_date': 1"):
        load_registry(spark, str(bad))
    short = tmp_path / "short.csv"
    short.write_text("birth_date,sex,confirmation_doc\n1960-01-01,1,c.pdf\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing columns"):
        load_registry(spark, str(short))


def test_req45_every_registry_row_links_a_written_confirmation(spark, tmp_path):
    head = "insurer_no,card_symbol,card_number,branch_no,birth_date,sex,kana_name"
    (tmp_path / "no_column.csv").write_text(f"{head}\n,,,,1960-01-01,1,ヤマダ\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing columns.*confirmation_doc"):
        load_registry(spark, str(tmp_path / "no_column.csv"))
    (tmp_path / "empty.csv").write_text(f"{head},confirmation_doc\n,,,,1960-01-01,1,ヤマダ, \n", encoding="utf-8")
    with pytest.raises(InputError, match=r"written confirmation, by column: \{'confirmation_doc': 1\}"):
        load_registry(spark, str(tmp_path / "empty.csv"))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ok.pdf").write_bytes(b"%PDF")
    (tmp_path / "dangling.csv").write_text(f"{head},confirmation_doc\n,,,,1960-01-01,1,ヤマダ,docs/ok.pdf\n"
                                           ",,,,1961-01-01,2,スズキ,docs/gone.pdf\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"1 confirmation document\(s\) not found.*requirement 45.*docs/gone\.pdf"):
        load_registry(spark, str(tmp_path / "dangling.csv"))
    (tmp_path / "docs" / "gone.pdf").write_bytes(b"%PDF")
    assert load_registry(spark, str(tmp_path / "dangling.csv")).count() == 2  # one ID2 per row


@pytest.fixture(scope="module")
def later(spark, opted, tmp_path_factory):
    """Run 2 on copies of run 1's warehouse, input and restricted folder: 佐藤's stop request arrives,
    and a lab delivery for 山田."""
    wh = Warehouse(str(tmp_path_factory.mktemp("wh2")))
    shutil.copytree(opted["wh"].root, wh.root, dirs_exist_ok=True)
    restricted = tmp_path_factory.mktemp("restricted2")
    shutil.copytree(opted["restricted"], restricted, dirs_exist_ok=True)
    registry = restricted / "optout_v2.csv"
    registry.write_text(REGISTRY + LATER_REQUEST, encoding="utf-8")
    root = tmp_path_factory.mktemp("optout_in2")
    shutil.copytree(opted["root"], root, dirs_exist_ok=True)
    (root / "clinical" / "labs" / "part-00001.csv").write_text(LATER_LABS, encoding="utf-8")
    settings = IngestSettings(optout_registry=str(registry))
    summary = run_ingest(spark, str(root), wh.root, settings, layouts_dir=str(opted["layouts"]), key=TEST_KEY)
    return {"wh": wh, "summary": summary, "restricted": restricted}


def test_req42b_req44_a_later_stop_request_deletes_the_person_from_bronze_and_logs_it(spark, later):
    wh, summary = later["wh"], later["summary"]
    tables = _tables(spark, wh)
    assert summary["files_new"] == 1 and tables["receipts"].count() == 0
    assert all(tables[t.table].count() == 0 for t in LAYOUTS.values() if t.table)  # HO, SY of 佐藤 too
    assert tables["patients"].count() == 0 and tables["labs"].count() == 0
    # the stored identity hashes go too (one receipt, one clinical patient row; jobs/stages/ingest/identities.py)
    assert spark.read.format("delta").load(wh.bronze("_identities")).count() == 0
    assert summary["optout_purged_by_table"] == {"receipts": 1, "insurances": 1, "diagnoses": 1, "patients": 1, "labs": 1,
                                                 "_identities": 2}
    # every ingest vacuums what purges deleted (files older than the retention window go; 44)
    assert summary["optout_vacuumed_tables"] == ["_identities", "diagnoses", "insurances", "labs", "patients", "receipts"]
    log = spark.read.format("delta").load(wh.bronze("_optout_log"))
    assert log.columns == ["run_id", "table", "key_kind", "keys_matched", "rows_deleted", "delta_version", "purged_at"]
    assert sorted((r["table"], r["keys_matched"], r["rows_deleted"]) for r in log.where("rows_deleted > 0").collect()) == [
        ("_identities", 1, 1), ("_identities", 1, 1), ("diagnoses", 1, 1), ("insurances", 1, 1), ("labs", 1, 1),
        ("patients", 1, 1), ("receipts", 1, 1)]


def test_req42_labs_of_a_patient_withheld_in_an_earlier_run_are_withheld(spark, later):
    wh = later["wh"]
    kept = spark.read.format("delta").load(wh.bronze("_optout_patients")).collect()
    assert sorted(r["patient_id"] for r in kept) == ["K-0001", "K-0003"]
    new_labs = spark.read.format("delta").load(wh.ledger).where(F.col("rel_path").endswith("part-00001.csv")).first()
    assert (new_labs["lines_read"], new_labs["lines_opted_out"], new_labs["reconciled"]) == (2, 1, True)
    assert later["summary"]["lines_opted_out"] == 1


def test_req42_the_registry_is_never_written_to_the_warehouse(spark, opted, later):
    """Only counts and the withheld patients' own ids are kept; `_` tables are never read by anonymize."""
    wh, registry_dirs = later["wh"], (str(opted["restricted"]), str(later["restricted"]))
    root = wh.local_path(wh.bronze_root)
    written = sorted(p.name for p in root.iterdir())
    assert [n for n in written if n.startswith("_")] == ["_files", "_identities", "_optout_log", "_optout_patients", "_rejects"]
    for name in written:
        df = spark.read.format("delta").load(str(root / name))
        assert "confirmation_doc" not in df.columns and "identity" not in df.columns, name
        for row in df.collect():
            text = " ".join(str(v) for v in row)
            assert not any(d in text for d in registry_dirs) and "REQ-000" not in text and "ｽｽﾞｷ" not in text, name


def test_req44_after_vacuum_time_travel_cannot_return_purged_rows(spark, later, tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))  # vacuum a copy: the module's warehouse stays as run 2 left it
    shutil.copytree(later["wh"].root, wh.root)
    deleted_at = spark.read.format("delta").load(wh.bronze("_optout_log")).where("table = 'receipts'").first()["delta_version"]
    old = spark.read.format("delta").option("versionAsOf", deleted_at - 1).load(wh.bronze("receipts"))
    assert [r["name"] for r in old.collect()] == ["佐藤　一郎"]  # inside the retention window: still there
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        assert "receipts" in vacuum_purged(spark, wh, retention_hours=0)
    finally:
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "true")
    with pytest.raises(Exception, match="(?i)not.*exist|FileNotFound|DELTA_FILE"):
        spark.read.format("delta").option("versionAsOf", deleted_at - 1).load(wh.bronze("receipts")).collect()


def test_req42a_opted_out_patients_are_in_no_release_table(spark, opted, tmp_path, monkeypatch):
    """Downstream of bronze: a release staged from (a copy of) the opted warehouse holds 佐藤 alone (k=1 here)."""
    from helpers.policy_conf import write_test_conf

    from jobs.anonymize import main as anonymize_main

    paths = write_test_conf(tmp_path / "conf", km=False)  # one patient: (k, k^m) has its own tests
    monkeypatch.setenv("TOKUMEI_KEY_TESTKEY", TEST_KEY_TEXT)
    wh = Warehouse(str(tmp_path / "wh"))
    shutil.copytree(opted["wh"].root, wh.root)
    assert anonymize_main(["--warehouse", wh.root, "--release-id", "r-optout", "--profile", "anonymized",
                           "--conf", str(paths["conf"]), "--extraction-date", "2025-06-01"]) == 0
    record = json.loads(Path(wh.local_path(wh.staging("r-optout", "anonymize.json"))).read_text(encoding="utf-8"))
    rows = {o["table"]: o["rows"] for o in record["outputs"]}
    assert (rows["patients"], rows["receipts"], rows["labs"]) == (1, 1, 1)
    assert record["linkage"]["patients"] == 1  # 佐藤's receipt and clinical record, one person
    assert record["linkage"]["identities"] == "stored"  # ingest's hashes, withheld people left out (jobs/stages/ingest/identities.py)
    for out in record["outputs"]:
        df = spark.read.format("delta").load(out["path"])
        text_cols = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
        for row in df.select(*text_cols).collect():
            assert not any(s in v for v in filter(None, row) for s in SECRETS), (out["table"], row)
