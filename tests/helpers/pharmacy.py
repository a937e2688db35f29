"""調剤 claim files (RECEIPTY.CYO) written by hand from docs/formats/pharmacy.md, and one 歯科 file, for the tests.

Not from the generator, so that a layout mistake in transforms/uke/layout.py cannot cancel out. No public
調剤 file exists (docs/formats/pharmacy.md "Open points"). Values are invented, except in `linked`, whose
patients are two patients of the real 医科 file (../shared/fixtures/uke/), so that their 調剤 claims must
join their 医科 claims under one pid (issue 20 item 4).
"""

from __future__ import annotations

from dataclasses import dataclass

DAYS = [""] * 31
PHARMACY_CODE = "4455667"  # 薬局コード
PHARMACY_NAME = "テスト調剤薬局"
PHARMACY_PHONE = "03-9999-0000"
PRESCRIBER_CODE = "7654321"  # 処方箋を交付した医療機関コード
PRESCRIBER_NAME = "テスト処方病院"
PRESCRIBER_ADDRESS = "東京都テスト区処方１－２－３"
DOCTORS = ("処方医師　一郎", "処方医師　二郎")
NARCOTIC_LICENCE = "MA-334455"
RECORD_NO = "CYO-000917"  # 調剤録番号等
# Every value above identifies the pharmacy, the prescriber or the patient's record: none may be released
# in the anonymized profile (requirements 4, 14, 20).
IDENTIFIERS = (PHARMACY_CODE, PHARMACY_NAME, PHARMACY_PHONE, PRESCRIBER_CODE, PRESCRIBER_NAME,
               PRESCRIBER_ADDRESS, *DOCTORS, NARCOTIC_LICENCE, RECORD_NO)


@dataclass(frozen=True)
class Patient:
    name: str
    kana: str
    sex: str
    birth: str  # in the file's date system
    insurer: str
    symbol: str
    number: str
    points: int  # HO 合計点数 of their 調剤 receipt; unique, so a test can find the receipt's pid


def _receipt(no: int, ym: str, day: str, p: Patient, full: bool) -> list[list[str]]:
    doctors = [*DOCTORS] + [""] * (20 - len(DOCTORS))
    re = ["RE", str(no), "4112", ym, p.name, p.sex, p.birth, "70", "", "13", "1", PRESCRIBER_CODE, PRESCRIBER_NAME,
          PRESCRIBER_ADDRESS, *doctors, NARCOTIC_LICENCE, RECORD_NO, "", "", "", "", "", p.kana]
    ho = ["HO", p.insurer, p.symbol, p.number, "1", str(p.points), "", "", "", "750", "", "", "", ""]
    additions = ["1", "420001010", "10"] + [""] * 27
    cz = ["CZ", "1", day, day, "1", "14", "1", "1", "", "420000110", "24", "", "", "168", "", *additions,
          *([""] * 26)]
    management = ["1", "420003010", "1", "45"] + [""] * 44
    ki = ["KI", day, "1", "1", "420000010", "45", "", *management, *([""] * 12), "", "", *([""] * 40), *([""] * 5)]
    out = [re, ho,
           ["SH", "1", "1", "001", "", "12", "", "", "", ""],
           cz,
           ["IY", "1", "620000001", "00003.00000", "", "", "", "", "", "1"],
           ki]
    if full:
        out[2:2] = [["JD", "1", *(["1"] + DAYS[1:])]]
        out += [["TO", "1", "710010000", "1", "", "", ""],
                ["CO", "810000001", "テストコメント"],
                ["TK", "830000001", "テスト摘要"],
                ["ST", "1", day, day, "1", "3", "100", "34", "", "", "", "", "", "", "", ""]]
    return out


def pharmacy_file(billing_ym: str, ym: str, day: str, patients: list[Patient]) -> bytes:
    """One pharmacy's claims of one month, a receipt per patient, in CP932 with CRLF and 0x1A; the first
    receipt carries every optional record type (JD, TO, CO, TK, ST)."""
    lines = [["YK", "1", "13", "4", PHARMACY_CODE, PHARMACY_NAME, billing_ym, "00", PHARMACY_PHONE]]
    for i, p in enumerate(patients, 1):
        lines += _receipt(i, ym, day, p, full=i == 1)
    lines.append(["GO", str(len(patients)), str(sum(p.points for p in patients)), "99"])
    return ("\r\n".join(",".join(f) for f in lines) + "\r\n").encode("cp932") + b"\x1a"


def record_counts(patients: int) -> dict[str, int]:
    """Records per type of `pharmacy_file` with this many patients."""
    per = {"RE": 1, "HO": 1, "SH": 1, "CZ": 1, "IY": 1, "KI": 1}
    out = {"YK": 1, "GO": 1, **{k: patients * n for k, n in per.items()}}
    return {**out, "JD": 1, "TO": 1, "CO": 1, "TK": 1, "ST": 1}


# Two patients of ../shared/fixtures/uke/RECEIPTC_GAIRAI_SAMPLE.UKE (RE 1 and RE 2, 西暦, 診療年月 202110),
# with their 氏名, カナ, 男女, 生年月日 and HO 保険者番号・記号・番号 as that file writes them.
LINKED = [
    Patient("テスト　汎用", "テストハンヨウ", "1", "19911121", "01010016", "１", "１", 811),
    Patient("カキクケコ", "カキクケコ", "1", "19910125", "01130012", "６４４４０７１８", "７", 822),
]
LINKED_MEDICAL_POINTS = {811: {13642, 14321}, 822: {276}}  # their 医科 HO 合計点数 in that file


def linked_file() -> bytes:
    """調剤 claims of the same month for the two fixture patients in LINKED."""
    return pharmacy_file("202111", "202110", "20211015", LINKED)


# A 歯科 file (docs/formats/dental.md) of the first LINKED patient, for the same release.
DENTAL_CODE = "3344556"  # 歯科医療機関コード
DENTAL_NAME = "テスト歯科クリニック"
DENTAL_PHONE = "03-7777-0000"
DENTAL_CHART = "DENT-0042"  # カルテ番号等
DENTAL_IDENTIFIERS = (DENTAL_CODE, DENTAL_NAME, DENTAL_PHONE, DENTAL_CHART)
DENTAL_POINTS = 833  # HO 合計点数 of its one receipt


def linked_dental_file() -> bytes:
    p = LINKED[0]
    days = ["1"] + DAYS[1:]
    lines = [
        ["UK", "1", "13", "3", DENTAL_CODE, "", DENTAL_NAME, "202111", "", "00"],
        ["IR", "1", "13", "3", DENTAL_CODE, "", "202111", DENTAL_PHONE, "0102"],
        ["RE", "1", "3112", "202110", p.name, p.sex, p.birth, "70", "", "20211001", "1", "", "", "", "", DENTAL_CHART,
         *([""] * 9), p.kana, ""],
        ["HO", p.insurer, p.symbol, p.number, "1", str(DENTAL_POINTS), "", "", "", "", "2500", "", "", ""],
        ["HS", "20211001", "", "102600103600", "5220063", "", "", "", "", "01", "", "", ""],
        ["SS", "11", "", "301000110", "", "", "CB023", "1", *([""] * 68), str(DENTAL_POINTS), "1", *days],
        ["GO", "1", str(DENTAL_POINTS), "99"],
    ]
    return ("\r\n".join(",".join(f) for f in lines) + "\r\n").encode("cp932") + b"\x1a"
