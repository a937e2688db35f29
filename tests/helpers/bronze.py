"""A tiny bronze warehouse written in the test (no generator needed), shaped like ingest's output.

Four claim patients, one clinical-only patient and one receipt without any identity, with the
identifiers the release must never show (TRUTH) and a rare code set that climbs, or does not.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from transforms.local import local_frame
from transforms.policy.catalog import uke_catalog
from transforms.uke.layout import table_fields

D = dt.date
_KINDS = {"code": T.StringType(), "str": T.StringType(), "text": T.StringType(), "int": T.IntegerType(),
          "bigint": T.LongType(), "decimal": T.DecimalType(15, 5), "date": T.DateType(), "ym": T.DateType(),
          "days": T.ArrayType(T.IntegerType())}
SHA = "f" * 64

# Everything that identifies a person here; none of it may appear in a release.
TRUTH_STRINGS = ["山田太郎", "ヤマダ　タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ", "鈴木花子", "スズキ　ハナコ", "佐藤一郎", "サトウ　イチロウ", "高橋次郎",
                 "タカハシ　ジロウ", "06130011", "01130012", "１", "２３", "ab", "K-0001", "K-0002", "K-0003", "99001234",
                 "1234567", "03-1234-5678", "100-0005", "1000005", "東京都千代田区丸の内1-1-1", "H001", "H002",
                 "2025年1月5日 山田様より電話", "症状詳記: 山田太郎氏は", "1312345678"]
TRUTH_BIRTHS = [D(1960, 5, 1), D(1930, 1, 15), D(1975, 3, 3), D(1988, 8, 8)]

RECEIPTS = [  # rA, rB: 山田 (insurer change, half-width kana); rC: 鈴木, 94 years old; rD: 佐藤; rE: no identity
    dict(receipt_key=f"{SHA}:000001", line_no=2, receipt_no=1, receipt_type="1112", service_month=D(2025, 1, 1), name="山田太郎",
         sex="1", birth_date=D(1960, 5, 1), kana_name="ヤマダ　タロウ", chart_no="K-0001", beds=12, admission_date=None),
    dict(receipt_key=f"{SHA}:000002", line_no=9, receipt_no=2, receipt_type="1112", service_month=D(2025, 2, 1), name="山田太郎",
         sex="1", birth_date=D(1960, 5, 1), kana_name="ﾔﾏﾀﾞ ﾀﾛｳ", chart_no="K-0001", beds=12),
    dict(receipt_key=f"{SHA}:000003", line_no=15, receipt_no=3, receipt_type="1118", service_month=D(2025, 1, 1), name="鈴木花子",
         sex="2", birth_date=D(1930, 1, 15), kana_name="スズキ　ハナコ", chart_no="K-0002", beds=250, admission_date=D(2025, 1, 3)),
    dict(receipt_key=f"{SHA}:000004", line_no=20, receipt_no=4, receipt_type="1112", service_month=D(2025, 2, 1), name="佐藤一郎",
         sex="1", birth_date=D(1975, 3, 3), kana_name="サトウ　イチロウ", chart_no="K-0003", beds=12),
    dict(receipt_key=f"{SHA}:000005", line_no=25, receipt_no=5, receipt_type="1112", service_month=D(2025, 2, 1), name=None,
         sex="1", birth_date=None, kana_name=None, chart_no=None, beds=None),
]
for _r in RECEIPTS:
    _r.update(file_sha256=SHA, payer_kind="1", pref_code="13", institution_code="1312345678", billing_month=D(2025, 3, 1))

INSURANCES = [
    dict(receipt_key=f"{SHA}:000001", line_no=3, insurer_no="06130011", card_symbol="１", card_number="２３", points=1200),
    dict(receipt_key=f"{SHA}:000002", line_no=10, insurer_no="01130012", card_symbol="ab", card_number="9", points=900000),
    dict(receipt_key=f"{SHA}:000003", line_no=16, insurer_no="39131234", card_symbol=None, card_number="99001234", points=5000),
    dict(receipt_key=f"{SHA}:000004", line_no=21, insurer_no="06130011", card_symbol="１", card_number="1234567", points=300),
]
ELIGIBILITY = [dict(receipt_key=f"{SHA}:000001", line_no=4, insurer_no="06130011", card_symbol="１", card_number="２３", branch_no="01")]

# Threshold 2 (test policy): 高血圧症 3 patients (kept); 2型糖尿病 (山田) and 脂質異常症 (佐藤) are each
# alone in their ICD-10 code and block, together in chapter IV; 0000999 is in no hierarchy.
DIAGNOSES = [
    dict(receipt_key=f"{SHA}:000001", line_no=5, disease_code="8833421", start_date=D(2024, 12, 24), disease_name="高血圧症"),
    dict(receipt_key=f"{SHA}:000001", line_no=6, disease_code="2500015", start_date=D(2025, 1, 5), supplement="山田太郎"),
    dict(receipt_key=f"{SHA}:000003", line_no=17, disease_code="8833421", start_date=D(2020, 4, 1)),
    dict(receipt_key=f"{SHA}:000003", line_no=18, disease_code="0000999", start_date=D(2025, 1, 2), disease_name="寿限無の疑い"),
    dict(receipt_key=f"{SHA}:000004", line_no=22, disease_code="8833421", start_date=D(2025, 2, 2)),
    dict(receipt_key=f"{SHA}:000004", line_no=23, disease_code="8844446", start_date=D(2025, 2, 2)),
]
DRUGS = [
    dict(receipt_key=f"{SHA}:000001", line_no=7, drug_code="611200001", amount=Decimal("1"), points=12, count=1,
         day_counts=[1] + [None] * 30),
    dict(receipt_key=f"{SHA}:000003", line_no=19, drug_code="611200001", amount=Decimal("2"), points=24, count=2),
    dict(receipt_key=f"{SHA}:000004", line_no=24, drug_code="611200002", amount=Decimal("1"), points=10, count=1),
]
COMMENTS = [dict(receipt_key=f"{SHA}:000001", line_no=8, comment_code="810000001", comment_text="2025年1月5日 山田様より電話")]
SYMPTOMS = [dict(receipt_key=f"{SHA}:000003", line_no=19, detail_class="01", detail_text="症状詳記: 山田太郎氏は")]

CLINICAL_PATIENTS = [
    dict(patient_id="H001", institution_code="1312345678", name="山田太郎", kana_name="やまだ たろう", birth_date=D(1960, 5, 1), sex="M",
         postal_code="100-0005", address="東京都千代田区丸の内1-1-1", phone="03-1234-5678", insurer_no=None, card_symbol=None,
         card_number=None, branch_no=None),
    dict(patient_id="H002", institution_code="1312345678", name="高橋次郎", kana_name="タカハシ　ジロウ", birth_date=D(1988, 8, 8), sex="M",
         postal_code="100-0005", address="神奈川県横浜市中区山下町1", phone=None, insurer_no=None, card_symbol=None,
         card_number=None, branch_no=None),
]
LABS = [
    dict(patient_id="H001", institution_code="1312345678", lab_code="3D046", lab_name="HbA1c", value=6.5, unit="%",
         sampled_on=D(2025, 1, 10)),
    dict(patient_id="H002", institution_code="1312345678", lab_code="3D046", lab_name="HbA1c", value=5.4, unit="%",
         sampled_on=D(2025, 2, 3)),
]
CLINICAL_TYPES = {"birth_date": T.DateType(), "sampled_on": T.DateType(), "value": T.DoubleType(), "line_no": T.IntegerType()}


def _type(table: str, column: str, kind: str) -> T.DataType:
    if kind != "groups":
        return _KINDS[kind]
    field = next(f for f in table_fields(table) if f.name == column)  # repeated groups: ARRAY<STRUCT>
    return T.ArrayType(T.StructType([T.StructField(n, T.IntegerType() if k == "int" else T.StringType())
                                     for n, k in field.members]))


def _schema(table: str) -> T.StructType:
    return T.StructType([T.StructField(c, _type(table, c, i.kind)) for c, i in uke_catalog()[table].items()])


def _clinical_schema(columns: list[str]) -> T.StructType:
    return T.StructType([T.StructField(c, CLINICAL_TYPES.get(c, T.StringType())) for c in columns])


def write_bronze(spark: SparkSession, warehouse: Path) -> None:
    uke = {"receipts": RECEIPTS, "insurances": INSURANCES, "eligibility": ELIGIBILITY, "diagnoses": DIAGNOSES,
           "drugs": DRUGS, "comments": COMMENTS, "symptom_details": SYMPTOMS}
    for table, rows in uke.items():
        schema = _schema(table)
        data = [tuple({"file_sha256": SHA, **r}.get(f.name) for f in schema.fields) for r in rows]
        local_frame(spark, data, schema).write.format("delta").save(str(warehouse / "bronze" / table))
    for table, rows in (("patients", CLINICAL_PATIENTS), ("labs", LABS)):
        cols = ["file_sha256", "line_no", *rows[0]]
        data = [tuple({"file_sha256": SHA, "line_no": i + 2, **r}.get(c) for c in cols) for i, r in enumerate(rows)]
        local_frame(spark, data, _clinical_schema(cols)).write.format("delta").save(str(warehouse / "bronze" / table))
