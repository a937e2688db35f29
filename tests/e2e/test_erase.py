"""`tokumei erase` of one patient on a copy of the shared pipeline's warehouse, and the 受領記録 that
pipeline's ingest wrote (requirements 44, 46, 47). One module fixture: copy, erase once, read."""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from delta.tables import DeltaTable
from helpers.pipeline import KEY, REPO

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
