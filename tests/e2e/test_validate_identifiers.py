"""Requirement 12 end to end: a マイナンバー planted (with Delta) in a kept column of the shared pipeline's
staged release makes `tokumei validate` exit 1 naming the table, column and detector, never the value."""

import json
import shutil

import pytest
from helpers.releases import MYNUMBER, plant_mynumber

from jobs import validate


@pytest.mark.slow
def test_req12_planted_mynumber_fails_validate_naming_table_column_detector_without_the_value(
        spark, pipeline, tmp_path, capsys):
    wh = tmp_path / "wh"
    shutil.copytree(pipeline.warehouse, wh)
    plant_mynumber(spark, wh, pipeline.release_id)
    code = validate.main(["--warehouse", str(wh), "--release-id", pipeline.release_id, "--no-docs",
                          "--conf", str(pipeline.input.parent / "pipeline.yaml")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "receipts: expect_no_identifier_values(ward_class: mynumber" in err, err
    out = wh / "staging" / pipeline.release_id / "validation"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["success"] is False and summary["tables"]["receipts"]["success"] is False
    assert [t for t, v in summary["tables"].items() if not v["success"]] == ["receipts"]
    findings = next(e for e in json.loads((out / "receipts.json").read_text(encoding="utf-8"))["expectations"]
                    if e["expectation_type"] == "expect_no_identifier_values")["result"]["details"]["findings"]
    assert [(f["column"], f["detector"]) for f in findings] == [("ward_class", "mynumber")] and findings[0]["rows"] >= 1
    leaked = [p for p in out.rglob("*") if p.is_file() and MYNUMBER in p.read_text(encoding="utf-8", errors="replace")]
    assert MYNUMBER not in err and leaked == []
