"""Normalized identity keys for patient linkage (名寄せ) and opt-out matching.

NDB practice links claims with ID1 = (保険者番号, 記号・番号, 枝番, 生年月日, 性別) and
ID2 = (カナ氏名, 生年月日, 性別) (DESIGN.md decision 3). The same person is written differently by
different systems: full- or half-width digits, 半角カナ, hiragana, small kana, spaces between
family and given name. We normalize first, then key-hash (transforms/columns/pseudonym.py), so the pseudonym
and the opt-out registry match on exactly the same canonical string (requirement 42(c): exact, no
fuzzy matching). The unkeyed source strings built here never leave the restricted zone.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.columns.text import WIDTH_FROM, WIDTH_TO

# 半角カナ -> 全角カタカナ, one character at a time; voiced marks are combined afterwards.
_HALF_KANA = "ｦｧｨｩｪｫｬｭｮｯｰｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝﾞﾟ"
_FULL_KANA = "ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜"
_HIRAGANA = "ぁあぃいぅうぇえぉおかがきぎくぐけげこごさざしじすずせぜそぞただちぢっつづてでとどなにぬねのはばぱひびぴふぶぷへべぺほぼぽまみむめもゃやゅゆょよらりるれろゎわゐゑをんゔ"
_KATAKANA = "ァアィイゥウェエォオカガキギクグケゲコゴサザシジスズセゼソゾタダチヂッツヅテデトドナニヌネノハバパヒビピフブプヘベペホボポマミムメモャヤュユョヨラリルレロヮワヰヱヲンヴ"
# Small kana are written large by some systems: compare them large.
_SMALL_KANA = "ァィゥェォッャュョヮヵヶ"
_LARGE_KANA = "アイウエオツヤユヨワカケ"
_VOICED = {
    "゛": ("カキクケコサシスセソタチツテトハヒフヘホウ", "ガギグゲゴザジズゼゾダヂヅデドバビブベボヴ"),
    "゜": ("ハヒフヘホ", "パピプペポ"),
}
_DASHES = "－‐―−ｰ-"  # long-vowel look-alikes in names -> ー
# Separators dropped from keys: Java's \s, the ideographic space and the middle dots.
_SPACE_CHARS = " \t\n\x0b\f\r\u3000・･"
_CARD_SEPARATORS = " \t\n\x0b\f\r\u3000-－‐"

# Every step is a `translate` (one dictionary lookup per character; characters past the end of the
# replacement are deleted). regexp_replace and upper() cost several times more per value, and the
# identities of every receipt go through these functions on each anonymize and opt-out run.


def _width_without(col: Column, delete: str) -> Column:
    """normalize_width, and the characters of `delete` removed, in one pass; empty -> null."""
    return F.nullif(F.translate(col, WIDTH_FROM + delete, WIDTH_TO), F.lit(""))


def normalize_digits(col: Column) -> Column:
    """A number field as ASCII digits without spaces: `"  133066"` and `"１３３０６６"` -> `"133066"`."""
    return _width_without(col, _SPACE_CHARS)


def normalize_insurer(col: Column) -> Column:
    """保険者番号: ASCII digits; a 7-digit value lost the leading zero of its 法別番号 ("6139992").

    Valid numbers have 6 (市町村国保) or 8 digits, so restoring the zero is unambiguous.
    """
    digits = normalize_digits(col)
    return F.when(F.length(digits) == 7, F.lpad(digits, 8, "0")).otherwise(digits)


def normalize_card(col: Column) -> Column:
    """被保険者証等の記号・番号: width-normalized, without spaces and hyphens."""
    return _width_without(col, _CARD_SEPARATORS)


def normalize_branch(col: Column) -> Column:
    """枝番 as two digits ("1" -> "01"); empty when absent (older cards have none)."""
    digits = normalize_digits(col)
    return F.when(digits.isNull(), F.lit("")).otherwise(F.lpad(digits, 2, "0"))


def normalize_kana(col: Column) -> Column:
    """カナ氏名 in one canonical form: full-width katakana, large kana, no spaces."""
    out = F.translate(col, _HALF_KANA + _HIRAGANA, _FULL_KANA + _KATAKANA)  # disjoint alphabets: one pass
    combined = out
    for mark, (plain, voiced) in _VOICED.items():
        for p, v in zip(plain, voiced, strict=True):
            combined = F.replace(combined, F.lit(p + mark), F.lit(v))
    # The 26 replacements cost more than everything else here: only names with a separate mark need them.
    out = F.when(F.contains(out, F.lit("゛")) | F.contains(out, F.lit("゜")), combined).otherwise(out)
    # small kana, dashes, width and spaces: disjoint sets, one pass
    small = _SMALL_KANA + _DASHES
    return F.nullif(F.translate(out, small + WIDTH_FROM + _SPACE_CHARS, _LARGE_KANA + "ー" * len(_DASHES) + WIDTH_TO),
                    F.lit(""))


def _all_present(*cols: Column) -> Column:
    cond = F.lit(True)
    for c in cols:
        cond = cond & c.isNotNull()
    return cond


def _date_key(birth_date: Column) -> Column:
    return F.date_format(birth_date, "yyyyMMdd")


def _id1(ins: Column, sym: Column, num: Column, branch: Column, born: Column, sx: Column) -> Column:
    """Canonical ID1 string, or null when the insurance identity is incomplete. A tag and a unit
    separator make ID1 and ID2 inputs disjoint and unambiguous."""
    return F.when(_all_present(ins, num, born, sx), F.concat_ws("\u001f", F.lit("ID1"), ins, sym, num, branch, born, sx))


def _id2(kana: Column, born: Column, sx: Column) -> Column:
    """Canonical ID2 string, or null when the kana name, birth date or sex is missing."""
    return F.when(_all_present(kana, born, sx), F.concat_ws("\u001f", F.lit("ID2"), kana, born, sx))


PARTS = ("ins", "sym", "num", "branch", "born", "sx", "kana")
_PART = "__idp_"


def with_id_parts(df: DataFrame, insurer_no: Column, card_symbol: Column, card_number: Column, branch_no: Column,
                  birth_date: Column, sex: Column, kana_name: Column) -> DataFrame:
    """`df` + the normalized parts of ID1 and ID2 as columns, in a projection of their own; build the
    IDs from them with `id1_of_parts` / `id2_of_parts` in the next `select` (which leaves the parts out).

    As one expression per ID, each normalization ran once per use (presence test and string) and
    the generated code outgrew what Spark compiles well: the identities of 1.1M receipts took 30 s,
    15 s in two projections (2 cores, steady state)."""
    parts = {
        "ins": normalize_insurer(insurer_no), "sym": F.coalesce(normalize_card(card_symbol), F.lit("")),
        "num": normalize_card(card_number), "branch": normalize_branch(branch_no), "born": _date_key(birth_date),
        "sx": normalize_digits(sex), "kana": normalize_kana(kana_name),
    }
    return df.select("*", *(parts[p].alias(_PART + p) for p in PARTS))


def id1_of_parts(with_branch: bool = True) -> Column:
    """ID1 from the columns `with_id_parts` added (`with_branch=False`: as if 枝番 were absent)."""
    p = {name: F.col(_PART + name) for name in PARTS}
    return _id1(p["ins"], p["sym"], p["num"], p["branch"] if with_branch else F.lit(""), p["born"], p["sx"])


def id2_of_parts() -> Column:
    """ID2 from the columns `with_id_parts` added."""
    return _id2(F.col(_PART + "kana"), F.col(_PART + "born"), F.col(_PART + "sx"))
