"""Who pays: 医療保険 (insurer numbers with check digits, 記号・番号, 枝番) and 公費 programs.

Insurer kinds (法別番号): 1 協会けんぽ (01), 2 健保組合 (06), 3 共済 (31-34), 4 市町村国保 (6-digit
number), 5 後期高齢者 (39, everyone from the 75th birthday). 保険者番号 = 法別 (2) + 都道府県 (2) +
保険者 (3) + 検証番号; 国保 = 都道府県 (2) + 保険者 (3) + 検証番号 (draws.check_digit documents the
rule). 記号・番号 are written in full-width digits as in the public sample (`１２３`), except the
後期高齢者 被保険者番号, 8 half-width digits. 公費負担者番号 follows the same check-digit rule.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from synth.draws import Rng, pick, weighted, with_check_digit

KYOKAI, KUMIAI, KYOSAI, KOKUHO, KOUKI = 1, 2, 3, 4, 5
# Shares of the insured by age (about 40M 協会, 28M 組合, 8.5M 共済, 28M 国保 below 75; 国保 is the
# insurer of most people aged 65-74 once they retire).
KIND_WEIGHTS_UNDER_65 = (0.40, 0.27, 0.08, 0.25)
KIND_WEIGHTS_65_74 = (0.13, 0.08, 0.04, 0.75)
CHANGE_PER_YEAR = 0.04  # "a few % per year" change insurer (job change, retirement, moving)
WELFARE_UNDER_65, WELFARE_65_PLUS = 0.01, 0.03  # 生活保護 (about 1.6% overall, half aged 65+)
GENEKINAMI_SHARE = 0.10  # 70+ with 現役並み所得 (3割負担)

_HALF = "0123456789ABCDEFGHK"
_FULL = "０１２３４５６７８９ＡＢＣＤＥＦＧＨＫ"


def full_width(col: Column) -> Column:
    return F.translate(col, _HALF, _FULL)


def insurer_kind(u: Column, age: Column) -> Column:
    kinds = [KYOKAI, KUMIAI, KYOSAI, KOKUHO]
    return (
        F.when(age >= 75, F.lit(KOUKI))
        .when(age >= 65, weighted(u, kinds, KIND_WEIGHTS_65_74))
        .otherwise(weighted(u, kinds, KIND_WEIGHTS_UNDER_65))
    )


def card_body(rng: Rng, kind: Column, salt: str, pref: Column, muni: Column, *keys: Column | str) -> Column:
    """The 保険者番号 of an episode without its check digit: 5 digits for 国保, else 7.

    Select it as a column of its own and pass that column to insurance_card(): the check digit
    reads every digit, and an expression written in its place would be copied into each read
    (8 copies of this whole tree per card, which made planning take tens of seconds).
    """
    kyosai = pick(rng.u(f"card.{salt}.kyosai", *keys), ["31", "32", "33", "34"])
    return (
        F.when(kind == KYOKAI, F.concat(F.lit("01"), pref, F.lit("001")))
        .when(kind == KUMIAI, F.concat(F.lit("06"), pref, rng.digits(f"card.{salt}.emp", 3, *keys)))
        .when(kind == KYOSAI, F.concat(kyosai, pref, rng.digits(f"card.{salt}.kyo", 3, *keys)))
        .when(kind == KOUKI, F.concat(F.lit("39"), pref, F.lit("1"), F.substring(muni, 4, 2)))
        .when(kind == KOKUHO, F.concat(pref, F.substring(muni, 3, 3)))
    )


def insurance_card(rng: Rng, kind: Column, salt: str, body: Column, *keys: Column | str) -> Column:
    """struct(insurer_no, card_symbol, card_number) for one insurance episode of a person.

    `kind` and `body` (card_body()) should be column references, not expressions (see card_body).
    """

    def u(p: str) -> Column:
        return rng.u(f"card.{salt}.{p}", *keys)

    def number(p: str, hi: int) -> Column:
        return (F.floor(u(p) * hi) + 1).cast("long").cast("string")

    insurer = F.when(kind == KOKUHO, with_check_digit(body, 5)).otherwise(with_check_digit(body, 7))
    letter = pick(u("letter"), list("ABCDEFGHK"))
    symbol = (
        F.when(kind == KYOKAI, rng.digits(f"card.{salt}.sym1", 8, *keys))
        .when(kind == KUMIAI, number("sym2", 9999))
        .when(kind == KYOSAI, F.concat(rng.digits(f"card.{salt}.sym3", 2, *keys), letter,
                                       rng.digits(f"card.{salt}.sym3b", 4, *keys)))
        .when(kind == KOKUHO, rng.digits(f"card.{salt}.sym4", 2, *keys))
    )
    card_number = (
        F.when(kind == KYOKAI, number("no1", 9999))
        .when(kind == KUMIAI, number("no2", 999999))
        .when(kind == KYOSAI, number("no3", 99999))
        .when(kind == KOKUHO, rng.digits(f"card.{salt}.no4", 7, *keys))
    )
    return F.struct(
        insurer.alias("insurer_no"),
        full_width(symbol).alias("card_symbol"),
        F.when(kind == KOUKI, rng.digits(f"card.{salt}.no5", 8, *keys))
        .otherwise(full_width(card_number)).alias("card_number"),
    )


def public_program_bodies(rng: Rng, hobetsu: Column | str, salt: str, pref: Column, local3: Column,
                          *keys: Column | str) -> dict[str, Column]:
    """hobetsu, payer (7 digits) and recipient (6 digits) of a program before their check digits;
    select them as columns and pass those to public_program() (see card_body)."""
    h = F.lit(hobetsu) if isinstance(hobetsu, str) else hobetsu
    return {"hobetsu": h, "payer": F.concat(h, pref, local3), "recipient": rng.digits(f"prog.{salt}.rcp", 6, *keys)}


def public_program(hobetsu: Column, payer: Column, recipient: Column) -> Column:
    """struct(hobetsu, payer_no, recipient_no): 公費負担者番号 (8) and 受給者番号 (7, check digit)."""
    return F.struct(hobetsu.alias("hobetsu"), with_check_digit(payer, 7).alias("payer_no"),
                    with_check_digit(recipient, 6).alias("recipient_no"))


def local_hobetsu(pref: Column) -> Column:
    """法別番号 80-89 of a prefecture's own programs (子ども医療費助成 and the like)."""
    return F.concat(F.lit("8"), ((pref.cast("int") * 7) % 9 + 1).cast("string"))


def copay_rate(age: Column, genekinami: Column) -> Column:
    """Patient share: 2割 before school age and 70-74, 1割 from 75, 3割 otherwise or with 現役並み所得."""
    return (
        F.when(age < 6, F.lit(0.2))
        .when((age >= 70) & genekinami, F.lit(0.3))
        .when(age >= 75, F.lit(0.1))
        .when(age >= 70, F.lit(0.2))
        .otherwise(F.lit(0.3))
    )
