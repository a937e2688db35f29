"""Raw text lines -> positioned, decoded UKE lines: file, line number, receipt ordinal.

Large files are read as lines by Spark's text source, which splits a file into blocks read by
different tasks; CP932 trail bytes are never 0x0A/0x0D, so splitting bytes at line ends is safe.
The text source does not validate UTF-8, so `value` holds each line's exact bytes; we decode here,
per file, once the encoding is known.

Order is rebuilt without a global sort: within one block the rows of a task come in file order
(`monotonically_increasing_id`), blocks are ordered by `file_block_start`, and a small per-block
count gives each block's line and RE offsets. A child record belongs to the RE before it
(uke_format.md §1 "Order"), so its receipt ordinal is the running count of RE lines.

`spark.sql.legacy.codingErrorAction=true` must be set (jobs/ingest.py does): CP932 bytes that do not
decode then become U+FFFD, which we turn into an `undecodable_bytes` reject, instead of failing the job.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from transforms.uke.layout import CLAIM_KINDS

OTHER = "_other"  # partition of lines whose record id is not a record of their file's claim kind
_EOF = "\u001a"


def source_path(uri: Column) -> Column:
    """`_metadata.file_path` (a URI with %-escapes) -> the plain path the driver listed."""
    decoded = F.url_decode(F.replace(uri, F.lit("+"), F.lit("%2B")))
    return F.regexp_replace(decoded, r"^file:/+", "/")


def select_raw_lines(text_scan: DataFrame) -> DataFrame:
    """Source position of every line. Apply directly to `spark.read.text(...)`, before any shuffle."""
    return text_scan.select(
        source_path(F.col("_metadata.file_path")).alias("file_path"),
        F.col("_metadata.file_block_start").alias("block_start"),
        F.monotonically_increasing_id().alias("seq"),
        F.col("value").alias("raw"),
    )


def _only_eof(raw: Column) -> Column:
    """A line made only of 0x1A bytes (trims instead of a regex: this runs on every line)."""
    return (F.length(raw) > 0) & (F.rtrim(raw, F.lit(_EOF)) == "")


def record_id(line: Column) -> Column:
    """The record id: everything before the first comma (ASCII, so raw bytes compare as text)."""
    return F.substring_index(line, ",", 1)


def _flag(cond: Column) -> Column:
    return F.sum(cond.cast("long"))


def block_stats(raw: DataFrame) -> DataFrame:
    """Per (file, block): lines, RE and GO lines, encoding votes, and whether the block ends in 0x1A."""
    valid_utf8 = F.is_valid_utf8("raw")
    multibyte = F.octet_length("raw") != F.char_length("raw")
    return raw.groupBy("file_path", "block_start").agg(
        F.count(F.lit(1)).alias("lines"),
        _flag(record_id(F.col("raw")) == "RE").alias("re_lines"),
        _flag(record_id(F.col("raw")) == "GO").alias("go_lines"),
        # A line of CP932 Japanese is almost never valid UTF-8, and UTF-8 Japanese never is CP932-only.
        _flag(valid_utf8 & multibyte).alias("utf8_lines"),
        _flag(~valid_utf8).alias("non_utf8_lines"),
        F.max_by(_only_eof(F.col("raw")), F.col("seq")).alias("ends_with_eof"),
    )


def file_layout(stats: DataFrame, encoding: str = "auto") -> DataFrame:
    """Per block: offsets of lines, RE and GO before it in its file, plus file totals and encoding.

    encoding: `auto` decides per file by majority of the non-ASCII lines (ties and ASCII-only files
    are CP932, the UKE default); `cp932` or `utf-8` force it.
    """
    before = Window.partitionBy("file_path").orderBy("block_start").rowsBetween(Window.unboundedPreceding, -1)
    whole = Window.partitionBy("file_path")
    last = Window.partitionBy("file_path").orderBy(F.col("block_start").desc())
    voted = F.when(F.sum("utf8_lines").over(whole) > F.sum("non_utf8_lines").over(whole), "utf-8").otherwise("cp932")
    chosen = voted if encoding == "auto" else F.lit({"cp932": "cp932", "utf-8": "utf-8"}[encoding])
    return stats.select(
        "file_path",
        "block_start",
        F.coalesce(F.sum("lines").over(before), F.lit(0)).alias("line_offset"),
        F.coalesce(F.sum("re_lines").over(before), F.lit(0)).alias("re_offset"),
        F.coalesce(F.sum("go_lines").over(before), F.lit(0)).alias("go_offset"),
        F.sum("lines").over(whole).alias("file_lines"),
        F.sum("utf8_lines").over(whole).alias("utf8_lines"),
        F.sum("non_utf8_lines").over(whole).alias("non_utf8_lines"),
        F.first("ends_with_eof").over(last).alias("ends_with_eof"),
        chosen.alias("encoding"),
    )


# Full-width Japanese (CJK punctuation, kana, kanji, full-width forms): 3-byte UTF-8 sequences. A CP932
# line whose bytes happen to be valid UTF-8 (runs of half-width kana can be) decodes to Latin letters.
_JAPANESE = "[\u3000-\u30ff\u4e00-\u9fff\uff01-\uff5e]"
UNDECODABLE = "bytes that do not decode as %s"
FOREIGN_UTF8 = "a UTF-8 line in a CP932 file (raw_text shows it as UTF-8)"


def _decode(raw: Column, encoding: Column, first_line: Column) -> tuple[Column, Column]:
    """(text, undecodable) for one line in its file's encoding; BOM and trailing 0x1A removed.

    `undecodable` is null for a good line, else what is wrong (the reject's detail): bytes that do
    not decode, or a line of Japanese in UTF-8 inside a CP932 file (a file concatenated from two
    sources). Such a line decodes as CP932 to mojibake, so it is rejected, never parsed."""
    cp932 = F.decode(raw.cast("binary"), "windows-31j")
    as_utf8 = F.when(F.is_valid_utf8(raw), raw)
    text = F.when(encoding == "utf-8", as_utf8).otherwise(cp932)
    multibyte = F.octet_length(raw) != F.char_length(raw)  # cheap, and false for the many ASCII-only lines
    foreign = (encoding != "utf-8") & multibyte & F.coalesce(as_utf8.rlike(_JAPANESE), F.lit(False))
    bad = text.isNull() | F.contains(text, F.lit("\ufffd"))
    undecodable = F.when(foreign, F.lit(FOREIGN_UTF8)).when(bad, F.format_string(UNDECODABLE, F.upper(encoding)))
    text = F.when(foreign, as_utf8).otherwise(text)
    text = F.when(first_line, F.regexp_replace(text, "^\ufeff", "")).otherwise(text)
    return F.rtrim(F.coalesce(text, F.decode(raw.cast("binary"), "UTF-8")), F.lit(_EOF)), undecodable


def layout_key(claim_kind: Column, rid: Column) -> Column:
    """The layout partition of a line (`RecordLayout.key`): its record id read in its file's claim kind.

    One lookup in a constant map ("dental:RE" -> "dental_RE"): a CASE per (kind, record id) would repeat
    `rid`, itself the whole decoding of the line, once per branch, and the generated code of the sort
    that partitions the lines grew past the JVM's 64 KB method limit."""
    keys = [F.lit(part) for kind in CLAIM_KINDS.values() for rt, layout in kind.records.items()
            for part in (f"{kind.name}:{rt}", layout.key)]
    return F.coalesce(F.try_element_at(F.create_map(*keys), F.concat_ws(":", claim_kind, rid)), F.lit(OTHER))


def position_lines(raw: DataFrame, layout: DataFrame, files: DataFrame) -> DataFrame:
    """Raw lines -> decoded lines with line_no, receipt_ordinal, after_go and a layout partition.

    `layout` comes from `file_layout`; `files` maps file_path -> file_sha256, claim_kind (small, from
    the driver).
    The final 0x1A EOF mark (uke_format.md §1) is dropped here and reported by `file_layout`.
    """
    block = Window.partitionBy("file_path", "block_start").orderBy("seq")
    upto = block.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    before = block.rowsBetween(Window.unboundedPreceding, -1)
    is_re = (record_id(F.col("raw")) == "RE").cast("long")
    is_go = (record_id(F.col("raw")) == "GO").cast("long")
    placed = (
        raw.join(F.broadcast(layout), ["file_path", "block_start"], how="inner")
        .join(F.broadcast(files), ["file_path"], how="inner")
        .select(
            "*",
            (F.col("line_offset") + F.row_number().over(block)).alias("line_no"),
            (F.col("re_offset") + F.sum(is_re).over(upto)).alias("receipt_ordinal"),
            (F.col("go_offset") + F.coalesce(F.sum(is_go).over(before), F.lit(0)) > 0).alias("after_go"),
        )
    )
    eof_mark = (F.col("line_no") == F.col("file_lines")) & _only_eof(F.col("raw"))
    text, undecodable = _decode(F.col("raw"), F.col("encoding"), F.col("line_no") == 1)
    rid = record_id(text)
    return placed.where(~eof_mark).select(
        "file_sha256",
        "file_path",
        "line_no",
        "receipt_ordinal",
        "after_go",
        text.alias("text"),
        undecodable.alias("undecodable"),
        F.when(undecodable.isNotNull(), F.hex(F.col("raw").cast("binary"))).alias("raw_hex"),
        "claim_kind",
        layout_key(F.col("claim_kind"), rid).alias("record_type"),
    )


def other_lines_problem(lines: DataFrame) -> DataFrame:
    """Lines in the OTHER partition: undecodable, blank, or an unknown record id -> `_rejects` shape."""
    rid = record_id(F.col("text"))
    label: Column = F.col("claim_kind")
    for kind in CLAIM_KINDS.values():
        label = F.when(F.col("claim_kind") == kind.name, F.lit(f"{kind.label} ({kind.name})")).otherwise(label)
    reason = (
        F.when(F.col("undecodable").isNotNull(), "undecodable_bytes")
        .when(F.col("text") == "", "empty_line")
        .otherwise("unknown_record_type")
    )
    return lines.select(
        "file_sha256",
        "file_path",
        F.col("line_no").cast("int").alias("line_no"),
        F.substring(rid, 1, 20).alias("record_type"),
        reason.alias("reason"),
        F.when(reason == "unknown_record_type",
               F.format_string("record id %s is not a record of a %s claim file", F.substring(rid, 1, 20), label))
        .otherwise(F.col("undecodable")).alias("detail"),
        F.col("text").alias("raw_text"),
        "raw_hex",
    )
