"""ARX hierarchy files: parsing, Loss shares, and the errors that name file and value."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from jobs.runtime.hierarchy_files import load_hierarchies
from transforms.kanon import HierarchyError, parse_hierarchy
from transforms.kanon.hierarchy import read_hierarchy_text
from transforms.release.qi_hierarchies import area_rows, to_arx

REPO = Path(__file__).resolve().parents[2]


def test_parse_levels_labels_and_arx_shares():
    h = read_hierarchy_text("pref", "東京都;関東;*\n神奈川県;関東;*\n\n大阪府;関西;*\n", "p.csv")
    assert (h.depth, h.size) == (3, 3)
    assert h.labels[1] == ("関東", "関西") and h.label(1, h.leaf_index["大阪府"]) == "関西"
    assert list(h.share(0)) == [0.0, 0.0, 0.0]
    assert list(h.share(1)) == [0.5, 0.5, 0.0]  # (2 leaves - 1) / (3 - 1); 関西 has one leaf
    assert list(h.share(2)) == [1.0, 1.0, 1.0]


def test_arx_adult_hierarchies_load_with_the_documented_sizes(shared_dir):
    hs = load_hierarchies(shared_dir / "bench" / "arx", ["age", "native-country", "sex", "education"])
    assert [(hs[a].size, hs[a].depth) for a in hs] == [(100, 5), (41, 3), (2, 2), (16, 4)]


@pytest.mark.parametrize(
    "text,message",
    [
        ("a;x;*\nb;*\n", r"row 2 .* has 2 levels, the first row has 3"),
        ("a;x;*\na;y;*\n", r"leaf 'a' appears twice"),
        ("a;x;P\nb;x;Q\n", r"level 1 value 'x' generalizes to both 'P' and 'Q'"),
        ("\n\n", r"has no rows"),
    ],
)
def test_malformed_hierarchies_are_refused_by_name(text, message):
    with pytest.raises(HierarchyError, match=message):
        read_hierarchy_text("attr", text, "bad.csv")


def test_missing_hierarchy_file_names_directory_and_expected_file(tmp_path):
    (tmp_path / "x_hierarchy_sex.csv").write_text("男;*\n女;*\n", encoding="utf-8")
    with pytest.raises(HierarchyError, match=r"no hierarchy for quasi-identifier 'age' .*x_hierarchy_sex.csv"):
        load_hierarchies(tmp_path, ["sex", "age"])
    (tmp_path / "y_hierarchy_sex.csv").write_text("男;*\n女;*\n", encoding="utf-8")
    with pytest.raises(HierarchyError, match=r"several hierarchies for 'sex'"):
        load_hierarchies(tmp_path, ["sex"])
    with pytest.raises(HierarchyError, match=r"hierarchy directory not found"):
        load_hierarchies(tmp_path / "nope", ["sex"])


def test_parse_hierarchy_accepts_rows_directly():
    h = parse_hierarchy("sex", [("男", "*"), ("女", "*")], "sex")
    assert h.leaf_index == {"男": 0, "女": 1} and h.labels[1] == ("*",)


def test_value_share_of_labels_ranges_and_star():
    from transforms.kanon.metrics import value_share

    age = parse_hierarchy("age", [[str(a), f"{a // 5 * 5}-{a // 5 * 5 + 4}", "*"] for a in range(20, 30)], "age")
    assert value_share(age, "25-29") == 4 / 9 and value_share(age, "25-29", level=1) == 4 / 9
    assert value_share(age, "21-23") == 2 / 9  # a Mondrian range: leaves 21, 22, 23
    assert value_share(age, "*") == 1.0 and value_share(age, "27") == 0.0
    with pytest.raises(ValueError, match=r"released value '90-99' of 'age' is not in its hierarchy"):
        value_share(age, "90-99")


def test_req21_area_hierarchy_file_is_generated_from_prefectures():
    path = REPO / "conf" / "hierarchies"
    lines = [line for line in (path / "prefectures.csv").read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    codes = [r["pref_code"] for r in csv.DictReader(lines)]
    assert len(codes) == 47
    assert (path / "patients_hierarchy_area.csv").read_text(encoding="utf-8") == to_arx(area_rows(codes))
    assert area_rows(["13"])[0] == ["13", "関東", "*"]

