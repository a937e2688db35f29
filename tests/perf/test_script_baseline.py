"""bench/script_baseline.run_script: the plain-script baseline ingest is timed against (issue 18 item 3).

No Spark: the script is stdlib and pyarrow only. Two hand-written UKE files (CP932, CRLF, one with the
trailing 0x1A EOF mark) and a copy under `_truth` that the file search must skip.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.script_baseline import main, run_script

CLINIC_A = [
    "IR,1,13,1,1234567,,テスト医院,202501,00,",
    "RE,1,1112,202412,山田　太郎,1,19800101,,,,,,,00001",
    "HO,06132013,１２３,４５６,1,,,",
    "SY,8842224,20241201,1,,",
    "SI,11,1,111000110,,1,1",
    "RE,2,1112,202412,佐藤　花子,2,19750505,,,,,,,00002",
    "SY,8830417,20241203,1,,",
    "GO,2,100,99",
]
CLINIC_B = [
    "IR,1,13,1,7654321,,テスト診療所,202501,00,",
    "RE,1,1112,202412,鈴木　一郎,1,19900909,,,,,,,00003",
    "SI,11,1,111000110,,1,1",
    "SI,12,1,112007410,,1,1",
    "GO,1,50,99",
]


def _write(path: Path, lines: list[str], eof_mark: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp932") + (b"\x1a" if eof_mark else b""))


@pytest.fixture
def uke_dir(tmp_path) -> Path:
    root = tmp_path / "in"
    _write(root / "1234567" / "202501" / "RECEIPTC.UKE", CLINIC_A, eof_mark=True)
    _write(root / "7654321" / "202501" / "RECEIPTC.UKE", CLINIC_B)
    _write(root / "_truth" / "RECEIPTC.UKE", CLINIC_B)  # never an input, as for ingest
    return root


def _rows(out: Path, root: Path) -> dict[str, list[tuple[str, int, int, str]]]:
    """record type -> (institution folder of the file, line, receipt ordinal, fields joined), sorted."""
    got = {}
    for folder in sorted(out.iterdir()):
        table = pq.read_table(folder).to_pylist()
        got[folder.name] = sorted((Path(r["file"]).relative_to(root).parts[0], r["line"], r["receipt"],
                                   ",".join(r["fields"])) for r in table)
    return got


EXPECTED = {
    "IR": [("1234567", 1, 0, CLINIC_A[0]), ("7654321", 1, 0, CLINIC_B[0])],
    "RE": [("1234567", 2, 1, CLINIC_A[1]), ("7654321", 2, 1, CLINIC_B[1]),
           ("1234567", 6, 2, CLINIC_A[5])],
    "HO": [("1234567", 3, 1, CLINIC_A[2])],
    "SY": [("1234567", 4, 1, CLINIC_A[3]), ("1234567", 7, 2, CLINIC_A[6])],
    "SI": [("7654321", 3, 1, CLINIC_B[2]), ("7654321", 4, 1, CLINIC_B[3]),
           ("1234567", 5, 1, CLINIC_A[4])],
    "GO": [("7654321", 5, 1, CLINIC_B[4]), ("1234567", 8, 2, CLINIC_A[7])],
}


@pytest.mark.parametrize("processes", [1, 2])
def test_run_script_writes_every_line_under_its_record_type_with_its_receipt_ordinal(uke_dir, tmp_path, processes):
    files = sorted(uke_dir.glob("[0-9]*/*/RECEIPTC.UKE"))
    got = run_script(files, tmp_path / "out", processes=processes)
    assert (got["files"], got["lines"], got["processes"]) == (2, 13, processes)
    assert got["seconds"] > 0 and got["lines_per_s"] > 0
    assert _rows(tmp_path / "out", uke_dir) == {k: sorted(v) for k, v in EXPECTED.items()}  # the 0x1A mark is no line; Japanese names survive CP932
    parts = {p.name for p in (tmp_path / "out").glob("*/*.parquet")}
    assert parts == {f"part-{w:03d}.parquet" for w in range(processes)}  # one file per record type per worker


def test_the_command_finds_uke_files_as_ingest_does_skipping_underscore_folders(uke_dir, tmp_path, capsys):
    assert main(["--input", str(uke_dir), "--out", str(tmp_path / "out")]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["files"], got["lines"]) == (2, 13)
    with pytest.raises(SystemExit):
        main(["--input", str(tmp_path / "out"), "--out", str(tmp_path / "out2")])  # no UKE file there
