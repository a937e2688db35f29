"""Record layouts of the レセプト電算 医科 claim file (RECEIPTC.UKE), as data.

One declaration serves the parser (position -> typed column), the synthetic generator (typed
column -> position) and the policy (every bronze column is declared here, with its Japanese 項目名
and its identification risk). Source: ../shared/reference/uke_format.md §3; positions are 1-based
CSV indexes after the record id (idx 0).

Field kinds:
- ``code``   数字/英数 code kept as a string (leading zeros matter); spaces stripped, full-width digits
             normalized (HO 保険者番号 is right-justified and space-padded).
- ``str``    英数 free identifier (カルテ番号, 記号・番号); surrounding half-width spaces stripped.
- ``text``   漢字 text, kept verbatim (names, comments, 症状詳記).
- ``int``    数字 count, 点数 or amount -> INT (BIGINT for sums).
- ``decimal``使用量 or 単価 ("00001.00000") -> DECIMAL(15,5).
- ``date``   GYYMMDD (和暦) or YYYYMMDD (西暦) -> DATE.
- ``ym``     GYYMM (和暦) or YYYYMM (西暦) -> DATE, first day of the month.
- ``days``   the 31 per-day columns 1日..31日 -> ARRAY<INT> of 31.
- ``reserve``予備: parsed for position only, not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("code", "str", "text", "int", "bigint", "decimal", "date", "ym", "days", "reserve")
# Identification risk, as in uke_format.md §4. DIRECT = direct identifier or 個人識別符号.
RISKS = ("DIRECT", "QUASI", "INST", "FREE", "SENS", "LINK", "")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    label: str
    risk: str = ""
    # The regex every real value of a code column matches (requirements 8, 12, 13): validation does not
    # run the identifier detectors on such a value, so a master code never looks like a phone number.
    shape: str = ""

    @property
    def width(self) -> int:
        """How many CSV positions the field spans."""
        return 31 if self.kind == "days" else 1


@dataclass(frozen=True)
class RecordLayout:
    record_type: str
    table: str | None  # bronze table; None for IR and GO, which feed the file ledger
    label: str
    fields: tuple[Field, ...]

    @property
    def width(self) -> int:
        """Positions after the record id."""
        return sum(f.width for f in self.fields)

    def kept(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind != "reserve")


def _f(name: str, kind: str, label: str, risk: str = "", shape: str = "") -> Field:
    assert kind in KINDS and risk in RISKS, (name, kind, risk)
    return Field(name, kind, label, risk, shape)


# Shapes of the 支払基金 基本マスター codes (../shared/reference/masters/SOURCE.txt) and of other codes
# long enough to look like an identifier.
MASTER7 = r"^[0-9]{7}$"  # 傷病名コード
MASTER9 = r"^[0-9]{9}$"  # 診療行為・医薬品・特定器材・コメントコード



def _reserve(n: int) -> Field:
    return _f(f"reserve_{n}", "reserve", "予備")


def _comments() -> tuple[Field, ...]:
    out: list[Field] = []
    for i in (1, 2, 3):
        out += [_f(f"comment_code_{i}", "code", f"コメントコード{i}", shape=MASTER9), _f(f"comment_text_{i}", "text", f"文字データ{i}", "FREE")]
    return tuple(out)


def _departments() -> tuple[Field, ...]:
    out: list[Field] = []
    for i in (1, 2, 3):
        out += [
            _f(f"dept{i}_name", "code", f"診療科{i} 診療科名"),
            _f(f"dept{i}_body_part", "code", f"診療科{i} 人体の部位等"),
            _f(f"dept{i}_sex_etc", "code", f"診療科{i} 性別等", "SENS"),
            _f(f"dept{i}_treatment", "code", f"診療科{i} 医学的処置"),
            _f(f"dept{i}_disease", "code", f"診療科{i} 特定疾病", "SENS"),
        ]
    return tuple(out)


IR = RecordLayout("IR", None, "医療機関情報レコード", (
    _f("payer_kind", "code", "審査支払機関"),
    _f("pref_code", "code", "都道府県", "INST", r"^[0-9]{2}$"),
    _f("score_table", "code", "点数表"),
    _f("institution_code", "code", "医療機関コード", "INST", r"^[0-9]{7}$"),
    _reserve(1),
    _f("institution_name", "text", "医療機関名称", "INST"),
    _f("billing_month", "ym", "請求年月"),
    _f("volume_no", "code", "マルチボリューム識別情報"),
    _f("institution_phone", "str", "電話番号", "INST"),
))

RE = RecordLayout("RE", "receipts", "レセプト共通レコード", (
    _f("receipt_no", "int", "レセプト番号", "LINK"),
    _f("receipt_type", "code", "レセプト種別", "QUASI"),
    _f("service_month", "ym", "診療年月", "QUASI"),
    _f("name", "text", "氏名", "DIRECT"),
    _f("sex", "code", "男女区分", "QUASI"),
    _f("birth_date", "date", "生年月日", "QUASI"),
    _f("benefit_ratio", "int", "給付割合"),
    _f("admission_date", "date", "入院年月日", "QUASI"),
    _f("ward_class", "str", "病棟区分"),
    _f("copay_class", "code", "一部負担金・食事療養費・生活療養費標準負担額区分", "SENS"),
    _f("special_notes", "str", "レセプト特記事項", "SENS", r"^([0-9]{2}){1,5}$"),
    _f("beds", "int", "病床数", "INST"),
    _f("chart_no", "str", "カルテ番号等", "DIRECT"),
    _f("discount_unit_price", "int", "割引点数単価"),
    _reserve(1), _reserve(2), _reserve(3),
    _f("search_no", "str", "検索番号", "LINK"),
    _f("spec_version", "str", "記録条件仕様年月情報", shape=r"^[0-9]{6}$"),
    _f("billing_info", "text", "請求情報", "FREE"),
    *_departments(),
    _f("kana_name", "text", "カタカナ（氏名）", "DIRECT"),
    _f("patient_state", "str", "患者の状態", "SENS"),
))

HO = RecordLayout("HO", "insurances", "保険者レコード", (
    _f("insurer_no", "code", "保険者番号", "DIRECT"),
    _f("card_symbol", "str", "被保険者証等の記号", "DIRECT"),
    _f("card_number", "str", "被保険者証等の番号", "DIRECT"),
    _f("days", "int", "診療実日数"),
    _f("points", "bigint", "合計点数"),
    _reserve(1),
    _f("meal_count", "int", "食事療養・生活療養 回数"),
    _f("meal_amount", "bigint", "食事療養・生活療養 合計金額"),
    _f("occupational", "code", "職務上の事由"),
    _f("certificate_no", "str", "証明書番号", "DIRECT"),
    _f("copay_amount", "bigint", "負担金額（医療保険）"),
    _f("reduction_class", "code", "減免区分", "SENS"),
    _f("reduction_rate", "int", "減額割合", "SENS"),
    _f("reduction_amount", "bigint", "減額金額", "SENS"),
))

KO = RecordLayout("KO", "public_expenses", "公費レコード", (
    _f("payer_no", "code", "公費負担者番号", "DIRECT"),
    _f("recipient_no", "str", "公費受給者番号", "DIRECT"),
    _f("optional_benefit", "code", "任意給付区分"),
    _f("days", "int", "診療実日数"),
    _f("points", "bigint", "合計点数"),
    _f("copay_amount", "bigint", "負担金額（公費）"),
    _f("outpatient_copay", "bigint", "公費給付対象外来一部負担金"),
    _f("inpatient_copay", "bigint", "公費給付対象入院一部負担金"),
    _reserve(1),
    _f("meal_count", "int", "食事療養・生活療養 回数"),
    _f("meal_amount", "bigint", "食事療養・生活療養 合計金額"),
))

SN = RecordLayout("SN", "eligibility", "資格確認レコード", (
    _f("burden_kind", "code", "負担者種別"),
    _f("confirm_class", "code", "確認区分"),
    _f("insurer_no", "code", "保険者番号等（資格確認）", "DIRECT"),
    _f("card_symbol", "str", "被保険者証等の記号（資格確認）", "DIRECT"),
    _f("card_number", "str", "被保険者証等の番号（資格確認）", "DIRECT"),
    _f("branch_no", "str", "枝番", "DIRECT"),
    _f("recipient_no", "str", "受給者番号", "DIRECT"),
    _reserve(1),
))

JD = RecordLayout("JD", "visit_days", "受診日等レコード", (
    _f("burden_kind", "code", "負担者種別"),
    _f("day_codes", "days", "1日〜31日の情報（受診等区分）", "QUASI"),
))

MF = RecordLayout("MF", "window_payments", "窓口負担額レコード", (
    _f("window_class", "code", "窓口負担額区分", "SENS"),
    *(_reserve(i) for i in range(1, 32)),
))

# Field order of GR is [unverified] in uke_format.md; parsed leniently.
GR = RecordLayout("GR", "dpc_exclusions", "包括評価対象外理由レコード", (
    _f("dpc_code", "str", "ＤＰＣコード", shape=r"^[0-9A-Z]{14}$"),
    _f("calc_reason", "code", "医科点数表算定理由"),
))

SY = RecordLayout("SY", "diagnoses", "傷病名レコード", (
    _f("disease_code", "code", "傷病名コード", shape=MASTER7),
    _f("start_date", "date", "診療開始日", "QUASI"),
    _f("outcome", "code", "転帰区分", "SENS"),
    _f("modifier_codes", "str", "修飾語コード", shape=r"^([0-9]{4}){1,20}$"),
    _f("disease_name", "text", "傷病名称", "FREE"),
    _f("main_flag", "code", "主傷病"),
    _f("supplement", "text", "補足コメント", "FREE"),
))

_DETAIL_HEAD = (_f("care_class", "code", "診療識別"), _f("burden_class", "str", "負担区分"))

SI = RecordLayout("SI", "procedures", "診療行為レコード", (
    *_DETAIL_HEAD,
    _f("procedure_code", "code", "診療行為コード", shape=MASTER9),
    _f("quantity", "decimal", "数量データ"),
    _f("points", "int", "点数"),
    _f("count", "int", "回数"),
    *_comments(),
    _f("day_counts", "days", "1日〜31日の情報", "QUASI"),
))

IY = RecordLayout("IY", "drugs", "医薬品レコード", (
    *_DETAIL_HEAD,
    _f("drug_code", "code", "医薬品コード", shape=MASTER9),
    _f("amount", "decimal", "使用量"),
    _f("points", "int", "点数"),
    _f("count", "int", "回数"),
    *_comments(),
    _f("day_counts", "days", "1日〜31日の情報", "QUASI"),
))

TO = RecordLayout("TO", "materials", "特定器材レコード", (
    *_DETAIL_HEAD,
    _f("material_code", "code", "特定器材コード", shape=MASTER9),
    _f("amount", "decimal", "使用量"),
    _f("points", "int", "点数"),
    _f("count", "int", "回数"),
    _f("unit_code", "code", "単位コード"),
    _f("unit_price", "decimal", "単価"),
    _reserve(1),
    _f("product_name", "text", "商品名及び規格又はサイズ", "FREE"),
    *_comments(),
    _f("day_counts", "days", "1日〜31日の情報", "QUASI"),
))

CO = RecordLayout("CO", "comments", "コメントレコード", (
    *_DETAIL_HEAD,
    _f("comment_code", "code", "コメントコード", shape=MASTER9),
    _f("comment_text", "text", "文字データ", "FREE"),
))

SJ = RecordLayout("SJ", "symptom_details", "症状詳記レコード", (
    _f("detail_class", "code", "症状詳記区分"),
    _f("detail_text", "text", "症状詳記データ", "FREE"),
))

GO = RecordLayout("GO", None, "診療報酬請求書レコード", (
    _f("total_receipts", "int", "総件数"),
    _f("total_points", "bigint", "総合計点数"),
    _f("volume_no", "code", "マルチボリューム識別情報"),
))

LAYOUTS: dict[str, RecordLayout] = {
    r.record_type: r for r in (IR, RE, HO, KO, SN, JD, MF, GR, SY, SI, IY, TO, CO, SJ, GO)
}
# Records that belong to the receipt opened by the preceding RE (uke_format.md §1 "Order").
CHILD_TYPES = ("HO", "KO", "SN", "JD", "MF", "GR", "SY", "SI", "IY", "TO", "CO", "SJ")
