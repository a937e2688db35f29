"""The 傷病名 reference files come from the real 傷病名マスター (issue 16 deliverable 2).

The committed conf/hierarchies/disease_hierarchy.csv and diseases.csv are, byte for byte, what
`python -m jobs.masters` writes from ../shared/reference/masters; the generator's catalog carries only
codes of that hierarchy with their ICD-10; the reader refuses what is not a 傷病名マスター and the
remap says which row found no code. No Spark.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from jobs import masters
from jobs.runtime.errors import InputError
from jobs.stages.masters import (
    UNCLASSIFIED,
    MasterDisease,
    dotted_icd10,
    icd10_chapter,
    read_disease_master,
    remap_catalog,
)

ROOT = Path(__file__).resolve().parents[2]
HIERARCHIES = ROOT / "conf" / "hierarchies"


def shared_dir() -> Path:
    """$TOKUMEI_SHARED, else the `shared` folder beside an ancestor of the repository (../shared)."""
    if os.environ.get("TOKUMEI_SHARED"):
        found = Path(os.environ["TOKUMEI_SHARED"])
        assert (found / "DESIGN.md").is_file(), f"TOKUMEI_SHARED={found}: no DESIGN.md there"
        return found
    for parent in ROOT.parents:
        if (parent / "shared" / "DESIGN.md").is_file():
            return parent / "shared"
    pytest.fail(f"no shared folder: set TOKUMEI_SHARED or put shared/DESIGN.md beside an ancestor of {ROOT}")


@pytest.fixture(scope="module")
def master_file() -> Path:
    path = shared_dir() / "reference" / "masters" / "b_20240601.txt"
    assert path.is_file(), f"{path} missing (see reference/masters/SOURCE.txt)"
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


@pytest.fixture(scope="module")
def hierarchy() -> dict[str, dict[str, str]]:
    return {r["disease_code"]: r for r in _rows(HIERARCHIES / "disease_hierarchy.csv")}


def test_the_committed_hierarchy_is_what_the_command_writes_from_the_master(master_file, tmp_path):
    out = tmp_path / "disease_hierarchy.csv"
    assert masters.main(["--disease-master", str(master_file), "--out", str(out)]) == 0
    assert out.read_bytes() == (HIERARCHIES / "disease_hierarchy.csv").read_bytes()


def test_the_committed_catalog_is_a_fixpoint_of_the_remap(master_file, tmp_path, capsys):
    catalog = tmp_path / "diseases.csv"
    shutil.copyfile(HIERARCHIES / "diseases.csv", catalog)
    assert masters.main(["--disease-master", str(master_file), "--remap-catalog", str(catalog)]) == 0
    assert catalog.read_bytes() == (HIERARCHIES / "diseases.csv").read_bytes()
    assert "369 rows; 369 kept" in capsys.readouterr().out


def test_every_code_of_the_master_once_with_the_fallback_for_codes_without_icd10(hierarchy):
    assert len(hierarchy) == 27437
    assert sum(1 for r in hierarchy.values() if r["icd10_chapter"] == UNCLASSIFIED) == 22
    assert sum(1 for r in hierarchy.values() if r["abolished"]) == 0  # b_20240601 lists no abolished code
    hypertension = [r for r in hierarchy.values() if r["name"] == "高血圧症"]
    assert hypertension == [{"disease_code": "8833421", "name": "高血圧症", "icd10": "I10", "icd10_3": "I10",
                             "icd10_chapter": "IX", "abolished": ""}]
    assert hierarchy["0000999"] == {"disease_code": "0000999", "name": "＊＊　未コード化傷病名　＊＊", "icd10": "",
                                    "icd10_3": "", "icd10_chapter": "分類不能", "abolished": ""}
    assert hierarchy["2500015"]["icd10"] == "E11" and hierarchy["2500015"]["icd10_chapter"] == "IV"  # ２型糖尿病
    assert (hierarchy["8840829"]["icd10"], hierarchy["8840829"]["icd10_3"]) == ("M54.56", "M54")  # 腰痛症
    assert (hierarchy["8830408"]["icd10"], hierarchy["8830408"]["icd10_chapter"]) == ("F15.2b", "V")  # アンフェタミン依存
    assert (hierarchy["8050022"]["icd10"], hierarchy["8050022"]["icd10_chapter"]) == ("T08.-0", "XIX")  # シートベルト骨折


def test_every_catalog_code_is_a_distinct_master_code_with_the_same_icd10_and_chapter(hierarchy):
    catalog = _rows(HIERARCHIES / "diseases.csv")
    assert len(catalog) == 369 and len({r["disease_code"] for r in catalog}) == 369
    wrong = [(r["disease_code"], r["name"], r["icd10"], r["icd10_chapter"]) for r in catalog
             if r["disease_code"] not in hierarchy
             or (hierarchy[r["disease_code"]]["icd10"], hierarchy[r["disease_code"]]["icd10_chapter"], hierarchy[r["disease_code"]]["name"])
             != (r["icd10"], r["icd10_chapter"], r["name"])]
    assert wrong == []
    outside_block = [r for r in catalog if not r["icd10_block"][:3] <= r["icd10"][:3] <= r["icd10_block"][-3:]]
    assert outside_block == []
    assert [r["name"] for r in catalog[:3]] == ["高血圧症", "脂質異常症", "２型糖尿病"]  # frequency order kept


@pytest.mark.parametrize("raw, dotted", [("E119", "E11.9"), ("I10", "I10"), ("S6260", "S62.60"), ("F152b", "F15.2b"),
                                         ("T08-0", "T08.-0")])
def test_icd10_gets_a_dot_after_the_category(raw, dotted):
    assert dotted_icd10(raw) == dotted


@pytest.mark.parametrize("raw", ["E1", "e119", "E11.9", "E119999", "T08-", "11E9"])
def test_a_malformed_icd10_is_refused(raw):
    with pytest.raises(ValueError, match="not an ICD-10 code"):
        dotted_icd10(raw)


@pytest.mark.parametrize("icd10, chapter", [("A00.0", "I"), ("D48.9", "II"), ("D50", "III"), ("H59.0", "VII"),
                                            ("H60.1", "VIII"), ("T98.3", "XIX"), ("V01", "XX"), ("U07.1", "XXII"),
                                            ("Z99.2", "XXI"), ("", UNCLASSIFIED), ("D49", None), ("K94", None)])
def test_chapters_by_category(icd10, chapter):
    assert icd10_chapter(icd10) == chapter


def _line(code: str = "8833421", name: str = "高血圧症", icd10: str = "I10", abolished: str = "99999999",
          kind: str = "B", fields: int = 46) -> str:
    row = ["0", kind, code, code, "4", name] + [""] * (fields - 6)
    if fields > 23:
        row[15], row[23] = icd10, abolished
    return ",".join(f'"{v}"' for v in row) + "\r\n"


def test_the_reader_keeps_abolished_codes_and_codes_without_icd10(tmp_path):
    path = tmp_path / "b.txt"
    path.write_bytes((_line() + _line("0000999", "未コード化傷病名", "") + _line("4019001", "本態性高血圧", "I10", "20200531"))
                     .encode("cp932"))
    assert read_disease_master(path) == [MasterDisease("8833421", "高血圧症", "I10", "", "IX"),
                                         MasterDisease("0000999", "未コード化傷病名", "", "", UNCLASSIFIED),
                                         MasterDisease("4019001", "本態性高血圧", "I10", "20200531", "IX")]


@pytest.mark.parametrize("text, message", [
    (_line(kind="Y"), r"b.txt:1: not a 傷病名マスター record"),
    (_line(fields=20), r"b.txt:1: not a 傷病名マスター record"),
    (_line(code="883342"), r"b.txt:1: 傷病名コード '883342' is not 7 digits"),
    (_line(icd10="I1"), r"b.txt:1: 傷病名コード 8833421: not an ICD-10 code: 'I1'"),
    (_line(icd10="D49"), r"b.txt:1: 傷病名コード 8833421: ICD-10 D49 is in no chapter"),
    (_line(abolished="2020"), r"b.txt:1: 傷病名コード 8833421: 廃止年月日 '2020' is not YYYYMMDD"),
    (_line() + _line(), r"b.txt:2: 傷病名コード 8833421 appears twice"),
    ("", r"b.txt: no records"),
])
def test_the_reader_refuses_what_is_not_the_master_naming_file_and_line(tmp_path, text, message):
    path = tmp_path / "b.txt"
    path.write_bytes(text.encode("cp932"))
    with pytest.raises(InputError, match=message):
        read_disease_master(path)


def test_the_reader_refuses_a_missing_file_and_text_that_is_not_cp932(tmp_path):
    with pytest.raises(InputError, match="傷病名マスター not found"):
        read_disease_master(tmp_path / "nope.txt")
    path = tmp_path / "b.txt"
    path.write_bytes(b'"0","B","\x85\x40"\r\n')
    with pytest.raises(InputError, match="not CP932"):
        read_disease_master(path)


MASTER = [
    MasterDisease("1000001", "高血圧症", "I10", "", "IX"),
    MasterDisease("1000002", "２型糖尿病", "E11", "", "IV"),
    MasterDisease("1000003", "２型糖尿病・糖尿病性合併症なし", "E11.9", "", "IV"),
    MasterDisease("1000004", "じんま疹", "L50.9", "", "XII"),
    MasterDisease("1000005", "腰痛症", "M54.56", "", "XIII"),
    MasterDisease("1000006", "脾性貧血", "D64.8", "", "III"),
    MasterDisease("1000007", "蕁麻疹", "L50.9", "20200101", "XII"),  # abolished: never chosen
    MasterDisease("1000008", "コレラ", "A00.9", "", "I"),
]


def _row(code: str, name: str, icd10: str, block: str, chapter: str) -> dict[str, str]:
    return {"disease_code": code, "name": name, "icd10": icd10, "icd10_block": block, "icd10_chapter": chapter}


def test_the_remap_tries_name_then_name_in_category_then_closest_name_then_category_then_block():
    rows = [_row("8800001", "高血圧症", "I10", "I10-I15", "IX"), _row("8800002", "２型糖尿病", "E11.9", "E10-E14", "IV"),
            _row("8800003", "蕁麻疹", "L50.9", "L50-L54", "XII"), _row("8800004", "腰痛症", "M54.5", "M50-M54", "XIII"),
            _row("8800005", "腎性貧血", "D63.8", "D60-D64", "III"), _row("8800006", "糖尿病", "E11.9", "E10-E14", "IV"),
            _row("1000008", "コレラ", "A00.9", "A00-A09", "I")]
    got = [(r.row["disease_code"], r.row["name"], r.row["icd10"], r.row["icd10_block"], r.how)
           for r in remap_catalog(rows, MASTER, "diseases.csv")]
    assert got == [("1000001", "高血圧症", "I10", "I10-I15", "name"),
                   ("1000002", "２型糖尿病", "E11", "E10-E14", "name in category"),
                   ("1000004", "じんま疹", "L50.9", "L50-L54", "icd10 + similar name"),
                   ("1000005", "腰痛症", "M54.56", "M50-M54", "name in category"),
                   ("1000006", "脾性貧血", "D64.8", "D60-D64", "block + similar name"),
                   ("1000003", "２型糖尿病・糖尿病性合併症なし", "E11.9", "E10-E14", "icd10 + similar name"),
                   ("1000008", "コレラ", "A00.9", "A00-A09", "kept")]


def test_the_remap_names_every_row_it_cannot_place():
    rows = [_row("8800001", "高血圧症", "I10", "I10-I15", "IX"), _row("8800002", "急性上気道炎", "J06.9", "J00-J06", "X")]
    with pytest.raises(InputError, match=r"diseases.csv: no master code in the same ICD-10 block for: 8800002 急性上気道炎 J06.9$"):
        remap_catalog(rows, MASTER, "diseases.csv")


def test_the_command_needs_something_to_do_and_a_catalog_with_its_columns(master_file, tmp_path, capsys):
    assert masters.main(["--disease-master", str(master_file)]) == 2
    assert "nothing to do" in capsys.readouterr().err
    catalog = tmp_path / "diseases.csv"
    catalog.write_text("# comment\ndisease_code,name,icd10\n8833421,高血圧症,I10\n", encoding="utf-8")
    assert masters.main(["--disease-master", str(master_file), "--remap-catalog", str(catalog)]) == 2
    assert "missing columns ['icd10_block', 'icd10_chapter']" in capsys.readouterr().err
