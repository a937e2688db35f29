"""`tokumei erase` of one patient on a copy of the shared pipeline's warehouse, and the 受領記録 that
pipeline's ingest wrote (requirements 44, 46, 47). Two module fixtures, each a copy of that warehouse:
one patient erased; then `--expired`, `--file` and `--institution` in a row."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from delta.tables import DeltaTable
from helpers.pipeline import KEY, REPO
from pyspark.sql import functions as F

from jobs.erase import main as erase_main

BRONZE_WITH_PERSONS = ("receipts", "insurances", "diagnoses", "procedures", "patients", "labs", "_identities")


def _rows(spark, path: Path, version: int | None = None):
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(str(path))


@dataclass(frozen=True)
class Erased:
    warehouse: Path
    receipt_keys: list[str]  # the patient's receipts, found by kana name + birth date + sex before the erase
    patient_keys: list[tuple[str, str]]  # their clinical (institution_code, patient_id)
    versions: dict[str, int]  # bronze table -> version before the erase
    intake_rows: int
    exit_code: int
    out: str


@pytest.fixture(scope="module")
def erased(spark, pipeline, tmp_path_factory, monkeypatch_module) -> Erased:
    tmp = tmp_path_factory.mktemp("erase")
    wh = tmp / "wh"
    shutil.copytree(pipeline.warehouse, wh)  # Delta logs hold relative paths: the copy is a warehouse
    bronze = wh / "bronze"
    # A patient who has claims and a clinical record: identity from their first receipt and its HO.
    receipts = _rows(spark, bronze / "receipts")
    patients = _rows(spark, bronze / "patients")
    person = (receipts.join(_rows(spark, bronze / "insurances"), "receipt_key")
              .join(patients.select("kana_name", "birth_date"), ["kana_name", "birth_date"], "left_semi")
              .orderBy("receipt_key").first())
    assert person is not None, "the shared pipeline has no patient with both claims and a clinical record"
    same = (receipts.kana_name == person["kana_name"]) & (receipts.birth_date == person["birth_date"])
    receipt_keys = sorted(r[0] for r in receipts.where(same).select("receipt_key").collect())
    pk = patients.where((patients.kana_name == person["kana_name"]) & (patients.birth_date == person["birth_date"]))
    patient_keys = sorted({(r[0], r[1]) for r in pk.select("institution_code", "patient_id").collect()})
    subject = tmp / "subject.csv"
    with subject.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["insurer_no", "card_symbol", "card_number", "branch_no", "birth_date", "sex", "kana_name"])
        w.writerow([person["insurer_no"], person["card_symbol"], person["card_number"], "",
                    person["birth_date"].isoformat(), person["sex"], person["kana_name"]])
    versions = {t: DeltaTable.forPath(spark, str(bronze / t)).history(1).first()["version"] for t in BRONZE_WITH_PERSONS}
    intake_rows = _rows(spark, wh / "records" / "intake").count()
    conf = tmp / "pipeline.yaml"  # 0 hours: the erased rows' files go at once (the tests' setting only)
    conf.write_text((REPO / "conf" / "pipeline.yaml").read_text(encoding="utf-8").replace(
        "vacuum_retention_hours: 168", "vacuum_retention_hours: 0"), encoding="utf-8")
    monkeypatch_module.setenv("TOKUMEI_KEY_DEMO", KEY)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = erase_main(["--warehouse", str(wh), "--patients", str(subject), "--conf", str(conf),
                           "--reason", "停止の求め（削除の求め）テスト", "--operator", "e2e"])
    return Erased(wh, receipt_keys, patient_keys, versions, intake_rows, code, out.getvalue())


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _held(df, erased: Erased) -> int:
    n = 0
    if "receipt_key" in df.columns:
        n += df.where(df.receipt_key.isin(erased.receipt_keys)).count()
    if "node" in df.columns:
        n += df.where(df.node.isin(erased.receipt_keys)).count()
    if {"institution_code", "patient_id"} <= set(df.columns):
        for inst, pid in erased.patient_keys:
            n += df.where((df.institution_code == inst) & (df.patient_id == pid)).count()
    return n


def test_req46_req44_erase_leaves_no_row_of_the_patient_in_bronze_identities_or_staging(spark, erased):
    assert erased.exit_code == 0, erased.out
    assert erased.receipt_keys and erased.patient_keys
    for table in BRONZE_WITH_PERSONS:
        assert _held(_rows(spark, erased.warehouse / "bronze" / table), erased) == 0, table
    # the staged candidate held them: removed whole (its k-anonymity no longer holds without them)
    assert not (erased.warehouse / "staging" / "e2e").exists()
    assert "ステージング候補を削除しました: e2e" in erased.out


def test_req44_time_travel_to_the_version_before_the_erase_cannot_return_the_patient(spark, erased):
    """After VACUUM with 0 hours the files of the old version are gone: Delta fails the read of the
    old version (the data files it lists no longer exist) instead of returning the rows."""
    for table in ("receipts", "patients"):
        old = _rows(spark, erased.warehouse / "bronze" / table, erased.versions[table])
        try:
            held = _held(old, erased)
        except Exception as exc:  # noqa: BLE001 - Delta/Spark raise a Py4J/Spark error for the missing files
            assert "not exist" in str(exc).lower() or "notfound" in str(exc).replace(" ", "").lower(), str(exc)[:500]
        else:
            assert held == 0, f"{table}: version {erased.versions[table]} still returns the erased patient"


def test_req46_erasure_record_row_says_what_when_who_why_without_the_identity(spark, erased):
    rows = _rows(spark, erased.warehouse / "records" / "erasure").collect()
    assert len(rows) == 1
    row = rows[0]
    assert (row["kind"], row["operator"], row["reason"]) == ("patient", "e2e", "停止の求め（削除の求め）テスト")
    assert row["rows_deleted"]["receipts"] == len(erased.receipt_keys)
    assert row["rows_deleted"]["patients"] >= len(erased.patient_keys)
    assert row["releases_holding"] == ["e2e"] and row["staging_removed"] == ["e2e"]
    assert row["vacuum_retention_hours"] == 0.0 and len(row["subject_digest"]) == 64
    text = " ".join(str(v) for v in row.asDict().values())
    for key in erased.receipt_keys:
        assert key not in text


def test_req44_erase_lists_the_published_release_that_held_the_patient_and_leaves_it(spark, pipeline, erased):
    assert "e2e（確認）" in erased.out and "提供先に通知" in erased.out
    published = erased.warehouse / "releases" / "e2e"
    assert (published / "manifest.json").is_file()
    before = _rows(spark, pipeline.release / "tables" / "receipts").count()
    assert _rows(spark, published / "tables" / "receipts").count() == before


def test_req47_erase_leaves_the_intake_record_and_it_refuses_delete(spark, erased):
    path = str(erased.warehouse / "records" / "intake")
    assert _rows(spark, erased.warehouse / "records" / "intake").count() == erased.intake_rows
    with pytest.raises(Exception, match="(?i)append"):
        DeltaTable.forPath(spark, path).delete()


def test_req47_intake_record_has_one_row_per_ingested_file_with_its_persons(spark, pipeline):
    wh = pipeline.warehouse
    intake = {r["file_sha256"]: r for r in _rows(spark, wh / "records" / "intake").collect()}
    files = {r["file_sha256"]: r for r in _rows(spark, wh / "bronze" / "_files").collect()}
    assert set(intake) == set(files)
    for sha, f in files.items():
        row = intake[sha]
        assert row["method"] == "オンライン提出" and row["received_on"] is not None
        assert row["retain_until"].year == row["received_on"].year + 3
        src = pipeline.input / f["rel_path"]
        if f["kind"] == "uke":
            truth = pq.read_table(src.parents[3] / "_truth" / "receipts", columns=["file", "person_id"]).to_pandas()
            rel = str(src.relative_to(src.parents[3]))
            assert row["persons"] == truth[truth["file"] == rel]["person_id"].nunique(), rel
            assert row["provider_code"] == src.parts[-3] and row["provider_name"]
            assert "receipts" in row["items"] and "RE" in row["record_types"]
        else:
            with src.open(encoding="utf-8") as fh:
                ids = {(r["institution_code"], r["patient_id"]) for r in csv.DictReader(fh)}
            assert row["persons"] == len(ids), f["rel_path"]
            assert row["items"] == [f["table"]]


@dataclass(frozen=True)
class Modes:
    """Three erases in a row on one more copy of the shared warehouse: `--expired` (one file made two
    years old in the ledger, the staged candidate made old too), then `--file` by path, then
    `--institution`."""

    warehouse: Path
    expired_sha: str
    file_sha: str
    institution: str  # 10 digits
    institution_shas: list[str]
    before: dict[str, dict[str, int]]  # bronze table -> file_sha256 -> rows, before any erase
    clinical_before: int  # clinical rows of the institution
    codes: dict[str, int]
    outs: dict[str, str]


def _per_file(spark, bronze: Path) -> dict[str, dict[str, int]]:
    out = {}
    for table in (*BRONZE_WITH_PERSONS, "drugs", "comments"):
        counts = _rows(spark, bronze / table).groupBy("file_sha256").count().collect()
        out[table] = {r["file_sha256"]: r["count"] for r in counts}
    return out


@pytest.fixture(scope="module")
def modes(spark, pipeline, tmp_path_factory, monkeypatch_module) -> Modes:
    tmp = tmp_path_factory.mktemp("erase_modes")
    wh = tmp / "wh"
    shutil.copytree(pipeline.warehouse, wh)
    bronze = wh / "bronze"
    ledger = _rows(spark, bronze / "_files").where(F.col("kind") == "uke").orderBy("rel_path").collect()
    clinical = _rows(spark, bronze / "patients").select("institution_code").distinct().collect()
    with_clinical = {r[0] for r in clinical}
    inst = next(f for f in ledger if f["pref_code"] + "1" + f["institution_code"] in with_clinical)
    code = inst["pref_code"] + "1" + inst["institution_code"]
    others = [f for f in ledger if f["institution_code"] != inst["institution_code"]]
    expired, by_path = others[0], others[-1]
    inst_shas = sorted(f["file_sha256"] for f in ledger if f["institution_code"] == inst["institution_code"]
                       and f["pref_code"] == inst["pref_code"])
    before = _per_file(spark, bronze)
    clinical_before = _rows(spark, bronze / "patients").where(F.col("institution_code") == code).count()
    # the retention clock: one file ingested two years ago, the staged candidate created two years ago
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=730)
    DeltaTable.forPath(spark, str(bronze / "_files")).update(
        F.col("file_sha256") == expired["file_sha256"], {"ingested_at": F.lit(old)})
    record = wh / "staging" / "e2e" / "anonymize.json"
    doc = json.loads(record.read_text(encoding="utf-8"))
    doc["created_at"] = (old.replace(tzinfo=dt.UTC)).isoformat()
    record.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    conf = tmp / "pipeline.yaml"
    conf.write_text((REPO / "conf" / "pipeline.yaml").read_text(encoding="utf-8")
                    .replace("vacuum_retention_hours: 168", "vacuum_retention_hours: 0")
                    .replace("    bronze: null\n    staging: 180\n", "    bronze: 365\n    staging: 365\n"), encoding="utf-8")
    assert "bronze: 365" in conf.read_text(encoding="utf-8")
    monkeypatch_module.setenv("TOKUMEI_KEY_DEMO", KEY)
    common = ["--warehouse", str(wh), "--conf", str(conf), "--operator", "e2e"]
    runs = {"expired": ["--expired", "--reason", "保存期間の経過"],
            "file": ["--file", by_path["rel_path"], "--reason", "提供元からの取り下げ"],
            "institution": ["--institution", code, "--reason", "医療機関との契約終了"]}
    codes, outs = {}, {}
    for name, extra in runs.items():
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            codes[name] = erase_main([*common, *extra])
        outs[name] = out.getvalue()
    return Modes(wh, expired["file_sha256"], by_path["file_sha256"], code, inst_shas, before, clinical_before,
                 codes, outs)


def _left(spark, modes: Modes, shas: list[str]) -> dict[str, int]:
    return {t: _rows(spark, modes.warehouse / "bronze" / t).where(F.col("file_sha256").isin(shas)).count()
            for t in modes.before}


def test_req46_erase_expired_deletes_files_past_bronze_retention_and_old_staging(spark, modes):
    assert modes.codes["expired"] == 0, modes.outs["expired"]
    assert not any(_left(spark, modes, [modes.expired_sha]).values())
    assert not (modes.warehouse / "staging" / "e2e").exists()  # created two years ago, kept 365 days
    row = _audit(spark, modes, "expired")
    assert row["rows_deleted"]["receipts"] == modes.before["receipts"][modes.expired_sha]
    assert row["staging_removed"] == ["e2e"] and row["releases_holding"] == ["e2e"]
    assert "保存期間 365 日を過ぎた取り込みファイル 1 件" in row["description"]


def test_req46_erase_by_file_path_deletes_its_rows_everywhere_and_keeps_the_ledgers(spark, modes):
    assert modes.codes["file"] == 0, modes.outs["file"]
    assert not any(_left(spark, modes, [modes.file_sha]).values())
    row = _audit(spark, modes, "file")
    for table, per_file in modes.before.items():
        assert row["rows_deleted"].get(table, 0) == per_file.get(modes.file_sha, 0), table
    # the ledgers keep the file: the next ingest skips it (same sha256) instead of bringing it back
    ledger = _rows(spark, modes.warehouse / "bronze" / "_files")
    assert ledger.where(F.col("file_sha256") == modes.file_sha).count() == 1
    assert _rows(spark, modes.warehouse / "records" / "intake").where(F.col("file_sha256") == modes.file_sha).count() == 1
    assert row["intake_records_kept"] == 1
    # The `--expired` erase before vacuumed files of the release's pinned bronze versions: when the time-travel
    # read needs one of them the release is listed as possibly holding the file (可能性, a notification too
    # many), else as holding it (確認); which one depends on how ingest laid the rows out in files.
    assert "e2e（確認）" in modes.outs["file"] or "e2e（可能性）" in modes.outs["file"]


def test_req46_erase_by_institution_deletes_its_claims_clinical_rows_and_identity_nodes(spark, modes):
    assert modes.codes["institution"] == 0, modes.outs["institution"]
    assert modes.institution_shas and modes.clinical_before > 0
    assert not any(_left(spark, modes, modes.institution_shas).values())
    bronze = modes.warehouse / "bronze"
    for table in ("patients", "labs"):
        assert _rows(spark, bronze / table).where(F.col("institution_code") == modes.institution).count() == 0, table
    nodes = _rows(spark, bronze / "_identities").where(F.col("node").startswith(f"C\u001f{modes.institution}\u001f"))
    assert nodes.count() == 0
    row = _audit(spark, modes, "institution")
    assert row["rows_deleted"]["patients"] == modes.clinical_before
    assert row["subject_digest"] and modes.institution not in row["subject_digest"]
    # everything else is still there: the three erases took only their subjects
    gone = {modes.expired_sha, modes.file_sha, *modes.institution_shas}
    kept = sum(n for sha, n in modes.before["receipts"].items() if sha not in gone)
    assert _rows(spark, bronze / "receipts").count() == kept > 0


def test_req46_erasure_record_has_one_row_per_erase_in_order(spark, modes):
    rows = _rows(spark, modes.warehouse / "records" / "erasure").orderBy("erased_at").collect()
    assert [r["kind"] for r in rows] == ["expired", "file", "institution"]
    assert [r["reason"] for r in rows] == ["保存期間の経過", "提供元からの取り下げ", "医療機関との契約終了"]


def _audit(spark, modes: Modes, kind: str):
    rows = _rows(spark, modes.warehouse / "records" / "erasure").where(F.col("kind") == kind).collect()
    assert len(rows) == 1, rows
    return rows[0]
