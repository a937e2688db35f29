"""`tokumei kanon`: the failures it reports before Spark starts (exit 2 naming what is wrong)."""

from __future__ import annotations

import pytest
from helpers.kanon_files import HEADER, LINES, run_kanon, write_hierarchies

from jobs import kanon


@pytest.fixture()
def files(tmp_path):
    return write_hierarchies(tmp_path)


def test_bad_k_is_refused_before_spark_starts(files, capsys):
    assert run_kanon(files, LINES, "--k", "0") == 2
    assert "--k must be at least 1, got 0" in capsys.readouterr().err


def test_missing_hierarchy_file_is_an_input_error(files, capsys):
    (files / "h" / "t_hierarchy_都道府県.csv").unlink()
    assert run_kanon(files, LINES, "--k", "2") == 2
    assert "no hierarchy for quasi-identifier '都道府県'" in capsys.readouterr().err


def test_unknown_qi_column_names_the_available_ones(files, capsys):
    (files / "in.csv").write_text(HEADER + "\n", encoding="utf-8")
    code = kanon.main(["--input", str(files / "in.csv"), "--hierarchies", str(files / "h"), "--qi", "年齢",
                       "--k", "2", "--out", str(files / "o.csv")])
    assert code == 2 and "missing ['年齢']; available: ['id', '性別', '都道府県', '病名', 'memo']" in capsys.readouterr().err
