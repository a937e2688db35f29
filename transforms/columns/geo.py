"""Places coarsened to areas (requirements 5, 6, 20): postcode, address, facility -> JIS codes.

Addresses are matched against the reference tables in conf/hierarchies (prefectures.csv,
municipalities.csv) by the longest known prefix: each prefix of the address is looked up in a map
literal built from the (small) reference table, in one expression without a join. The unmatched
part of an address (町名, 番地, building) never reaches the output.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F

from transforms.columns.text import normalize_width

LEVELS = ("prefecture", "municipality")
_MAX_PREF_LEN = 4  # 神奈川県, 和歌山県, 鹿児島県
_MAX_MUNI_LEN = 12  # 北海道虻田郡洞爺湖町-style names after the prefecture


def postal_prefix(col: Column, digits: int = 3) -> Column:
    """First `digits` of a 7-digit postcode ("100-0005", "〒１００－０００５" -> "100"); else null."""
    if not 1 <= digits <= 3:
        raise ValueError("a postcode keeps at most its first 3 digits (requirement 6)")
    only_digits = F.regexp_replace(normalize_width(col), r"[^0-9]", "")
    return F.when(F.length(only_digits) == 7, F.substring(only_digits, 1, digits))


def institution_prefecture(col: Column) -> Column:
    """都道府県 (2 digits) of a 10-digit 医療機関コード (都道府県 + 点数表 + 7 digits); else null."""
    code = F.regexp_replace(normalize_width(col), r"\s", "")
    return F.when(code.rlike(r"^[0-9]{10}$"), F.substring(code, 1, 2))


def _clean(col: Column) -> Column:
    return F.regexp_replace(normalize_width(col), r"[\s\u3000]", "")


def _longest_prefix_code(text: Column, names: Mapping[str, str], max_len: int) -> Column:
    """Code of the longest key of `names` that prefixes `text`; null when none does."""
    if not names:
        raise ValueError("the area reference table is empty")
    lookup = F.create_map(*[F.lit(x) for kv in sorted(names.items()) for x in kv])
    n = F.greatest(F.least(F.length(text), F.lit(max_len)), F.lit(1))
    prefixes = F.transform(F.sequence(F.lit(1), n), lambda i: F.substring(text, 1, i))
    codes = F.filter(F.transform(prefixes, lambda p: F.try_element_at(lookup, p)), lambda c: c.isNotNull())
    return F.try_element_at(codes, F.lit(-1))


def prefecture_code(address: Column, prefectures: Mapping[str, str]) -> Column:
    """都道府県 JIS code (2 digits) of a free-text address; `prefectures` maps name -> code."""
    return _longest_prefix_code(_clean(address), prefectures, _MAX_PREF_LEN)


def municipality_code(address: Column, municipalities: Mapping[str, str]) -> Column:
    """市区町村 JIS code of an address; `municipalities` maps 都道府県名+市区町村名 -> code.

    The longest known name wins, so 横浜市中区 is preferred to 横浜市 when both are listed.
    """
    return _longest_prefix_code(_clean(address), municipalities, _MAX_PREF_LEN + _MAX_MUNI_LEN)


def address_area(address: Column, level: str, prefectures: Mapping[str, str], municipalities: Mapping[str, str]) -> Column:
    if level == "prefecture":
        return prefecture_code(address, prefectures)
    if level == "municipality":
        return municipality_code(address, municipalities)
    raise ValueError(f"level {level!r}: use one of {', '.join(LEVELS)}")
