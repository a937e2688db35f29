"""Reason codes for rejected lines: a small, fixed vocabulary (issue 3 item 5).

A line that cannot be parsed is never dropped: it goes to `bronze/_rejects` with its file, line
number, raw text and one of these codes. The first problem found wins, in this order: how the line
was read (bytes, blank), where it stands in the file (type, position), its shape (field count), then
its fields left to right. `detail` names the offending column.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

# code -> (説明, explanation). Japanese first: compliance staff read the rejects report.
REASONS: dict[str, tuple[str, str]] = {
    "undecodable_bytes": ("文字コードとして解釈できないバイト列を含む", "bytes that do not decode in the file's encoding"),
    "empty_line": ("空行", "blank line (or an EOF mark 0x1A that is not the last line)"),
    "unknown_record_type": ("未知のレコード識別情報", "record id not among the records of the file's claim kind"),
    "misplaced_record": ("レコードの位置が不正", "the file header (IR, UK, YK) not on line 1, or a record after GO"),
    "child_before_re": ("RE より前の明細レコード", "child record before any RE of its file"),
    "parent_rejected": ("親 RE レコードが不採用", "the RE this record belongs to was rejected"),
    "too_many_fields": ("項目数が記録条件仕様より多い", "more fields than the layout has"),
    "bad_number": ("数字項目に数字以外", "non-numeric or out-of-range value in a number field"),
    "invalid_date": ("日付の形式が不正", "date not 7/8 digits (year-month 5/6), or an unknown 元号 code"),
    "impossible_date": ("存在しない日付", "calendar-impossible date or outside its 元号's bounds"),
    "bad_header": ("ヘッダー行が様式と一致しない", "CSV header does not match the declared layout"),
}


def problem(reason: str, when: Column, detail: str | Column = "") -> Column:
    """A (reason, detail) struct when `when` holds, else null."""
    assert reason in REASONS, reason
    detail_col = detail if isinstance(detail, Column) else F.lit(detail)
    return F.when(when, F.struct(F.lit(reason).alias("reason"), detail_col.alias("detail")))


def field_problem(reason: Column, name: str) -> Column:
    """A (reason, detail=column name) struct when a field check returned a reason code."""
    return F.when(reason.isNotNull(), F.struct(reason.alias("reason"), F.lit(name).alias("detail")))


def reject_context(problems: Sequence[Column], record_type: str) -> list[Column]:
    """The trailing columns every parsed frame carries: its first problem and what a reject row needs."""
    return [
        first_problem(problems).alias("_problem"),
        F.col("file_path").alias("_file_path"),
        F.col("text").alias("_text"),
        F.col("raw_hex").alias("_raw_hex"),
        F.lit(record_type).alias("_record_type"),
    ]


def first_problem(problems: Sequence[Column]) -> Column:
    """The first non-null (reason, detail) struct in check order, or null for a good line."""
    if not problems:
        return F.lit(None).cast("struct<reason:string,detail:string>")
    return F.coalesce(*problems) if len(problems) > 1 else problems[0]
