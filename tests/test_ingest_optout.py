"""停止の求め (requirement 42): opted-out people are absent from every bronze table, with counts."""

import pytest

from jobs.config import IngestSettings
from jobs.errors import InputError
from jobs.ingest import run_ingest
from jobs.ingest_report import load_registry
from jobs.warehouse import Warehouse
from transforms.uke_layout import LAYOUTS

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
REGISTRY = """insurer_no,card_symbol,card_number,branch_no,birth_date,sex,kana_name
06132013,12,345,,1960-05-01,1,ヤマダ　タロ
,,,,19750303,2,ｽｽﾞｷ ﾊﾅｺ
,,,,1988-08-08,1,サトウ　イチロ
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
    layouts = tmp_path_factory.mktemp("layouts")
    (layouts / "patients.yaml").write_text(PATIENTS_LAYOUT, encoding="utf-8")
    (layouts / "labs.yaml").write_text(LABS_LAYOUT, encoding="utf-8")
    wh = str(tmp_path_factory.mktemp("wh"))
    settings = IngestSettings(optout_registry=str(restricted / "optout.csv"))
    summary = run_ingest(spark, str(root), wh, settings, layouts_dir=str(layouts))
    return {"wh": Warehouse(wh), "summary": summary}


def _tables(spark, wh):
    names = [lay.table for lay in LAYOUTS.values() if lay.table] + ["patients", "labs", "_rejects"]
    return {n: spark.read.format("delta").load(wh.bronze(n)) for n in names}


def test_req42_opted_out_patients_are_in_no_bronze_table(spark, opted):
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
    bad.write_text("insurer_no,card_symbol,card_number,branch_no,birth_date,sex,kana_name\n"
                   ",,,,1960-13-01,1,ヤマダ\n,,,,1960-01-01,X,ヤマダ\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"birth_date': 1.*sex': 1|sex': 1.*birth_date': 1"):
        load_registry(spark, str(bad))
    short = tmp_path / "short.csv"
    short.write_text("birth_date,sex\n1960-01-01,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing columns"):
        load_registry(spark, str(short))
