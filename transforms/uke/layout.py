"""Record layouts of the レセプト電算 claim files, as data: 医科 (RECEIPTC.UKE), 歯科 (RECEIPTS.UKE),
調剤 (RECEIPTY.CYO) and DPC (RECEIPTD.UKE).

One declaration serves the parser (position -> typed column), the synthetic generator (typed
column -> position) and the policy (every bronze column is declared here, with its Japanese 項目名
and its identification risk). Sources: 医科 ../shared/reference/uke_format.md §3, 歯科
docs/formats/dental.md, 調剤 docs/formats/pharmacy.md, DPC docs/formats/dpc.md; positions are 1-based CSV indexes after the record id (idx 0).

A claim kind (`ClaimKind`) names the record types its files hold. A record type whose layout is the
same in every kind (SN, JD, MF, SJ, GO) is one `RecordLayout`; one that differs is a layout per kind
with its own `key` (`dental_RE`), the partition ingest parses it under. Several layouts may feed one
bronze table (医科 RE and 歯科 RE both feed `receipts`; DPC SB and SY both feed `diagnoses`): the
table's columns are the union of theirs (`table_fields`), a column absent from a layout is null in
its rows, and `receipts.claim_kind` says which kind a receipt is. Ingest counts rows per file and
record type, not per table.

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
- ``groups`` a repeated group of positions, e.g. the 35 (加算コード, 数量) of 歯科 SS or the 12
             (負担区分, コード, 回数, 点数) 薬学管理料 of 調剤 KI -> ARRAY<STRUCT<...>> with one member per
             position (``code``, ``text`` -> STRING, ``int`` -> INT); groups with every member empty
             left out.
- ``reserve``予備: parsed for position only, not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("code", "str", "text", "int", "bigint", "decimal", "date", "ym", "days", "groups", "reserve")
MEMBER_KINDS = {"code": "string", "text": "string", "int": "int"}  # what a member of a `groups` field may be
# Where a record stands in a file: the file header (医科 IR, 歯科 UK, line 1), the per-receipt header
# (歯科 IR, before each RE), the receipt (RE), a record of the receipt before it, the trailer (GO).
ROLES = ("file", "receipt_header", "receipt", "child", "trailer")
SQL_TYPES = {
    "code": "string", "str": "string", "text": "string", "int": "int", "bigint": "bigint",
    "decimal": "decimal(15,5)", "date": "date", "ym": "date", "days": "array<int>",
    "reserve": "string",
}
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
    members: tuple[tuple[str, str], ...] = ()  # kind `groups`: (member name, member kind) per position
    repeat: int = 0  # kind `groups`: how many groups

    @property
    def width(self) -> int:
        """How many CSV positions the field spans."""
        return 31 if self.kind == "days" else len(self.members) * self.repeat if self.kind == "groups" else 1

    @property
    def sql_type(self) -> str:
        """The bronze column type."""
        if self.kind == "groups":
            return "array<struct<" + ",".join(f"{n}:{MEMBER_KINDS[k]}" for n, k in self.members) + ">>"
        return SQL_TYPES[self.kind]


@dataclass(frozen=True)
class RecordLayout:
    record_type: str
    table: str | None  # bronze table; None for the headers and GO, which feed the file ledger
    label: str
    fields: tuple[Field, ...]
    role: str = "child"
    key: str = ""  # partition and column prefix in ingest; the record type unless a kind's own layout

    def __post_init__(self) -> None:
        assert self.role in ROLES, (self.record_type, self.role)
        if not self.key:
            object.__setattr__(self, "key", self.record_type)

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
DPC_CODE = r"^[0-9A-Zx]{14}$"  # 診断群分類番号: digits, and x where a position does not apply (040080xx99x0xx)



def _groups(name: str, label: str, members: tuple[tuple[str, str], ...], repeat: int) -> Field:
    assert members and all(k in MEMBER_KINDS for _, k in members), (name, members)
    return Field(name, "groups", label, members=members, repeat=repeat)


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
), role="file")

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
), role="receipt")

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
    _f("dpc_code", "str", "ＤＰＣコード", shape=DPC_CODE),
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
), role="trailer")

# 医科 record types -> layouts (the generator and the 医科-only tests use these names directly).
LAYOUTS: dict[str, RecordLayout] = {
    r.record_type: r for r in (IR, RE, HO, KO, SN, JD, MF, GR, SY, SI, IY, TO, CO, SJ, GO)
}
# Records that belong to the receipt opened by the preceding RE (uke_format.md §1 "Order").
CHILD_TYPES = ("HO", "KO", "SN", "JD", "MF", "GR", "SY", "SI", "IY", "TO", "CO", "SJ")


# --- 歯科 (RECEIPTS.UKE): docs/formats/dental.md -------------------------------------------------
TOOTH = r"^([0-9A-Z]{6}){1,64}$"  # 歯式コード: 歯種 4 + 状態 1 + 部分 1, concatenated


def _dental(layout: RecordLayout) -> RecordLayout:
    return RecordLayout(layout.record_type, layout.table, layout.label, layout.fields, layout.role,
                        f"dental_{layout.record_type}")


DENTAL_UK = _dental(RecordLayout("UK", None, "受付情報レコード（歯科）", (
    _f("payer_kind", "code", "審査支払機関"),
    _f("pref_code", "code", "都道府県", "INST", r"^[0-9]{2}$"),
    _f("score_table", "code", "点数表"),
    _f("institution_code", "code", "医療機関コード", "INST", r"^[0-9]{7}$"),
    _reserve(1),
    _f("institution_name", "text", "医療機関名称", "INST"),
    _f("billing_month", "ym", "請求年月"),
    _f("facility_standards", "str", "届出"),
    _f("volume_no", "code", "マルチボリューム識別情報"),
), role="file"))

# 歯科 IR repeats the facility before every receipt; its facts are the UK's, so it feeds no table.
DENTAL_IR = _dental(RecordLayout("IR", None, "医療機関情報レコード（歯科）", (
    _f("payer_kind", "code", "審査支払機関"),
    _f("pref_code", "code", "都道府県", "INST", r"^[0-9]{2}$"),
    _f("score_table", "code", "点数表"),
    _f("institution_code", "code", "医療機関コード", "INST", r"^[0-9]{7}$"),
    _reserve(1),
    _f("billing_month", "ym", "請求年月"),
    _f("institution_phone", "str", "電話番号", "INST"),
    _f("facility_standards", "str", "届出"),
), role="receipt_header"))

DENTAL_RE = _dental(RecordLayout("RE", "receipts", "レセプト共通レコード（歯科）", (
    _f("receipt_no", "int", "レセプト番号", "LINK"),
    _f("receipt_type", "code", "レセプト種別", "QUASI"),
    _f("service_month", "ym", "診療年月", "QUASI"),
    _f("name", "text", "氏名", "DIRECT"),
    _f("sex", "code", "男女区分", "QUASI"),
    _f("birth_date", "date", "生年月日", "QUASI"),
    _f("benefit_ratio", "int", "給付割合"),
    _f("admission_date", "date", "入院年月日", "QUASI"),
    _f("care_start_date", "date", "診療開始日", "QUASI"),
    _f("outcome", "code", "転帰区分", "SENS"),
    _f("ward_class", "str", "病棟区分"),
    _f("copay_class", "code", "一部負担金・食事療養費・生活療養費標準負担額区分", "SENS"),
    _f("special_notes", "str", "レセプト特記事項", "SENS", r"^([0-9]{2}){1,5}$"),
    _reserve(1),
    _f("chart_no", "str", "カルテ番号等", "DIRECT"),
    _f("billing_info", "text", "請求情報１", "FREE"),
    _reserve(2),
    _f("unvisited_claim", "code", "未来院請求"),
    _f("search_no", "str", "検索番号", "LINK"),
    _reserve(3),
    _f("billing_info_2", "text", "請求情報２", "FREE"),
    _reserve(4), _reserve(5), _reserve(6),
    _f("kana_name", "text", "カタカナ（氏名）", "DIRECT"),
    _f("patient_state", "str", "患者の状態", "SENS"),
), role="receipt"))

DENTAL_HO = _dental(RecordLayout("HO", "insurances", "保険者レコード（歯科）", (
    _f("insurer_no", "code", "保険者番号", "DIRECT"),
    _f("card_symbol", "str", "被保険者証等の記号", "DIRECT"),
    _f("card_number", "str", "被保険者証等の番号", "DIRECT"),
    _f("days", "int", "診療実日数"),
    _f("points", "bigint", "合計点数"),
    _f("meal_count", "int", "食事療養・生活療養 回数"),
    _f("meal_amount", "bigint", "食事療養・生活療養 合計金額"),
    _f("occupational", "code", "職務上の事由"),
    _f("certificate_no", "str", "証明書番号", "DIRECT"),
    _f("copay_amount", "bigint", "負担金額（医療保険）"),
    _f("reduction_class", "code", "減免区分", "SENS"),
    _f("reduction_rate", "int", "減額割合", "SENS"),
    _f("reduction_amount", "bigint", "減額金額", "SENS"),
)))

DENTAL_KO = _dental(RecordLayout("KO", "public_expenses", "公費レコード（歯科）", (
    _f("payer_no", "code", "公費負担者番号", "DIRECT"),
    _f("recipient_no", "str", "公費受給者番号", "DIRECT"),
    _f("optional_benefit", "code", "任意給付区分"),
    _f("days", "int", "診療実日数"),
    _f("points", "bigint", "合計点数"),
    _f("copay_amount", "bigint", "負担金額（公費）"),
    _f("public_copay", "bigint", "公費給付対象一部負担金"),
    _f("meal_count", "int", "食事療養・生活療養 回数"),
    _f("meal_amount", "bigint", "食事療養・生活療養 合計金額"),
)))

# 傷病名部位: the 歯科 diagnosis, with the teeth it concerns (歯式). Feeds `diagnoses` like 医科 SY.
DENTAL_HS = _dental(RecordLayout("HS", "diagnoses", "傷病名部位レコード", (
    _f("start_date", "date", "診療開始日", "QUASI"),
    _f("outcome", "code", "転帰区分", "SENS"),
    _f("tooth_codes", "str", "歯式コード（傷病名）", "QUASI", TOOTH),
    _f("disease_code", "code", "傷病名コード", shape=MASTER7),
    _f("modifier_codes", "str", "修飾語コード", shape=r"^([0-9]{4}){1,20}$"),
    _f("disease_name", "text", "傷病名称", "FREE"),
    _f("comorbid_count", "int", "併存傷病名数"),
    _f("pathology_stage", "code", "病態移行"),
    _f("main_flag", "code", "主傷病"),
    _f("supplement_code", "code", "コメントコード（補足コメント）", shape=MASTER9),
    _f("supplement", "text", "補足コメント", "FREE"),
    _f("supplement_tooth_codes", "str", "歯式コード（補足コメント）", "QUASI", TOOTH),
)))

# 歯科診療行為: its own table, since a 歯科 file also carries SI (医科 procedure codes) in `procedures`.
DENTAL_SS = _dental(RecordLayout("SS", "dental_procedures", "歯科診療行為レコード", (
    *_DETAIL_HEAD,
    _f("procedure_code", "code", "診療行為コード", shape=MASTER9),
    _f("quantity", "int", "診療行為数量データ１"),
    _f("quantity_2", "int", "診療行為数量データ２"),
    _groups("additions", "加算コード・加算数量データ（35組）", (("code", "code"), ("quantity", "int")), 35),
    _f("points", "int", "点数"),
    _f("count", "int", "回数"),
    _f("day_counts", "days", "1日〜31日の情報", "QUASI"),
)))

DENTAL_SI = _dental(RecordLayout("SI", "procedures", "診療行為レコード（歯科）", (
    *_DETAIL_HEAD,
    _f("procedure_code", "code", "診療行為コード", shape=MASTER9),
    _f("quantity", "decimal", "数量データ"),
    _f("points", "int", "点数"),
    _f("count", "int", "回数"),
    _f("day_counts", "days", "1日〜31日の情報", "QUASI"),
)))

DENTAL_IY = _dental(RecordLayout("IY", "drugs", "医薬品レコード（歯科）", (
    *_DETAIL_HEAD,
    _f("drug_code", "code", "医薬品コード", shape=MASTER9),
    _f("amount", "decimal", "使用量"),
    _f("points", "int", "点数"),
    _f("count", "int", "回数"),
    _f("drug_category", "code", "医薬品区分"),
    _f("day_counts", "days", "1日〜31日の情報", "QUASI"),
)))

DENTAL_TO = _dental(RecordLayout("TO", "materials", "特定器材レコード（歯科）", (
    *_DETAIL_HEAD,
    _f("material_code", "code", "特定器材コード", shape=MASTER9),
    _f("amount", "decimal", "使用量"),
    _f("unit_code", "code", "単位コード"),
    _f("unit_price", "decimal", "単価"),
    _f("addition_code_1", "code", "特定器材加算等コード１", shape=MASTER9),
    _f("addition_quantity_1", "decimal", "特定器材加算等数量データ１"),
    _f("addition_code_2", "code", "特定器材加算等コード２", shape=MASTER9),
    _f("addition_quantity_2", "decimal", "特定器材加算等数量データ２"),
    _f("product_name", "text", "商品名及び規格又はサイズ", "FREE"),
    _f("points", "int", "点数"),
    _f("count", "int", "回数"),
    _f("day_counts", "days", "1日〜31日の情報", "QUASI"),
)))

DENTAL_CO = _dental(RecordLayout("CO", "comments", "コメントレコード（歯科）", (
    *_DETAIL_HEAD,
    _f("comment_code", "code", "コメントコード", shape=MASTER9),
    _f("comment_text", "text", "文字データ", "FREE"),
    _f("tooth_codes", "str", "歯式コード（コメント）", "QUASI", TOOTH),
    *(_reserve(i) for i in range(1, 6)),
)))


# --- 調剤 (RECEIPTY.CYO): docs/formats/pharmacy.md ------------------------------------------------
# Second-hand layouts (the 支払基金 spec was not read): CZ pos 54-70, KI and TO pos 6 are [unverified]
# there. A field a file leaves out at the end of a line is null, so an older, shorter CZ parses too.


def _pharmacy(layout: RecordLayout) -> RecordLayout:
    return RecordLayout(layout.record_type, layout.table, layout.label, layout.fields, layout.role,
                        f"pharmacy_{layout.record_type}")


_FEE = (("burden_class", "code"), ("code", "code"), ("points", "int"))  # 負担区分, コード, 点数
_FEE_COUNTED = (("burden_class", "code"), ("code", "code"), ("count", "int"), ("points", "int"))

PHARMACY_YK = _pharmacy(RecordLayout("YK", None, "薬局情報レコード", (
    _f("payer_kind", "code", "審査支払機関"),
    _f("pref_code", "code", "都道府県", "INST", r"^[0-9]{2}$"),
    _f("score_table", "code", "点数表"),
    _f("institution_code", "code", "薬局コード", "INST", r"^[0-9]{7}$"),
    _f("institution_name", "text", "薬局名称", "INST"),
    _f("billing_month", "ym", "請求年月"),
    _f("volume_no", "code", "マルチボリューム識別情報"),
    _f("institution_phone", "str", "電話番号", "INST"),
), role="file"))

PHARMACY_RE = _pharmacy(RecordLayout("RE", "receipts", "レセプト共通レコード（調剤）", (
    _f("receipt_no", "int", "レセプト番号", "LINK"),
    _f("receipt_type", "code", "レセプト種別", "QUASI"),
    _f("service_month", "ym", "調剤年月", "QUASI"),
    _f("name", "text", "氏名", "DIRECT"),
    _f("sex", "code", "男女区分", "QUASI"),
    _f("birth_date", "date", "生年月日", "QUASI"),
    _f("benefit_ratio", "int", "給付割合"),
    _f("special_notes", "str", "レセプト特記事項", "SENS", r"^([0-9]{2}){1,5}$"),
    _f("prescriber_pref_code", "code", "都道府県（処方箋を交付した医療機関）", "INST", r"^[0-9]{2}$"),
    _f("prescriber_score_table", "code", "点数表（処方箋を交付した医療機関）"),
    _f("prescriber_institution_code", "code", "医療機関コード（処方箋を交付した医療機関）", "INST", r"^[0-9]{7}$"),
    _f("prescriber_institution_name", "text", "名称（処方箋を交付した医療機関）", "INST"),
    _f("prescriber_institution_address", "text", "所在地（処方箋を交付した医療機関）", "INST"),
    _groups("prescriber_names", "保険医氏名（20名）", (("name", "text"),), 20),
    _f("narcotic_licence_no", "str", "麻薬免許番号", "DIRECT"),
    _f("dispensing_record_no", "str", "調剤録番号等", "DIRECT"),
    _reserve(1),
    _f("search_no", "str", "検索番号", "LINK"),
    _reserve(2),  # [unverified] 予備 (R08) or 記録条件仕様年月情報 (about H30): not kept either way
    _f("billing_info", "text", "請求情報", "FREE"),
    _f("copay_class", "code", "一部負担金区分", "SENS"),
    _f("kana_name", "text", "カタカナ（氏名）", "DIRECT"),
), role="receipt"))

PHARMACY_HO = _pharmacy(RecordLayout("HO", "insurances", "保険者レコード（調剤）", (
    _f("insurer_no", "code", "保険者番号", "DIRECT"),
    _f("card_symbol", "str", "被保険者証等の記号", "DIRECT"),
    _f("card_number", "str", "被保険者証等の番号", "DIRECT"),
    _f("prescription_count", "int", "処方箋受付回数"),
    _f("points", "bigint", "合計点数"),
    _reserve(1),
    _f("occupational", "code", "職務上の事由"),
    _f("certificate_no", "str", "証明書番号", "DIRECT"),
    _f("copay_amount", "bigint", "負担金額（医療保険）"),
    _reserve(2),
    _f("reduction_class", "code", "減免区分", "SENS"),
    _f("reduction_rate", "int", "減額割合", "SENS"),
    _f("reduction_amount", "bigint", "減額金額", "SENS"),
)))

PHARMACY_KO = _pharmacy(RecordLayout("KO", "public_expenses", "公費レコード（調剤）", (
    _f("payer_no", "code", "公費負担者番号", "DIRECT"),
    _f("recipient_no", "str", "公費受給者番号", "DIRECT"),
    _f("optional_benefit", "code", "任意給付区分"),
    _f("prescription_count", "int", "処方箋受付回数"),
    _f("points", "bigint", "合計点数"),
    _reserve(1),
    _f("copay_amount", "bigint", "負担金額（公費）"),
    _reserve(2),
    _f("public_copay", "bigint", "公費給付対象一部負担金"),
)))

# 処方基本: one per Rp (処方) of the receipt.
PHARMACY_SH = _pharmacy(RecordLayout("SH", "prescriptions", "処方基本レコード", (
    _f("rp_no", "int", "処方No"),
    _f("dosage_form", "code", "剤形コード"),
    _f("usage_code", "code", "用法コード"),
    _f("special_instruction", "text", "特別指示", "FREE"),
    _f("drug_points", "int", "単位薬剤料 合計"),
    *(_f(f"drug_points_public_{i}", "int", f"単位薬剤料 第{n}公費") for i, n in enumerate("一二三四", 1)),
)))

# 調剤情報: the dispensing of one Rp, with its fees and the exact prescription and dispensing dates.
PHARMACY_CZ = _pharmacy(RecordLayout("CZ", "dispensings", "調剤情報レコード", (
    _f("doctor_no", "int", "医師番号"),
    _f("prescribed_date", "date", "処方箋交付年月日", "QUASI"),
    _f("dispensed_date", "date", "調剤年月日", "QUASI"),
    _f("receipt_round", "int", "処方箋受付回"),
    _f("quantity", "int", "調剤数量"),
    _f("burden_class", "code", "負担区分（調剤料）"),
    _f("calc_class", "code", "算定区分（調剤料）"),
    _f("calc_target_no", "int", "算定先No（調剤料）"),
    _f("fee_code", "code", "コード（調剤料）", shape=MASTER9),
    _f("fee_points", "int", "点数（調剤料）"),
    _f("split_class", "code", "分割区分（分割調剤）"),
    _f("previous_quantity", "int", "前回までの数量（分割調剤）"),
    _f("drug_points", "int", "点数（薬剤料）"),
    _reserve(1),
    _groups("additions", "加算料（10組: 負担区分・コード・点数）", _FEE, 10),
    _f("one_pack_days", "int", "一包化日数"),
    _f("split_kind", "code", "分割調剤種類（分割調剤）"),
    _f("previous_one_pack_days", "int", "前回までの一包化日数（分割調剤）"),
    _f("instructed_split_code", "code", "コード（医師の指示による分割調剤）", shape=MASTER9),
    _f("instructed_split_class", "code", "分割区分（医師の指示による分割調剤）"),
    _f("instructed_split_quantity", "int", "分割対象調剤数量（医師の指示による分割調剤）"),
    _f("instructed_split_one_pack_days", "int", "分割対象一包化日数（医師の指示による分割調剤）"),
    _f("comprehensive_fee", "code", "包括管理料等"),
    _f("other_institution_visit", "code", "他医療機関受診に係る処方箋受付"),
    _f("support_fee_2_burden_class", "code", "負担区分（外来服薬支援料２）"),
    _f("support_fee_2_code", "code", "コード（外来服薬支援料２）", shape=MASTER9),
    _f("support_fee_2_points", "int", "点数（外来服薬支援料２）"),
    _f("management_burden_class", "code", "負担区分（調剤管理料）"),
    _f("management_calc_class", "code", "算定区分（調剤管理料）"),
    _f("management_calc_target_no", "int", "算定先No（調剤管理料）"),
    _f("management_code", "code", "コード（調剤管理料）", shape=MASTER9),
    _f("management_points", "int", "点数（調剤管理料）"),
    _f("management_overtime_burden_class", "code", "負担区分（調剤管理料時間外等加算）"),
    _f("management_overtime_code", "code", "コード（調剤管理料時間外等加算）", shape=MASTER9),
    _f("management_overtime_points", "int", "点数（調剤管理料時間外等加算）"),
    _f("drug_reduction_class", "code", "薬剤料減算区分"),
    _f("drug_reduction_points", "int", "薬剤料減算 合計"),
    *(_f(f"drug_reduction_public_{i}", "int", f"薬剤料減算 第{n}公費") for i, n in enumerate("一二三四", 1)),
)))

PHARMACY_IY = _pharmacy(RecordLayout("IY", "drugs", "医薬品レコード（調剤）", (
    _f("burden_class", "str", "負担区分"),
    _f("drug_code", "code", "医薬品コード", shape=MASTER9),
    _f("amount", "decimal", "使用量"),
    _reserve(1), _reserve(2),
    _f("mix_code", "code", "コード（混合区分）"),
    _f("mix_branch", "code", "枝（混合区分）"),
    _f("incompatibility_class", "code", "配合不適区分"),
    _f("single_dose", "decimal", "１回用量"),
)))

PHARMACY_TO = _pharmacy(RecordLayout("TO", "materials", "特定器材レコード（調剤）", (
    _f("burden_class", "str", "負担区分"),
    _f("material_code", "code", "特定器材コード", shape=MASTER9),
    _f("amount", "decimal", "使用量"),
    _f("unit_code", "code", "単位コード"),
    _f("unit_price", "decimal", "単価"),
    _f("product_name", "text", "特定器材名称（[unverified] 予備とする資料あり）", "FREE"),
)))

PHARMACY_CO = _pharmacy(RecordLayout("CO", "comments", "コメントレコード（調剤）", (
    _f("comment_code", "code", "コメントコード", shape=MASTER9),
    _f("comment_text", "text", "文字データ", "FREE"),
)))

# 摘要欄: its own table, since a 調剤 receipt also carries CO in `comments`.
PHARMACY_TK = _pharmacy(RecordLayout("TK", "remarks", "摘要欄レコード", (
    _f("comment_code", "code", "コメントコード", shape=MASTER9),
    _f("comment_text", "text", "文字データ", "FREE"),
)))

# 基本料・薬学管理料: [unverified] (one source, R08); see docs/formats/pharmacy.md.
PHARMACY_KI = _pharmacy(RecordLayout("KI", "pharmacy_fees", "基本料・薬学管理料レコード", (
    _f("calc_date", "date", "算定日", "QUASI"),
    _f("receipt_round", "int", "処方箋受付回"),
    _f("base_burden_class", "code", "負担区分（調剤基本料）"),
    _f("base_code", "code", "コード（調剤基本料）", shape=MASTER9),
    _f("base_points", "int", "点数（調剤基本料）"),
    _reserve(1),
    _groups("management_fees", "薬学管理料（12組: 負担区分・コード・回数・点数）", _FEE_COUNTED, 12),
    _groups("summary_management_fees", "摘要薬学管理料（3組: 負担区分・コード・回数・点数）", _FEE_COUNTED, 3),
    _f("previous_dispensed_date", "date", "前回調剤年月日", "QUASI"),
    _f("previous_quantity", "int", "前回調剤数量"),
    _groups("base_additions", "調剤基本料加算（10組: 負担区分・コード・回数・点数）", _FEE_COUNTED, 10),
    _f("comprehensive_fee", "code", "包括管理料等"),
    _f("other_institution_visit", "code", "他医療機関受診"),
    _f("instructed_split_base_code", "code", "医師指示分割 調剤基本料コード", shape=MASTER9),
    _f("instructed_split_management_code", "code", "医師指示分割 薬学管理料コード", shape=MASTER9),
    _f("instructed_split_summary_code", "code", "医師指示分割 摘要薬学管理料コード", shape=MASTER9),
)))

# 分割技術料 (分割調剤の技術料).
PHARMACY_ST = _pharmacy(RecordLayout("ST", "split_dispensings", "分割技術料レコード", (
    _f("doctor_no", "int", "医師番号"),
    _f("prescribed_date", "date", "処方箋交付年月日", "QUASI"),
    _f("dispensed_date", "date", "調剤年月日", "QUASI"),
    _f("receipt_round", "int", "処方箋受付回"),
    _f("split_instructions", "int", "分割指示回数"),
    _f("target_points", "int", "分割対象点数（保険）"),
    _f("split_points", "int", "分割後点数（保険）"),
    *(f for i, n in enumerate("一二三四", 1) for f in (
        _f(f"public_{i}_target_points", "int", f"分割対象点数（第{n}公費）"),
        _f(f"public_{i}_split_points", "int", f"分割後点数（第{n}公費）"))),
)))


# --- DPC (RECEIPTD.UKE): docs/formats/dpc.md ---------------------------------------------------------
# Second-hand layouts (H26 field lists, R02 record structure; the 支払基金 spec was not read). RE, HO and KO
# differ from 医科; BU, SB, KK, SK, GA, HH, GT and CD are DPC's own; the other records are 医科's. A field a
# file leaves out at the end of a line is null, so a shorter, older record parses too.

def _dpc(layout: RecordLayout) -> RecordLayout:
    return RecordLayout(layout.record_type, layout.table, layout.label, layout.fields, layout.role,
                        f"dpc_{layout.record_type}")


# The file header is 医科's IR; a kind's own key, since the header of a file says which kind it is.
DPC_IR = _dpc(RecordLayout("IR", None, "医療機関情報レコード（DPC）", IR.fields, role="file"))

# 医科 RE but for pos 12 (予備, 医科 病床数), pos 18-19 (DPC only) and one 診療科 set instead of three.
DPC_RE = _dpc(RecordLayout("RE", "receipts", "レセプト共通レコード（DPC）", (
    *RE.fields[:11],  # 1-11: レセプト番号 .. レセプト特記事項
    _reserve(4),
    *RE.fields[12:17],  # 13-17: カルテ番号等, 割引点数単価, 予備 x3
    _f("summary_class", "code", "レセプト総括区分"),
    _f("detail_count", "int", "明細情報数"),
    *RE.fields[17:20],  # 20-22: 検索番号, 記録条件仕様年月情報, 請求情報
    *_departments()[:5],
    *RE.fields[-2:],  # カタカナ（氏名）, 患者の状態
), role="receipt"))

DPC_HO = _dpc(RecordLayout("HO", "insurances", "保険者レコード（DPC）", (
    *HO.fields,
    _f("standard_burden", "bigint", "標準負担額", "SENS"),
)))

DPC_KO = _dpc(RecordLayout("KO", "public_expenses", "公費レコード（DPC）", (
    *KO.fields[:6],
    _reserve(1),
    _f("inpatient_copay", "bigint", "公費給付対象入院一部負担金"),
    _reserve(2),
    _f("meal_count", "int", "食事療養・生活療養 回数"),
    _f("meal_amount", "bigint", "食事療養・生活療養 合計金額"),
    _f("standard_burden", "bigint", "標準負担額", "SENS"),
)))

DPC_BU = RecordLayout("BU", "dpc_groups", "診断群分類レコード", (
    _f("dpc_code", "str", "診断群分類番号", shape=DPC_CODE),
    _f("admission_date", "date", "今回入院年月日", "QUASI"),
    _f("discharge_date", "date", "今回退院年月日", "QUASI"),
    _f("dpc_outcome", "code", "DPC転帰区分", "SENS"),
    _f("death_cause_text", "text", "死因", "FREE"),
))

# 傷病レコード: the DPC receipt's diagnoses, with ICD-10 and their role (医療資源を最も投入した傷病名, 副傷病名,
# ...). Feeds `diagnoses` with 医科 SY (which a DPC file also carries, on its 総括対象医科入院 receipts), so
# that every diagnosis a patient has is an item of (k, k^m) whatever kind of claim it came on.
DPC_SB = RecordLayout("SB", "diagnoses", "傷病レコード（DPC）", (
    _f("disease_code", "code", "傷病名コード", shape=MASTER7),
    _f("modifier_codes", "str", "修飾語コード", shape=r"^([0-9]{4}){1,20}$"),
    _f("disease_name", "text", "傷病名称", "FREE"),
    _f("icd10_code", "code", "ICD10コード", shape=r"^[A-Z][0-9]{2}[0-9A-Z$]{0,2}$"),
    _f("diagnosis_class", "code", "傷病名区分"),
    _f("cause_of_death", "code", "死因", "SENS"),
    _f("supplement", "text", "補足コメント", "FREE"),
))

DPC_KK = RecordLayout("KK", "dpc_patient_basics", "患者基礎レコード", (
    _reserve(1),
    _f("ward_transfer", "code", "転科・転棟の有無"),
    _f("admission_route", "code", "予定・緊急入院区分"),
    _f("previous_discharge_date", "date", "前回退院年月日", "QUASI"),
    _f("previous_same_disease", "code", "前回同一傷病での入院の有無"),
    _f("age_at_admission", "int", "入院時年齢", "QUASI"),
    _f("birth_weight", "int", "出生時体重", "QUASI"),
    _f("jcs", "code", "JCS", "SENS"),
    _reserve(2),
    _f("burn_index", "str", "Burn Index"),
    _f("severity_text", "text", "重症度等", "FREE"),
    _reserve(3),
    _f("months_at_admission", "int", "入院時月齢", "QUASI"),
))

DPC_SK = RecordLayout("SK", "dpc_care_events", "診療関連レコード", (
    _f("procedure_code", "code", "診療行為コード", shape=MASTER9),
    _f("section_no", "str", "区分番号"),
    _f("performed_date", "date", "実施年月日（予定年月日）", "QUASI"),
    _reserve(1),
    _f("care_section", "code", "診療区分コード"),
    _f("care_name", "text", "診療名称", "FREE"),
))

_DPC_PERIOD = (_f("service_month", "ym", "診療年月", "QUASI"), _f("adjustment_class", "code", "請求調整区分"))

DPC_GA = RecordLayout("GA", "dpc_leaves", "外泊レコード", (
    *_DPC_PERIOD,
    _f("leave_days", "str", "外泊等（日ごと）", "QUASI", r"^[0-9]{31}$"),
    _f("dpc_code", "str", "診断群分類番号", shape=DPC_CODE),
    _f("institution_coefficient", "str", "医療機関別係数", "INST"),
    _f("readmission_planned", "code", "翌月再入院（転棟）予定の有無"),
))

DPC_HH = RecordLayout("HH", "dpc_inclusive_fees", "包括評価レコード", (
    *_DPC_PERIOD,
    _f("insurance_class", "code", "自他保険区分"),
    _f("burden_class", "str", "負担区分"),
    _f("period_class", "code", "入院期間区分"),
    _f("period_points", "int", "入院期間区分別点数"),
    _f("period_days", "int", "入院期間区分別入院日数"),
    _f("subtotal_points", "int", "包括小計点数"),
))

DPC_GT = RecordLayout("GT", "dpc_adjustments", "合計調整レコード", (
    *_DPC_PERIOD,
    _f("insurance_class", "code", "自他保険区分"),
    _f("burden_class", "str", "負担区分"),
    _f("subtotal_points", "int", "包括小計点数合算"),
    _f("inclusive_points", "int", "包括評価点数"),
    _f("adjustment_points", "int", "調整点数"),  # signed
    _f("month_points", "int", "今月包括合計点数"),  # signed
    _f("care_class", "code", "診療識別"),
    _f("change_date", "date", "変更年月日", "QUASI"),
    _f("comment_text", "text", "文字データ", "FREE"),
))

DPC_CD = RecordLayout("CD", "dpc_coding", "コーディングデータレコード", (
    _f("performed_date", "date", "実施年月日", "QUASI"),
    _f("care_class", "code", "診療識別"),
    _f("order_no", "int", "順序番号"),
    _f("detail_no", "int", "行為明細番号"),
    _f("code", "code", "レセプト電算処理システム用コード", shape=MASTER9),
    _f("amount", "decimal", "使用量"),
    _f("quantity", "int", "数量データ"),
    _f("unit_code", "code", "単位コード"),
    _f("count", "int", "回数"),
    _f("material_name", "text", "特定器材名称", "FREE"),
))


@dataclass(frozen=True)
class ClaimKind:
    name: str  # as the ledger records it
    label: str
    header: str  # record id of the file's first record
    score_table: str  # 点数表 in the header
    records: dict[str, RecordLayout]  # record id -> layout
    # Record ids only this kind's files carry: they tell it from another kind with the same header (DPC
    # and 医科 files both start with IR).
    marks: tuple[str, ...] = ()

    def tables(self) -> tuple[str, ...]:
        """The bronze tables this kind's records feed."""
        return tuple(dict.fromkeys(r.table for r in self.records.values() if r.table))

    def fed(self) -> dict[str, str]:
        """Record id -> the bronze table it feeds (DPC SB and SY both feed `diagnoses`)."""
        return {rt: r.table for rt, r in self.records.items() if r.table}

    def file_header(self) -> RecordLayout:
        return self.records[self.header]


