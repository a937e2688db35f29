"""Identifiers found by their content, as Spark SQL on built-ins only (no UDF): one scan of a table.

Each detector is a boolean SQL expression over one string value (`rlike`, `regexp_extract_all`,
`substring` arithmetic for check digits, higher-order `exists`). `findings_sql` runs every detector
on every scanned column of a table in one pass and returns (table, column, detector, row count)
rows: never a value, so the validation record that ships with a release cannot leak what it found
(requirement 28). Requirement numbers refer to ../shared/reference/legal_requirements.md.

Before the detectors run, full-width digits, hyphens and ＠ are folded to ASCII, values shorter than
any identifier are skipped, and a value of a code column that matches the column's declared shape
(transforms/uke/layout.py, `shape:` in conf/layouts) is exempt: a JLAC10 lab code holds digit runs
that a phone regex would otherwise find.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from expectations.checks import ScanColumn

FOLD_FROM = "０１２３４５６７８９－‐−＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
FOLD_TO = "0123456789---@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MIN_LENGTH = 5  # shorter than the shortest identifier below ("アア イイ", "a@b.jp")


def _bounded(body: str) -> str:
    """`body` not inside a longer run of digits."""
    return f"(?<![0-9])({body})(?![0-9])"


def _digit(x: str, i: int) -> str:
    return f"CAST(substring({x}, {i}, 1) AS INT)"


# 個人番号 検査用数字 (the 総務省令's formula): weights Pn = n + 1 (n = 1..6), n - 5 (n = 7..11) over the digits from the
# right, the check digit excluded; written here from the left (digit 1 is n = 11).
MYNUMBER_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def mynumber_check(x: str) -> str:
    """SQL: the 12-digit string `x` carries a valid 個人番号 check digit (remainder <= 1 -> 0, else 11 - remainder)."""
    total = " + ".join(f"{_digit(x, i)} * {w}" for i, w in enumerate(MYNUMBER_WEIGHTS, start=1))
    rest = f"pmod({total}, 11)"
    return f"(CASE WHEN {rest} <= 1 THEN 0 ELSE 11 - {rest} END) = {_digit(x, 12)}"


def modulus10_check(x: str, n: int) -> str:
    """SQL: digit n + 1 of `x` is the 検証番号 of its first n digits (保険者番号: weights 2, 1, 2, ... from
    the right, the digits of each product added, check = (10 - sum mod 10) mod 10)."""
    terms = []
    for i in range(1, n + 1):
        d = _digit(x, i)
        terms.append(f"(2 * {d} - CASE WHEN {d} >= 5 THEN 9 ELSE 0 END)" if (n - i) % 2 == 0 else d)
    return f"pmod(10 - pmod({' + '.join(terms)}, 10), 10) = {_digit(x, n + 1)}"


def _any_candidate(v: str, pattern: str, check: Callable[[str], str], strip: str | None = None) -> str:
    found = f"regexp_extract_all({v}, '{pattern}', 1)"
    if strip:
        found = f"transform({found}, c -> regexp_replace(c, '{strip}', ''))"
    return f"exists({found}, c -> {check('c')})"


MYNUMBER = _bounded("[0-9]{4}[- ]?[0-9]{4}[- ]?[0-9]{4}")
# 法別番号 of the 医療保険 保険者番号 (01 協会けんぽ ... 39 後期高齢者, 63/67/72-75 特例退職・共済);
# 公費負担者番号 share the check digit, but their 法別 (10-30, 51-54, ...) would also accept dates.
INSURER8 = _bounded("(0[1-4]|0[67]|3[1-4]|39|6[37]|7[2-5])[0-9]{6}")
KOKUHO6 = _bounded("(0[1-9]|[1-3][0-9]|4[0-7])[0-9]{4}")  # 市町村国保: 都道府県 + 保険者別番号 + 検証番号
CARD = "(記号|枝番|(被保険者|保険証|証)(の)?番号)[・ 　:：]*[0-9A-Za-z]"  # written with its name: the bare value is any number
LANDLINE = _bounded("0(?![5789]0|120|800)([1-9][0-9]{0,3}-[0-9]{1,4}-[0-9]{4}|[1-9][0-9]{0,3}[(（][0-9]{1,4}[)）][0-9]{4}"
                    "|[1-9][0-9]{8})")
MOBILE = _bounded("0[5789]0-?[0-9]{4}-?[0-9]{4}")
TOLL_FREE = _bounded("0120-?[0-9]{3}-?[0-9]{3}|0800-?[0-9]{3}-?[0-9]{4}")
EMAIL = "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}"
POSTCODE = "〒[ 　]*[0-9]{3}-?[0-9]{4}|(?<![0-9-])[0-9]{3}-[0-9]{4}(?![0-9-])"
PASSPORT = "(?<![A-Za-z])[A-Z]{2}[0-9]{7}(?![0-9])"
PENSION = _bounded("[0-9]{4}-[0-9]{6}")  # 基礎年金番号 as printed: 4 + 6 digits
KATAKANA_NAME = "(?<![ァ-ヴー])[ァ-ヴー]{2,}[ 　]+[ァ-ヴー]{2,}|(?<![ｦ-ﾟ])[ｦ-ﾟ]{2,} +[ｦ-ﾟ]{2,}"
# A date written out in a value (a birth date next to a name): 西暦 with day, or a 和暦 year.
DATE_IN_TEXT = "(19|20)[0-9]{2}[-/.年][0-9]{1,2}[-/.月][0-9]{1,2}|(明治|大正|昭和|平成|令和)[0-9元]{1,2}年"


@dataclass(frozen=True)
class Detector:
    name: str
    family: str
    requirement: int
    label: str  # 日本語: what it finds, for the compliance officer reading the validation record
    sql: Callable[[str], str]  # value -> boolean SQL
    on_codes: bool = True  # also on declared code columns (values that miss their shape)
    needs_birth: bool = False  # only in a row that also carries a birth date


def _rlike(pattern: str) -> Callable[[str], str]:
    return lambda v: f"{v} RLIKE '{pattern}'"


DETECTORS: tuple[Detector, ...] = (
    Detector("mynumber", "mynumber", 12, "個人番号（検査用数字が正しい12桁）",
             lambda v: _any_candidate(v, MYNUMBER, mynumber_check, strip="[- ]")),
    Detector("insurer_no", "insurance", 11, "保険者番号（8桁・検証番号が正しい）",
             lambda v: _any_candidate(v, INSURER8, lambda c: modulus10_check(c, 7))),
    Detector("kokuho_insurer_no", "insurance", 11, "国民健康保険の保険者番号（6桁・検証番号が正しい）",
             lambda v: _any_candidate(v, KOKUHO6, lambda c: modulus10_check(c, 5)), on_codes=False),
    Detector("card_symbol_number", "insurance", 11, "被保険者証等の記号・番号・枝番", _rlike(CARD)),
    Detector("phone", "phone", 8, "電話番号（固定）", _rlike(LANDLINE)),
    Detector("mobile", "phone", 8, "携帯電話・IP電話番号", _rlike(MOBILE)),
    Detector("toll_free", "phone", 8, "フリーダイヤル", _rlike(TOLL_FREE)),
    Detector("email", "email", 8, "メールアドレス", _rlike(EMAIL)),
    Detector("postcode", "postcode", 6, "郵便番号（7桁）", _rlike(POSTCODE)),
    Detector("passport", "other_id", 13, "旅券番号", _rlike(PASSPORT)),
    Detector("pension_no", "other_id", 13, "基礎年金番号", _rlike(PENSION)),
    Detector("katakana_name", "name", 4, "カタカナ氏名（生年月日のある行）", _rlike(KATAKANA_NAME), needs_birth=True),
)
BY_NAME = {d.name: d for d in DETECTORS}


def literal(text: str) -> str:
    """A Spark SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def scanned_value(column: str, shape: str = "") -> str:
    """SQL: the value of `column` as the detectors see it, NULL when it cannot hold an identifier
    (too short, or a code of the column's declared shape)."""
    raw = f"CAST({quote(column)} AS STRING)"
    exempt = f" OR {raw} RLIKE {literal(shape)}" if shape else ""
    return f"CASE WHEN length({raw}) < {MIN_LENGTH}{exempt} THEN NULL ELSE translate({raw}, '{FOLD_FROM}', '{FOLD_TO}') END"


