"""Every column a policy must cover: the bronze tables, as data (DESIGN.md decision 1, default-deny).

The UKE tables come from `transforms/uke/layout.py` plus the columns ingest adds; clinical tables
(`patients`, `labs`) come from the YAML layouts under `conf/layouts/` (read by `jobs/stages/release/policy_files.py` and
passed in); `patient_facts` is the one-row-per-pseudonymous-patient frame that `jobs/anonymize.py`
builds and from which the release `patients` table is made (issue 5 item 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from transforms.uke.layout import CLAIM_TABLES, table_fields

STRING_KINDS = frozenset({"code", "str", "text", "string"})
NUMERIC_KINDS = frozenset({"int", "bigint", "decimal", "double"})
DATE_KINDS = frozenset({"date", "ym"})


@dataclass(frozen=True)
class ColumnInfo:
    kind: str
    label: str
    risk: str = ""
    optional: bool = False  # may be absent from the table; a rule is allowed but not required
    # The regex every real value of a code column matches (transforms/uke/layout.py, `shape:` of a
    # clinical layout column): such values are exempt from the identifier detectors of validation.
    shape: str = ""

    @property
    def is_code(self) -> bool:
        """A declared code column: some detectors (6-digit 国保 numbers) skip it."""
        return self.kind == "code" or bool(self.shape)


Catalog = dict[str, dict[str, ColumnInfo]]

# Columns ingest adds to every UKE table, and the IR facts it copies onto each receipt.
INGEST_EXTRAS: dict[str, ColumnInfo] = {
    "receipt_key": ColumnInfo("str", "レセプトキー（ファイルsha256＋連番）", "LINK"),
    "file_sha256": ColumnInfo("str", "取込ファイルのsha256", "LINK"),
    "line_no": ColumnInfo("int", "ファイル内の行番号"),
}
RECEIPT_IR_FACTS: dict[str, ColumnInfo] = {
    "payer_kind": ColumnInfo("code", "審査支払機関"),
    "pref_code": ColumnInfo("code", "都道府県（医療機関所在地）", "INST", shape=r"^[0-9]{2}$"),
    "institution_code": ColumnInfo("code", "医療機関コード", "INST", shape=r"^[0-9]{7}$"),
    "billing_month": ColumnInfo("ym", "請求年月"),
    "claim_kind": ColumnInfo("code", "レセプトの種類（medical 医科, dental 歯科, pharmacy 調剤）"),
}
# Columns a clinical table may carry besides its layout (ingest provenance).
CLINICAL_EXTRAS: dict[str, ColumnInfo] = {
    "file_sha256": ColumnInfo("str", "取込ファイルのsha256", "LINK", optional=True),
    "line_no": ColumnInfo("int", "ファイル内の行番号", optional=True),
    "source_file": ColumnInfo("str", "取込ファイル名", "LINK", optional=True),
}
PATIENT_FACTS = "patient_facts"
# `at: first_service` on a table with rows per patient (derived pid): the patient's first service
# month, the reference date of the patients table's ages. The anonymize job joins it to every row as
# PATIENT_FIRST_SERVICE. An age or band taken there is the same on every row of a patient; one taken
# at each row's own date would show the month the patient crossed a band boundary, i.e. the birth
# month (req 22).
FIRST_SERVICE = "first_service"
PATIENT_FIRST_SERVICE = "__first_service"
PATIENT_FACT_COLUMNS: dict[str, ColumnInfo] = {
    "sex": ColumnInfo("code", "性別", "QUASI"),
    "birth_date": ColumnInfo("date", "生年月日", "DIRECT"),
    "first_service": ColumnInfo("date", "初回診療年月", "QUASI"),
    # 都道府県 JIS code: of the clinical address when known, else of the first facility (issue 5 item 3).
    "area": ColumnInfo("code", "地域（都道府県）", "QUASI"),
    "postal_code": ColumnInfo("string", "郵便番号（臨床データ）", "DIRECT"),
    "address": ColumnInfo("string", "住所（臨床データ）", "DIRECT"),
}

# Clinical layout types -> catalog kinds.
_CLINICAL_KINDS = {"string": "string", "int": "int", "bigint": "bigint", "double": "double", "date": "date"}


def uke_catalog() -> Catalog:
    """The bronze UKE tables and their columns, as ingest writes them."""
    out: Catalog = {}
    for table in CLAIM_TABLES:
        cols = {f.name: ColumnInfo(f.kind, f.label, f.risk, shape=f.shape) for f in table_fields(table)}
        cols.update(INGEST_EXTRAS)
        if table == "receipts":
            cols.update(RECEIPT_IR_FACTS)
        out[table] = cols
    return out


def clinical_table(columns: Iterable[Mapping[str, object]]) -> dict[str, ColumnInfo]:
    """Catalog entry of one clinical layout: `columns` are the layout's {name, type, label, risk, shape}."""
    out: dict[str, ColumnInfo] = {}
    for col in columns:
        kind = _CLINICAL_KINDS.get(str(col.get("type", "string")), "string")
        out[str(col["name"])] = ColumnInfo(kind, str(col.get("label", "")), str(col.get("risk", "") or ""),
                                           shape=str(col.get("shape", "") or ""))
    for name, info in CLINICAL_EXTRAS.items():
        out.setdefault(name, info)
    return out


def full_catalog(clinical: Mapping[str, dict[str, ColumnInfo]] | None = None) -> Catalog:
    cat = uke_catalog()
    cat.update(clinical or {})
    cat[PATIENT_FACTS] = dict(PATIENT_FACT_COLUMNS)
    return cat
