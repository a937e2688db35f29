"""Publishing: atomic, immutable, refuses what was not validated; readable by non-Spark Delta readers;
one publish of a release id at a time (issue 19 item 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from helpers.locks import live_holder

import jobs.publish
from jobs.publish import main as publish_main
from jobs.runtime import fs
from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import RefusedError
from jobs.runtime.warehouse import Warehouse
from jobs.stages.release.publish import publish

RID = "r-2026-01"


def _stage(spark, wh: Warehouse, success: bool = True) -> None:
    patients = spark.createDataFrame([("a" * 64, "1", "1950-02"), ("b" * 64, "2", None)], "pid string, sex string, birth_ym string")
    diagnoses = spark.createDataFrame([("a" * 64, "2500013"), ("b" * 64, None)], "pid string, disease_code string")
    for name, df in (("patients", patients), ("diagnoses", diagnoses)):
        df.write.format("delta").save(wh.staging_table(RID, name))
    staged = {
        "release_id": RID,
        "profile": "anonymized",
        "regime": "匿名加工医療情報",
        "policy": {"path": "conf/policies/anonymized.yaml", "sha256": "0" * 64},
        "key": {"key_id": "demo", "fingerprint": "f" * 16},
        "outputs": [{"table": "patients"}, {"table": "diagnoses"}],
        "labels": {"patients": {"pid": "仮名ID", "birth_ym": "生年月"}},
        "counts": {"patients_suppressed": 0},
        "kanon": {"k": 10, "l": None, "suppression_limit": 0.05, "levels": {"age_band": 1, "sex": 0}, "suppressed_patients": 3,
                  "metrics": {"prosecutor_risk_max_after": 0.1, "loss": 0.25},
                  "carriers": {"receipts": {"pref_code": {"quasi_identifier": "area", "level": 1, "cells_recoded": 7}}}},
        "waiting_period": {"applied": True, "extraction_date": "2026-01-31", "wait_days": 30, "patients_held_back": 4},
    }
    fs.write_json_atomic(wh.local_path(wh.staging(RID, "anonymize.json")), staged)
    summary = {"success": success, "expectations": 5, "failed": [] if success else ["patients: x"],
               "tables": {"patients": {"delta_version": 0}, "diagnoses": {"delta_version": 0}}}
    fs.write_json_atomic(wh.local_path(wh.staging(RID, "validation", "summary.json")), summary)


def test_req1_req29_req32_publish_writes_tables_notices_lineage_and_manifest_last(spark, tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    _stage(spark, wh)
    manifest = publish(spark, load_pipeline(), wh, RID)
    root = tmp_path / "wh" / "releases" / RID
    on_disk = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["release_regime"] == "匿名加工医療情報" and on_disk["key"] == {"key_id": "demo", "fingerprint": "f" * 16}
    assert {o["table"]: o["rows"] for o in manifest["outputs"]} == {"diagnoses": 2, "patients": 2}
    patients = DeltaTable(str(root / "tables" / "patients"))  # delta-rs: no Spark involved
    assert patients.to_pyarrow_table().num_rows == 2
    files = list((root / "tables" / "patients").glob("*.parquet"))  # zstd: the pseudonyms shrink 2.4x
    assert files and all(pq.ParquetFile(f).metadata.row_group(0).column(0).compression == "ZSTD" for f in files)
    assert patients.metadata().configuration["tokumei.legal_class"] == "匿名加工医療情報"
    # the label is in the table's only version: no reader ever sees the table without it
    assert patients.version() == 0 and [o["delta_version"] for o in manifest["outputs"]] == [0, 0]
    notice = (root / "notices" / "作成時公表.md").read_text(encoding="utf-8")
    assert "生年月" in notice and "仮名ID" in notice and "傷病名コード" in notice
    assert "識別行為の禁止" in (root / "notices" / "明示.md").read_text(encoding="utf-8")
    report = (root / "report.html").read_text(encoding="utf-8")
    assert "リリース報告書" in report
    # reqs 21, 43: the risk and utility table tells the compliance officer what item 5 did
    for words in ("再識別リスク（prosecutor, 最大）: 処理後", "age_band=1, sex=0", "receipts.pref_code→area（レベル1",
                  "提供を保留した患者 4 人"):
        assert words in report, words
    events = [json.loads(line) for line in (root / "lineage.jsonl").read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[1]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 2


def test_publishing_the_same_id_twice_is_refused_with_exit_1(spark, tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    _stage(spark, wh)
    publish(spark, load_pipeline(), wh, RID)
    assert publish_main(["--warehouse", wh.root, "--release-id", RID]) == 1


def test_req3_an_unvalidated_or_failed_staging_is_refused(spark, tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    _stage(spark, wh, success=False)
    assert publish_main(["--warehouse", wh.root, "--release-id", RID]) == 1
    assert not (tmp_path / "wh" / "releases" / RID / "manifest.json").exists()
    (tmp_path / "wh" / "staging" / RID / "validation" / "summary.json").unlink()
    assert publish_main(["--warehouse", wh.root, "--release-id", RID]) == 1
    assert publish_main(["--warehouse", wh.root, "--release-id", "never-staged"]) == 2


def test_req3_a_table_changed_after_validation_is_refused_and_leaves_no_manifest(spark, tmp_path):
    wh = Warehouse(str(tmp_path / "wh"))
    _stage(spark, wh)
    spark.createDataFrame([("c" * 64, "1", None)], "pid string, sex string, birth_ym string").write.format("delta").mode(
        "append"
    ).save(wh.staging_table(RID, "patients"))
    with pytest.raises(RefusedError, match="changed after validation"):
        publish(spark, load_pipeline(), wh, RID)
    assert not (tmp_path / "wh" / "releases" / RID / "manifest.json").exists()


REPO = Path(__file__).resolve().parents[2]


def _intact(root: Path) -> None:
    """The release is whole: manifest, both tables with their rows, notices, report, validation copy."""
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert {o["table"]: o["rows"] for o in manifest["outputs"]} == {"diagnoses": 2, "patients": 2}
    for table in ("patients", "diagnoses"):
        assert DeltaTable(str(root / "tables" / table)).to_pyarrow_table().num_rows == 2
    assert (root / "notices" / "明示.md").is_file() and (root / "report.html").is_file()
    assert (root / "validation" / "summary.json").is_file()
    assert sorted(p.name for p in (root / "tables").iterdir()) == ["diagnoses", "patients"]


def test_two_publishes_of_one_release_id_started_together_one_publishes_the_other_refuses_naming_it(
        spark, tmp_path, monkeypatch):
    """Two OS processes: this one publishes (held at its first look at the warehouse, lock taken) while
    `python -m jobs.publish` of the same id starts; that one exits 1 before Spark, naming this one."""
    wh = Warehouse(str(tmp_path / "wh"))
    _stage(spark, wh)
    argv = ["--warehouse", wh.root, "--release-id", RID]
    inside, go_on, codes = threading.Event(), threading.Event(), {}
    checked = jobs.publish.check_publishable

    def held_open(*args, **kwargs):
        inside.set()
        assert go_on.wait(300)
        return checked(*args, **kwargs)

    monkeypatch.setattr(jobs.publish, "check_publishable", held_open)
    first = threading.Thread(target=lambda: codes.update(first=publish_main(argv)))
    first.start()
    try:
        assert inside.wait(60), "the first publish did not get to its checks"
        second = subprocess.run([sys.executable, "-m", "jobs.publish", *argv], cwd=REPO, capture_output=True,
                                text=True, timeout=300)
    finally:
        go_on.set()
        first.join(600)
    assert codes == {"first": 0}
    lock = tmp_path / "wh" / "_locks" / f"release-{RID}.lock"
    assert second.returncode == 1, second.stderr
    for part in ("tokumei: refused:", f"tokumei publish --release-id {RID}", f"pid {os.getpid()}", str(lock)):
        assert part in second.stderr, part
    _intact(tmp_path / "wh" / "releases" / RID)
    assert not lock.exists()


def test_leftovers_of_a_failed_publish_stay_while_its_run_lives_and_go_once_it_died_and_the_lock_is_broken(
        spark, tmp_path, capsys):
    """The issue's failure: the second publish took the first's tables for leftovers and removed them.
    Now a live holder keeps them; after the holder is killed, only --break-lock lets publish clean up."""
    wh = Warehouse(str(tmp_path / "wh"))
    _stage(spark, wh)
    argv = ["--warehouse", wh.root, "--release-id", RID]
    partial = tmp_path / "wh" / "releases" / RID / "tables" / "patients" / "part-00000-first-run.parquet"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"written by the first publish")
    lock = tmp_path / "wh" / "_locks" / f"release-{RID}.lock"
    with live_holder(lock, f"tokumei publish --release-id {RID}", RID) as first:
        assert publish_main(argv) == 1
        assert f"pid {first.pid}" in capsys.readouterr().err and partial.is_file()
    assert publish_main(argv) == 1  # its process is gone, the lock stays: a killed run
    assert "もう動いていません" in capsys.readouterr().err and partial.is_file() and lock.exists()
    assert publish_main([*argv, "--break-lock"]) == 0
    assert not partial.exists() and not lock.exists()
    _intact(tmp_path / "wh" / "releases" / RID)
