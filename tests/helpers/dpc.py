"""DPC claim files (RECEIPTD.UKE) written by hand from docs/formats/dpc.md, for the tests.

Not from the generator, so that a layout mistake in transforms/uke/layout.py cannot cancel out. No public
DPC file exists (docs/formats/dpc.md "Open points"). Values are invented, except in `linked_dpc_file`,
whose patient is a patient of the real 医科 file (../shared/fixtures/uke/, helpers/pharmacy.py LINKED), so
that their DPC claim must join their 医科 claims under one pid (issue 20 item 4).

Every receipt is a DPC receipt (レセプト総括区分 0) but the last, a 総括対象医科入院 receipt (3) whose
diagnoses come as 医科 SY: in a DPC file SB and SY both feed `diagnoses`.
"""

from __future__ import annotations

from helpers.pharmacy import LINKED, Patient

HOSPITAL_CODE = "1122334"  # 医療機関コード
HOSPITAL_NAME = "テストＤＰＣ総合病院"
HOSPITAL_PHONE = "03-5555-0101"
CHART_NO = "DPC-CHART-0077"  # カルテ番号等
COEFFICIENT = "1.4321"  # 医療機関別係数 (GA): each hospital's own
DEATH_TEXT = "テスト死因記述"  # BU 死因 (free text)
SEVERITY_TEXT = "テスト重症度記述"  # KK 重症度等 (free text)
# None of these may be released in the anonymized profile (requirements 9, 14, 20).
IDENTIFIERS = (HOSPITAL_CODE, HOSPITAL_NAME, HOSPITAL_PHONE, CHART_NO, COEFFICIENT, DEATH_TEXT, SEVERITY_TEXT)
DPC_CODE = "040080xx99x0xx"  # 肺炎等, 手術なし
DISEASE = ("4860018", "J189")  # 急性肺炎 (../shared/reference/masters/b_20240601.txt)
LEAVES = "0" * 9 + "9" + "0" * 21  # 外泊等: a leave on the 10th


def _dates(ym: str) -> tuple[str, str, str]:
    """(admission, discharge, a day in between) of the month `ym` (西暦 YYYYMM or 和暦 GYYMM)."""
    return ym + "01", ym + "14", ym + "10"


def _dpc_receipt(no: int, ym: str, p: Patient, points: int, full: bool) -> list[list[str]]:
    admitted, discharged, day = _dates(ym)
    re = ["RE", str(no), "1111", ym, p.name, p.sex, p.birth, "70", admitted, "", "", "", "", CHART_NO, "", "", "", "",
          "0", "", "", "", "", "01", "", "", "", "", p.kana, ""]
    ho = ["HO", p.insurer, p.symbol, p.number, "14", str(points), "", "", "", "", "", "84000", "", "", "", "6440"]
    out = [re, ho,
           ["BU", DPC_CODE, admitted, discharged, "2", DEATH_TEXT if full else ""],
           ["SB", DISEASE[0], "", "", DISEASE[1], "01", "", ""],
           ["SB", "0000999", "", "テスト未コード化傷病名", "J459", "02", "", ""],
           ["KK", "", "0", "2", "", "0", "45", "", "0", "", "", SEVERITY_TEXT if full else "", "", ""],
           ["HH", ym, "2", "1", "1", "1", "2800", "10", "28000"],
           ["GT", ym, "2", "1", "1", "28000", "28000", "－120", "27880", "93", "", ""],
           ["CD", day, "60", "1", "1", "160000410", "", "", "", "1", ""]]
    if full:
        out[2:2] = [["KO", "54136015", "1234566", "", "14", str(points), "0", "", "0", "", "", "", "6440"]]
        out += [["SK", "150000490", "Ｋ６１５", day, "", "0002", "テスト診療名称"],
                ["GA", ym, "2", LEAVES, DPC_CODE, COEFFICIENT, "0"]]
    return out


def _medical_receipt(no: int, ym: str, p: Patient, points: int) -> list[list[str]]:
    admitted, _, day = _dates(ym)
    re = ["RE", str(no), "1111", ym, p.name, p.sex, p.birth, "70", admitted, "", "", "", "", CHART_NO, "", "", "", "",
          "3", "", "", "", "", "01", "", "", "", "", p.kana, ""]
    ho = ["HO", p.insurer, p.symbol, p.number, "3", str(points), "", "", "", "", "", "9000", "", "", "", ""]
    days = [""] * 31
    days[0] = "1"
    return [re, ho,
            ["GR", DPC_CODE, "10"],
            ["SY", "2500013", admitted, "1", "", "", "01", ""],
            ["SI", "11", "", "190077410", "", str(points), "1", "", "", "", "", "", "", *days]]


def dpc_file(billing_ym: str, ym: str, patients: list[Patient], points: list[int]) -> bytes:
    """One hospital's DPC claims of one month in CP932 with CRLF and 0x1A: a DPC receipt per patient (the
    first carries every optional record: KO, SK, GA) and a 総括対象医科入院 receipt of the last patient.
    `points[i]` is the HO 合計点数 of patient i's DPC receipt, `points[-1]` that of the 医科 receipt."""
    lines = [["IR", "1", "13", "1", HOSPITAL_CODE, "", HOSPITAL_NAME, billing_ym, "00", HOSPITAL_PHONE]]
    for i, p in enumerate(patients):
        lines += _dpc_receipt(i + 1, ym, p, points[i], full=i == 0)
    lines += _medical_receipt(len(patients) + 1, ym, patients[-1], points[-1])
    lines.append(["GO", str(len(patients) + 1), str(sum(points)), "99"])
    return ("\r\n".join(",".join(f) for f in lines) + "\r\n").encode("cp932") + b"\x1a"


def record_counts(patients: int) -> dict[str, int]:
    """Records per type of `dpc_file` with this many patients."""
    per = {"BU": 1, "SB": 2, "KK": 1, "HH": 1, "GT": 1, "CD": 1}
    out = {"IR": 1, "GO": 1, "RE": patients + 1, "HO": patients + 1, **{k: patients * n for k, n in per.items()}}
    return {**out, "KO": 1, "SK": 1, "GA": 1, "GR": 1, "SY": 1, "SI": 1}


LINKED_DPC_POINTS = (98443, 98557)  # the DPC and the 医科 receipt of LINKED[0] in `linked_dpc_file`


def linked_dpc_file() -> bytes:
    """DPC claims of the month of the real 医科 file for its first LINKED patient."""
    return dpc_file("202111", "202110", [LINKED[0]], list(LINKED_DPC_POINTS))
