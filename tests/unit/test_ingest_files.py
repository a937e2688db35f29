"""File discovery in the driver: content-based recognition, limits before Spark starts, CLI exits,
and which earlier version of a file a new one replaces."""

import datetime as dt
import hashlib

import pytest

from jobs.ingest import main
from jobs.runtime.errors import InputError
from jobs.stages.ingest.counts import version_info
from jobs.stages.ingest.files import MAX_LINE_BYTES, SourceFile, discover, spark_path
from transforms.clinical.extract import ClinicalColumn, ClinicalLayout

UKE = "IR,1,13,1,1234567,,テスト医院,202501,00\r\nRE,1,1112,202501,試験　太郎,1,19800101\r\nGO,1,0,99\r\n".encode("cp932")
LABS = ClinicalLayout("labs", (ClinicalColumn("patient_id", "string"), ClinicalColumn("value", "double")))


def test_files_are_recognized_by_content_not_name(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "claims.dat").write_bytes(UKE)
    (tmp_path / "RECEIPTC.UKE").write_bytes(b"\xef\xbb\xbf" + UKE.decode("cp932").encode())  # UTF-8 with BOM
    (tmp_path / "labs_2025.csv").write_text("patient_id,value\nK-1,6.1\n", encoding="utf-8")
    (tmp_path / "other.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    (tmp_path / "README.UKE").write_text("見出し\n", encoding="utf-8")
    (tmp_path / ".hidden.UKE").write_bytes(UKE)
    files, skipped = discover(str(tmp_path), [LABS], max_file_bytes=10**6, allow_unrecognized=True)
    got = {f.rel_path: (f.kind, f.table, f.line_end, f.size) for f in files}
    assert got == {"RECEIPTC.UKE": ("uke", None, "crlf", 3 + len(UKE.decode("cp932").encode())),
                   "a/claims.dat": ("uke", None, "crlf", len(UKE)),
                   "labs_2025.csv": ("clinical", "labs", "lf", 25)}
    assert sorted(skipped) == ["README.UKE", "other.csv"]
    assert {f.rel_path: f.sha256 for f in files}["a/claims.dat"] == hashlib.sha256(UKE).hexdigest()


def test_an_unrecognized_file_refuses_the_input_naming_it_before_spark(tmp_path, capsys):
    """Issue 20 item 6: a file tokumei cannot read (a claim kind it does not know, a stray file) stops the
    ingest with exit 1 and its name, before any file is hashed or the warehouse exists."""
    (tmp_path / "in" / "other").mkdir(parents=True)
    (tmp_path / "in" / "RECEIPTC.UKE").write_bytes(UKE)
    (tmp_path / "in" / "other" / "RECEIPT.CSV").write_bytes("ZZ,1,13,9,1234567\r\n".encode("cp932"))  # no claim kind
    (tmp_path / "in" / "notes.txt").write_text("not a claim file", encoding="utf-8")
    args = ["--input", str(tmp_path / "in"), "--warehouse", str(tmp_path / "wh")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "tokumei: refused:" in err and "2 件" in err and "--allow-unrecognized" in err
    assert "notes.txt, other/RECEIPT.CSV" in err and "何も変更していません" in err
    assert not (tmp_path / "wh").exists()
    files, skipped = discover(str(tmp_path / "in"), [], max_file_bytes=10**6, allow_unrecognized=True)
    assert ([f.rel_path for f in files], skipped) == (["RECEIPTC.UKE"], ["notes.txt", "other/RECEIPT.CSV"])


def test_a_file_above_max_file_bytes_is_refused_by_name_and_limit(tmp_path):
    (tmp_path / "big.UKE").write_bytes(UKE)
    with pytest.raises(InputError, match=r"big\.UKE: \d+ bytes is above ingest.max_file_bytes = 50"):
        discover(str(tmp_path), [], max_file_bytes=50)


def test_a_line_longer_than_the_limit_is_refused_with_its_line_number(tmp_path):
    (tmp_path / "long.UKE").write_bytes(b"IR,1\r\nRE,1\r\nSJ,1," + b"x" * (MAX_LINE_BYTES + 10) + b"\r\nGO\r\n")
    with pytest.raises(InputError, match=r"long\.UKE: line 3 is longer than 1048576 bytes"):
        discover(str(tmp_path), [], max_file_bytes=10**9)


def test_glob_characters_in_names_are_escaped_for_spark():
    assert spark_path("/in/a[1]{x}*?.UKE") == r"/in/a\[1\]\{x\}\*\?.UKE"


def test_cli_exits_2_before_spark_for_bad_input(tmp_path, capsys):
    assert main(["--input", str(tmp_path / "missing"), "--warehouse", str(tmp_path / "wh")]) == 2
    assert "not a directory" in capsys.readouterr().err
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "big.UKE").write_bytes(UKE)
    conf = tmp_path / "pipeline.yaml"
    conf.write_text("keys:\n  key_id: demo\ningest:\n  max_file_bytes: 10\n", encoding="utf-8")
    assert main(["--input", str(tmp_path / "in"), "--warehouse", str(tmp_path / "wh"), "--conf", str(conf)]) == 2
    err = capsys.readouterr().err
    assert "big.UKE" in err and "ingest.max_file_bytes = 10" in err
    assert not (tmp_path / "wh").exists()


def test_cli_help_describes_the_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0 and "tokumei ingest" in capsys.readouterr().out


def test_layout_files_must_have_known_types():
    with pytest.raises(ValueError, match="type outside"):
        ClinicalLayout("x", (ClinicalColumn("a", "varchar"),))


def test_req33_a_declared_extract_with_the_wrong_header_is_refused(tmp_path):
    (tmp_path / "clinical").mkdir()
    (tmp_path / "clinical" / "labs.csv").write_text("patient,val\nK-1,6.1\n", encoding="utf-8")
    layout = ClinicalLayout("labs", LABS.columns, files=("clinical/*.csv",))
    with pytest.raises(InputError, match=r"labs\.csv: header \['patient', 'val'\] does not match layout labs"):
        discover(str(tmp_path), [layout], max_file_bytes=10**6)


def test_only_the_same_claim_batch_replaces_an_earlier_version():
    f = SourceFile("/in/RECEIPTC.UKE", "RECEIPTC.UKE", 10, "b" * 64, "uke", None, "crlf")
    before = [{"path": "/in/RECEIPTC.UKE", "file_sha256": "a" * 64, "version": 1, "kind": "uke", "table": None,
               "institution_code": "1234567", "billing_month": dt.date(2021, 11, 1), "payer_kind": "1", "volume_no": "00"}]
    same = {"b" * 64: {"institution_code": "1234567", "billing_month": dt.date(2021, 11, 1), "payer_kind": "1", "volume_no": "00"}}
    next_month = {"b" * 64: {**same["b" * 64], "billing_month": dt.date(2021, 12, 1)}}
    assert version_info([f], before, same)["b" * 64] == {"version": 2, "supersedes_sha256": "a" * 64, "replaced_previous": True}
    assert version_info([f], before, next_month)["b" * 64]["replaced_previous"] is False
    assert version_info([f], [], same)["b" * 64] == {"version": 1, "supersedes_sha256": None, "replaced_previous": False}

