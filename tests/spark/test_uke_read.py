"""Line order, line numbers and receipt ordinals rebuilt from split reads; encodings detected per file."""

import shutil

import pytest
from pyspark.sql import functions as F

from transforms.local import local_frame
from transforms.uke.read import FOREIGN_UTF8, block_stats, file_layout, position_lines, select_raw_lines


def _expected(text_lines):
    """(line_no, receipt ordinal, text) as a plain sequential reader sees them."""
    out, ordinal = [], 0
    for i, line in enumerate(text_lines, start=1):
        ordinal += line.startswith("RE,")
        out.append((i, ordinal, line))
    return out


@pytest.fixture
def small_blocks(spark):
    """Split every file into ~4 KB blocks, so a 38 KB file is read by ~10 tasks."""
    old = {k: spark.conf.get(k) for k in ("spark.sql.files.maxPartitionBytes", "spark.sql.files.openCostInBytes")}
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    spark.conf.set("spark.sql.legacy.codingErrorAction", "true")
    yield
    for k, v in old.items():
        spark.conf.set(k, v)


def _positioned(spark, paths, encoding="auto"):
    raw = select_raw_lines(spark.read.text([str(p) for p in paths]))
    layout = file_layout(block_stats(raw), encoding)
    files = local_frame(spark,
        [(str(p), p.name, "medical") for p in paths], "file_path string, file_sha256 string, claim_kind string"
    )
    return layout, position_lines(raw, layout, files)


def test_split_reads_keep_exact_line_order_and_receipt_ordinals(spark, small_blocks, tmp_path, uke_sample):
    # A space, '%', '+' and Japanese in the path: Spark reports it %-escaped; we must map it back.
    src = tmp_path / "入力 a+b%20" / "RECEIPTC.UKE"
    src.parent.mkdir()
    shutil.copy(uke_sample, src)
    layout, lines = _positioned(spark, [src])
    assert layout.select("block_start").distinct().count() >= 5
    got = [(r["line_no"], r["receipt_ordinal"], r["text"]) for r in lines.orderBy("line_no").collect()]
    want = _expected(uke_sample.read_bytes().decode("cp932").split("\r\n")[:-1])
    assert len(got) == 636 and got == want
    assert layout.select("encoding").distinct().collect()[0][0] == "cp932"


def test_utf8_lf_bom_and_eof_mark_variants_read_the_same_text(spark, small_blocks, tmp_path, uke_sample):
    text = uke_sample.read_bytes().decode("cp932")
    variants = {
        "utf8_crlf.UKE": text.encode("utf-8"),
        "cp932_lf_eof.UKE": text.replace("\r\n", "\n").encode("cp932") + b"\x1a",
        "utf8_bom_lf.UKE": b"\xef\xbb\xbf" + text.replace("\r\n", "\n").encode("utf-8"),
    }
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
    layout, lines = _positioned(spark, [tmp_path / n for n in variants])
    want = _expected(text.split("\r\n")[:-1])
    for name in variants:
        got = [(r["line_no"], r["receipt_ordinal"], r["text"])
               for r in lines.where(lines.file_sha256 == name).orderBy("line_no").collect()]
        assert got == want, name
    facts = {r["file_path"].rsplit("/", 1)[1]: (r["encoding"], r["ends_with_eof"], r["file_lines"])
             for r in layout.collect()}
    assert facts == {
        "utf8_crlf.UKE": ("utf-8", False, 636),
        "cp932_lf_eof.UKE": ("cp932", True, 637),  # the EOF mark is a line that position_lines drops
        "utf8_bom_lf.UKE": ("utf-8", False, 636),
    }
    assert lines.where(F.col("undecodable").isNotNull()).count() == 0


def test_bytes_that_do_not_decode_are_flagged_with_their_hex(spark, small_blocks, tmp_path):
    path = tmp_path / "bad.UKE"
    path.write_bytes("IR,1,13\r\nRE,1,1112\r\nSY,テスト".encode("cp932") + b"\xff\r\n")
    _, lines = _positioned(spark, [path])
    rows = [(r["line_no"], r["undecodable"], r["raw_hex"]) for r in lines.orderBy("line_no").collect()]
    assert rows == [(1, None, None), (2, None, None), (3, "bytes that do not decode as CP932", "53592C836583588367FF")]


def test_forced_encoding_overrides_the_vote_and_lines_of_the_other_encoding_are_flagged(spark, small_blocks, tmp_path):
    utf8, cp932 = tmp_path / "u.UKE", tmp_path / "s.UKE"
    utf8.write_bytes("IR,1,13\r\nRE,1,1112,202110,テスト\r\n".encode())
    cp932.write_bytes("IR,1,13\r\nRE,1,1112,202110,テスト\r\n".encode("cp932"))
    layout, lines = _positioned(spark, [utf8], encoding="cp932")
    assert layout.first()["encoding"] == "cp932"
    row = lines.where("line_no = 2").first()  # not parsed as mojibake: flagged, shown as what it is
    assert (row["undecodable"], row["text"]) == (FOREIGN_UTF8, "RE,1,1112,202110,テスト")
    layout, lines = _positioned(spark, [cp932], encoding="utf-8")
    assert layout.first()["encoding"] == "utf-8"
    assert lines.where("line_no = 2").first()["undecodable"] == "bytes that do not decode as UTF-8"


def test_a_utf8_line_inside_a_cp932_file_is_flagged_line_by_line(spark, small_blocks, tmp_path):
    # Half-width kana in CP932 can be valid UTF-8 by chance (0xC3 0xBD = "ﾃｽ"): that line is CP932.
    path = tmp_path / "mixed.UKE"
    path.write_bytes(b"IR,1,13\r\n" + "RE,1,1112,202110,テスト\r\n".encode() + "SY,テスト\r\nCO,注記\r\nCO,ﾃｽ\r\n".encode("cp932"))
    layout, lines = _positioned(spark, [path])
    row = layout.first()
    assert (row["encoding"], row["utf8_lines"], row["non_utf8_lines"], row["file_lines"]) == ("cp932", 2, 2, 5)
    got = [(r["line_no"], r["text"], r["undecodable"]) for r in lines.where("line_no >= 2").orderBy("line_no").collect()]
    assert got == [(2, "RE,1,1112,202110,テスト", FOREIGN_UTF8), (3, "SY,テスト", None), (4, "CO,注記", None), (5, "CO,ﾃｽ", None)]
