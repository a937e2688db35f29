import datetime as dt
import random
import re

import pytest
from pyspark.sql import functions as F

from transforms.columns import text
from transforms.identity import keys as i
from transforms.identity.keys import (
    id1_of_parts,
    id2_of_parts,
    normalize_branch,
    normalize_card,
    normalize_digits,
    normalize_insurer,
    normalize_kana,
    with_id_parts,
)
from transforms.local import local_frame


def _one(spark, expr, value, schema="v string"):
    return local_frame(spark, [(value,)], schema).select(expr(F.col("v")).alias("o")).first()["o"]


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("ヤマダ　タロウ", "ヤマダタロウ"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"),
        ("やまだ たろう", "ヤマダタロウ"),
        ("ｷｮｳｺ", "キヨウコ"),
        ("キョウコ", "キヨウコ"),
        ("ﾊﾟｸ ｼﾞｭﾝ", "パクジユン"),
        ("ヴァン・ゴッホ", "ヴアンゴツホ"),
        ("", None),
        (None, None),
    ],
)
def test_req42_kana_forms_normalize_to_one_key(spark, raw, want):
    assert _one(spark, normalize_kana, raw) == want


@pytest.mark.parametrize(
    ("fn", "raw", "want"),
    [
        (normalize_digits, "  133066", "133066"),
        (normalize_digits, "１３３０６６", "133066"),
        (normalize_digits, "   ", None),
        (normalize_insurer, " 6139992", "06139992"),
        (normalize_insurer, "  133066", "133066"),
        (normalize_card, "１２３－４５", "12345"),
        (normalize_card, "ａｂ 12", "AB12"),
        (normalize_branch, "1", "01"),
        (normalize_branch, "０２", "02"),
        (normalize_branch, None, ""),
    ],
)
def test_req42_number_fields_normalize(spark, fn, raw, want):
    assert _one(spark, fn, raw) == want


def _ids(df):
    """ID1, ID1 without 枝番 and ID2 the way linkage and opt-out build them (with_id_parts, then the IDs)."""
    c = F.col
    parts = with_id_parts(df, c("ins"), c("sym"), c("num"), c("br"), c("born"), c("sex"), c("kana"))
    return parts.select(id1_of_parts().alias("id1"), id1_of_parts(with_branch=False).alias("id1_nb"),
                        id2_of_parts().alias("id2")).collect()


def test_req42_id1_and_id2_sources_match_across_writing_styles_and_need_core_fields(spark):
    rows = [
        ("06139992", "１２３", "４５６", "01", dt.date(1950, 2, 3), "1", "ヤマダ　タロウ"),
        (" 6139992", "123", "456", "1", dt.date(1950, 2, 3), "1", "ﾔﾏﾀﾞ ﾀﾛｳ"),
        ("06139992", None, "456", None, dt.date(1950, 2, 3), "1", None),
        (None, "123", "456", "01", dt.date(1950, 2, 3), "1", "ヤマダタロウ"),
    ]
    df = local_frame(spark, rows, "ins string, sym string, num string, br string, born date, sex string, kana string")
    out = _ids(df)
    assert out[0]["id1"] == "ID1\x1f06139992\x1f123\x1f456\x1f01\x1f19500203\x1f1"
    assert out[1]["id1"] == out[0]["id1"]  # spaces, full-width digits, a lost leading zero, 枝番 "1"
    assert out[2]["id1"] == "ID1\x1f06139992\x1f\x1f456\x1f\x1f19500203\x1f1"
    assert out[3]["id1"] is None
    assert out[0]["id2"] == out[1]["id2"] == out[3]["id2"] == "ID2\x1fヤマダタロウ\x1f19500203\x1f1"
    assert out[2]["id2"] is None


def test_req42_ids_fold_voiced_marks_and_hiragana_and_can_leave_out_the_branch(spark):
    rows = [
        ("06139992", "１２３", "４５６", "01", dt.date(1950, 2, 3), "1", "ﾊﾟｸ ｼﾞｭﾝ"),
        (" 6139992", None, "456", None, dt.date(1950, 2, 3), "2", "やまだ　はなこ"),
        (None, "123", "456", "01", dt.date(1950, 2, 3), "1", "カ゛ハ゜"),
        ("06139992", "1", "2", "3", None, "1", "ア"),
    ]
    df = local_frame(spark, rows, "ins string, sym string, num string, br string, born date, sex string, kana string")
    got = [tuple(r) for r in _ids(df)]
    assert got == [
        ("ID1\x1f06139992\x1f123\x1f456\x1f01\x1f19500203\x1f1", "ID1\x1f06139992\x1f123\x1f456\x1f\x1f19500203\x1f1",
         "ID2\x1fパクジユン\x1f19500203\x1f1"),
        ("ID1\x1f06139992\x1f\x1f456\x1f\x1f19500203\x1f2", "ID1\x1f06139992\x1f\x1f456\x1f\x1f19500203\x1f2",
         "ID2\x1fヤマダハナコ\x1f19500203\x1f2"),
        (None, None, "ID2\x1fガパ\x1f19500203\x1f1"),
        (None, None, None),
    ]


def _reference(kind: str, s: str | None) -> str | None:
    """The normalizations written the slow, obvious way (regular expressions, str.upper) in Python."""
    if s is None:
        return None

    def width(t: str) -> str:
        t = t.translate(str.maketrans(text.FULL_DIGITS + text.FULL_UPPER + text.FULL_LOWER, "0123456789" + text.ASCII_UPPER * 2))
        return "".join(ch.upper() if ch.isascii() else ch for ch in t)

    if kind == "digits":
        out = re.sub(r"[ \t\n\x0b\f\r\u3000・･]+", "", width(s))
    elif kind == "card":
        out = re.sub(r"[ \t\n\x0b\f\r\u3000\-－‐]+", "", width(s))
    else:
        t = s.translate(str.maketrans(i._HALF_KANA, i._FULL_KANA)).translate(str.maketrans(i._HIRAGANA, i._KATAKANA))
        for mark, (plain, voiced) in i._VOICED.items():
            for p, v in zip(plain, voiced, strict=True):
                t = t.replace(p + mark, v)
        t = t.translate(str.maketrans(i._SMALL_KANA + i._DASHES, i._LARGE_KANA + "ー" * len(i._DASHES)))
        out = re.sub(r"[ \t\n\x0b\f\r\u3000・･]+", "", width(t))
    return out or None


def test_req42_translate_normalizations_equal_the_regex_reference_on_random_strings(spark):
    """The one-pass `translate` forms equal a regular-expression reference on 3,000 random strings
    drawn from the characters that matter (widths, kana forms, voiced marks, spaces, dashes)."""
    alphabet = (text.FULL_DIGITS + "0123456789" + text.FULL_UPPER[:5] + text.FULL_LOWER[:5] + "abcXYZ" + i._HALF_KANA[::3]
                + i._HIRAGANA[::4] + i._KATAKANA[::4] + "゛゜ﾞﾟ" + " \t\u3000・･-－‐―−ｰ" + "漢字")
    rng = random.Random(7)
    values = [None, ""] + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    df = local_frame(spark, [(v,) for v in values], "v string")
    got = df.select("v", normalize_digits(F.col("v")).alias("digits"), normalize_card(F.col("v")).alias("card"),
                    normalize_kana(F.col("v")).alias("kana")).collect()
    for row in got:
        for kind in ("digits", "card", "kana"):
            assert row[kind] == _reference(kind, row["v"]), (kind, row["v"])