def findings_sql(table: str, scan: Sequence[ScanColumn], birth_columns: Sequence[str] = (), source: str = "{batch}") -> str:
    """SQL over `source`: one row (table_name, column_name, detector, row_count) per column and detector
    that found something; no row when the table is clean."""
    values = [f"{scanned_value(s.column, s.shape)} AS v{i}" for i, s in enumerate(scan)]
    has_birth = " OR ".join(f"{quote(b)} IS NOT NULL" for b in birth_columns) or "false"
    born = " OR ".join(["has_birth"] + [f"v{i} RLIKE '{DATE_IN_TEXT}'" for i in range(len(scan))])
    hits = []
    for i, s in enumerate(scan):
        for d in DETECTORS:
            if not d.on_codes and s.code:
                continue
            cond = d.sql(f"v{i}") + (" AND born" if d.needs_birth else "")
            hits.append(f"named_struct('column_name', {literal(s.column)}, 'detector', '{d.name}', "
                        f"'hit', coalesce({cond}, false))")
    if not hits:
        return f"SELECT {literal(table)} AS table_name, '' AS column_name, '' AS detector, 0L AS row_count FROM {source} WHERE false"
    return (
        f"SELECT {literal(table)} AS table_name, f.column_name, f.detector, COUNT(*) AS row_count FROM ("
        f"SELECT explode(filter(array({', '.join(hits)}), h -> h.hit)) AS f FROM ("
        f"SELECT *, ({born}) AS born FROM ("
        f"SELECT {', '.join(values)}, ({has_birth}) AS has_birth FROM {source}) AS scanned) AS dated) AS hits "
        "GROUP BY f.column_name, f.detector ORDER BY f.column_name, f.detector"
    )