MEDICAL = ClaimKind("medical", "医科", "IR", "1", LAYOUTS)
DENTAL = ClaimKind("dental", "歯科", "UK", "3", {
    r.record_type: r for r in (DENTAL_UK, DENTAL_IR, DENTAL_RE, DENTAL_HO, DENTAL_KO, SN, JD, MF, DENTAL_HS,
                               DENTAL_SS, DENTAL_SI, DENTAL_IY, DENTAL_TO, DENTAL_CO, SJ, GO)
})
PHARMACY = ClaimKind("pharmacy", "調剤", "YK", "4", {
    r.record_type: r for r in (PHARMACY_YK, PHARMACY_RE, PHARMACY_HO, PHARMACY_KO, SN, JD, MF, PHARMACY_SH,
                               PHARMACY_CZ, PHARMACY_IY, PHARMACY_TO, PHARMACY_CO, PHARMACY_TK, PHARMACY_KI,
                               PHARMACY_ST, GO)
})
DPC = ClaimKind("dpc", "DPC", "IR", "1", {
    r.record_type: r for r in (DPC_IR, DPC_RE, DPC_HO, DPC_KO, SN, JD, MF, DPC_BU, DPC_SB, DPC_KK, DPC_SK, DPC_GA,
                               DPC_HH, DPC_GT, DPC_CD, GR, SY, SI, IY, TO, CO, SJ, GO)
}, marks=("BU", "SB", "KK", "SK", "GA", "HH", "GT", "CD"))
CLAIM_KINDS: dict[str, ClaimKind] = {k.name: k for k in (MEDICAL, DENTAL, PHARMACY, DPC)}
# Every layout once, by key: what ingest partitions and parses.
ALL_LAYOUTS: dict[str, RecordLayout] = {r.key: r for k in CLAIM_KINDS.values() for r in k.records.values()}
CLAIM_TABLES: tuple[str, ...] = tuple(dict.fromkeys(r.table for r in ALL_LAYOUTS.values() if r.table))


def table_fields(table: str) -> tuple[Field, ...]:
    """The bronze columns of a claim table: the kept fields of every layout feeding it, first seen first."""
    out: dict[str, Field] = {}
    for layout in ALL_LAYOUTS.values():
        if layout.table == table:
            for f in layout.kept():
                seen = out.setdefault(f.name, f)
                assert seen.sql_type == f.sql_type, (table, f.name, seen.sql_type, f.sql_type)
    return tuple(out.values())
