"""`tokumei kanon` end to end on tiny CSV files: outputs, readers, and the failures found in the data
(those found before Spark starts: tests/unit/test_kanon_cli.py)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers.kanon_files import HEADER, LINES, run_kanon, write_hierarchies
from pycanon.anonymity import k_anonymity, l_diversity

from jobs import kanon


@pytest.fixture()
def files(tmp_path):
    return write_hierarchies(tmp_path)


def _run(spark, files, lines=LINES, *extra: str) -> int:
    """`spark`: the command reuses the test session rather than starting its own."""
    return run_kanon(files, lines, *extra)


def _out(files) -> pd.DataFrame:
    return pd.read_csv(files / "out.csv", sep=";", dtype=str, keep_default_na=False)


def test_req21_kanon_writes_one_csv_in_input_order_with_suppressed_qis_starred(spark, files):
    assert _run(spark, files, LINES, "--k", "2", "--suppression-limit", "0.25") == 0
    text = (files / "out.csv").read_text(encoding="utf-8").splitlines()
    assert text == [HEADER, "1;男;関東;風邪;", "2;男;関東;骨折;a", "3;男;関東;風邪;", "4;女;関西;喘息;",
                    "5;女;関西;風邪;", "6;女;関西;骨折;", "7;*;*;風邪;", "8;*;*;骨折;"]
    summary = json.loads((files / "s.json").read_text(encoding="utf-8"))
    assert (summary["levels"], summary["suppressed"], summary["classes"], summary["min_class_size"]) == ([0, 1], 2, 2, 3)
    assert summary["risk_before"]["sample_uniques"] == 4 and summary["risk_after"]["prosecutor_risk_max"] == 1 / 3
    assert summary["reader"] == "text" and summary["full_input_jobs"] == 2
    out = _out(files)
    assert k_anonymity(out[out["性別"] != "*"], ["性別", "都道府県"]) == 3  # independent check (pycanon)


def test_req21_l_diversity_on_a_sensitive_column(spark, files):
    assert _run(spark, files, LINES, "--k", "2", "--sensitive", "病名", "--l", "3") == 0
    out = _out(files)
    assert json.loads((files / "s.json").read_text(encoding="utf-8"))["levels"] == [1, 2]
    assert l_diversity(out, ["性別", "都道府県"], ["病名"]) == 3 and k_anonymity(out, ["性別", "都道府県"]) == 8


def test_mondrian_output_is_k_anonymous(spark, files):
    assert _run(spark, files, LINES, "--k", "3", "--method", "mondrian") == 0
    out = _out(files)
    assert k_anonymity(out, ["性別", "都道府県"]) >= 3 and sorted(set(out["性別"])) == ["女", "男"]


def test_quoted_fields_go_through_the_csv_reader_unchanged(spark, files):
    lines = [*LINES[:-1], '8;女;東京都;骨折;"say ""hi""; bye"']
    assert _run(spark, files, lines, "--k", "2", "--suppression-limit", "0.25") == 0
    assert json.loads((files / "s.json").read_text(encoding="utf-8"))["reader"] == "csv"
    assert (files / "out.csv").read_text(encoding="utf-8").splitlines()[-1] == '8;*;*;骨折;"say ""hi""; bye"'


def test_value_missing_from_hierarchy_names_file_column_and_value(spark, files, capsys):
    assert _run(spark, files, [*LINES, "9;男;北海道;風邪;"], "--k", "2") == 2
    err = capsys.readouterr().err
    assert "in.csv" in err and "column '都道府県': value '北海道' is not a leaf" in err
    assert not (files / "out.csv").exists()


def test_ragged_line_is_an_input_error(spark, files, capsys):
    assert _run(spark, files, [*LINES, "9;男;東京都"], "--k", "2") == 2
    assert "a line has 3 fields, the header 5" in capsys.readouterr().err


def test_impossible_k_is_refused_with_exit_1(spark, files, capsys):
    assert _run(spark, files, LINES, "--k", "9", "--method", "mondrian") == 1
    assert "no solution" in capsys.readouterr().err


def test_comma_separated_input_with_arx_hierarchies(spark, files):
    lines = [line.replace(";", ",") for line in [HEADER, *LINES]]
    (files / "in.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = kanon.main(["--input", str(files / "in.csv"), "--hierarchies", str(files / "h"), "--qi", "性別,都道府県",
                       "--k", "4", "--sep", ",", "--metric", "discernibility", "--out", str(files / "out.csv"),
                       "--conf", str(files / "conf.yaml")])
    assert code == 0
    assert (files / "out.csv").read_text(encoding="utf-8").splitlines()[:3] == [
        "id,性別,都道府県,病名,memo", "1,男,*,風邪,", "2,男,*,骨折,a"]


def test_output_keeps_input_order_across_many_partitions(spark, files):
    lines = [f"{i};{'男女'[i % 2]};{['東京都', '神奈川県', '大阪府', '京都府'][i % 4]};x;m{i}" for i in range(400)]
    spark.conf.set("spark.sql.files.maxPartitionBytes", "2000")  # ~10 partitions of the 9 kB file
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    try:
        assert _run(spark, files, lines, "--k", "50") == 0
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
        spark.conf.unset("spark.sql.files.openCostInBytes")
    out = _out(files)
    assert out["memo"].tolist() == [f"m{i}" for i in range(400)]
    assert len(list(files.glob(".out.csv.parts-*"))) == 0
