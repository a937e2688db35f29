"""DPC claims (RECEIPTD.UKE) of the inpatient stays at DPC hospitals.

A DPC hospital here is an institution with at least `DPC_MIN_BEDS` (200) beds: the line at which
synth/care.py bills the 急性期一般入院料, and the size of most DPC対象病院 (about 1,700 of 8,200 hospitals,
which bill acute inpatient care by 診断群分類). Each 医科 inpatient receipt of such a hospital moves out of
its RECEIPTC.UKE into the hospital's RECEIPTD.UKE of the same billing month, in the same directory: a DPC
hospital bills the stay only as DPC. `medical_receipts` takes the stays out of the 医科 receipts and numbers
the rest again (receipt_no, line_start, as synth/receipts.py does), so the 医科 truth is still the files;
an institution-month that had only stays gets no RECEIPTC.UKE. Clinical extracts keep the stays' labs.

One DPC receipt per stay (layouts: transforms/uke/layout.py `DPC`, docs/formats/dpc.md): RE (レセプト総括区分
0), HO, KO per 公費, BU, SB per diagnosis of the 医科 receipt (01 the main one, 02 the others), KK, one HH
(入院期間区分 1), GT, and a CD per day on which a procedure, drug or material line of the 医科 receipt was
performed. Not generated: SN, JD, MF (unverified on DPC receipts), SK, GA, 出来高 lines, 総括 receipts.

Invented, since no DPC master is in ../shared/reference/masters/: the 診断群分類番号 is an MDC-like 2 digits
from the ICD-10 chapter of the main diagnosis, 2 digits for its letter and 2 for its category, then the tail
xx99x0xx (手術なし) or xx97x0xx (the receipt has a 手術 line); the 包括 points per day are the 医科 receipt's
points over its days in the month; the 診療科 (別表10: 01 内科, 11 整形外科, 26 眼科) is [assumed].

The truth tables have exactly the layouts' kept fields, like synth/pharmacy.py, so ingest must give them
back line by line (tests/e2e/test_generate_dpc.py).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from synth.draws import Rng, literal_array, pick
from synth.records import typed_records
from synth.reference import Catalogs
from transforms.uke.layout import (
    DPC_BU,
    DPC_CD,
    DPC_GT,
    DPC_HH,
    DPC_HO,
    DPC_IR,
    DPC_KK,
    DPC_KO,
    DPC_RE,
    DPC_SB,
    GO,
    RecordLayout,
)
from transforms.uke.write import select_typed

KEYS = ("person_id", "inst_id", "m")
DPC_MIN_BEDS = 200
STANDARD_MEAL_YEN = 490  # 入院時食事療養 標準負担額 per meal (一般, 2024)
SURGERY = "50"  # 診療識別 手術
CODED = ("SI", "IY", "TO")  # the detail lines a CD codes
# ICD-10 chapter -> MDC-like 2 digits (01 神経 .. 18 その他; neoplasms under 06 消化器, where most are).
MDC = {"I": "18", "II": "06", "III": "13", "IV": "10", "V": "17", "VI": "01", "VII": "02", "VIII": "03", "IX": "05",
       "X": "04", "XI": "06", "XII": "08", "XIII": "07", "XIV": "11", "XV": "12", "XVI": "14", "XVII": "15",
       "XVIII": "18", "XIX": "16", "XX": "16", "XXI": "18", "XXII": "18"}
DEPARTMENTS = {"VII": "26", "XIII": "11", "XIX": "11"}  # else 01 内科

LAYOUT_OF_TABLE: dict[str, RecordLayout] = {
    "receipts": DPC_RE, "insurances": DPC_HO, "public_expenses": DPC_KO, "dpc_groups": DPC_BU, "diagnoses": DPC_SB,
    "dpc_patient_basics": DPC_KK, "dpc_inclusive_fees": DPC_HH, "dpc_adjustments": DPC_GT, "dpc_coding": DPC_CD,
}


def is_dpc_stay() -> Column:
    """A 医科 receipt row that a DPC hospital bills as DPC."""
    return F.col("inpatient") & (F.col("beds") >= DPC_MIN_BEDS)


def _numbered(df: DataFrame, *file_keys: str) -> DataFrame:
    """receipt_no and line_start (the RE line) of each receipt in its file, from `n_lines`."""
    order = Window.partitionBy(*file_keys).orderBy("chart_no")
    before = order.rowsBetween(Window.unboundedPreceding, -1)
    return (df.withColumn("receipt_no", F.row_number().over(order))
            .withColumn("line_start", F.lit(2) + F.coalesce(F.sum("n_lines").over(before), F.lit(0)).cast("int")))


def medical_receipts(receipts: DataFrame) -> DataFrame:
    """The 医科 receipt rows without the DPC stays, numbered again within their files."""
    return _numbered(receipts.where(~is_dpc_stay()), "inst_id", "billing_month")


def _disease_facts(cat: Catalogs) -> Column:
    """Per catalog disease: its ICD-10 without the dot, the 6-character head of a 診断群分類番号, the 診療科."""
    def facts(icd10: str, chapter: str) -> dict[str, str]:
        head = MDC.get(chapter, "18") + f"{ord(icd10[0]) - ord('A') + 1:02d}" + icd10[1:3]
        return {"icd10": icd10.replace(".", ""), "head": head, "dept": DEPARTMENTS.get(chapter, "01")}

    return literal_array([facts(d.icd10, d.chapter) for d in cat.diseases])


def _stay(rng: Rng) -> dict[str, Column]:
    """Days and outcome of the stay in the month, from the daily 入院料 line (診療識別 90) of the receipt."""
    fee = F.get(F.filter("details", lambda x: x.getField("cc") == "90"), 0)
    last = F.array_max(F.transform(fee.getField("days"), lambda v, i: F.when(v.isNotNull(), i + 1)))
    died = F.exists("sy", lambda x: x.getField("outcome") == "3")
    discharged = died | (last < F.dayofmonth(F.last_day("service_month")))
    # 調整点数: a stay billed in an earlier month too that ends in this one settles a small difference
    # (mostly a refund), as when its 診断群分類 changed by discharge; other receipts adjust nothing.
    settles = discharged & (F.col("admission_date") < F.col("service_month"))
    refund = rng.u("dpc.adjust", *KEYS) < 0.8
    by = rng.int_between("dpc.adjust_by", 1, 300, *KEYS)
    return {
        "stay_days": fee.getField("count"),
        "discharge_date": F.when(discharged, F.date_add(F.col("service_month"), last - 1)),
        "dpc_outcome": F.when(died, F.lit("6"))
        .when(discharged, pick(rng.u("dpc.outcome", *KEYS), ["1", "2", "2", "2", "4"])),  # 治癒, 軽快, 不変
        "admission_route": pick(rng.u("dpc.route", *KEYS), ["1", "1", "2", "3"]),  # 予定, 緊急, 緊急（救急車等）
        "adjustment": F.when(settles & refund, -by).when(settles, by).otherwise(F.lit(0)),
    }


def _grouping(cat: Catalogs) -> dict[str, Column]:
    """The SB lines (one per diagnosis), the 診断群分類番号 and the 診療科 of the receipt."""
    facts = _disease_facts(cat)
    main = F.element_at(facts, F.get(F.col("sy"), 0).getField("idx") + 1)
    surgery = F.exists("details", lambda x: x.getField("cc") == SURGERY)
    sb = F.transform("sy", lambda x, i: F.struct(
        x.getField("disease_code").alias("disease_code"), x.getField("modifier_codes").alias("modifier_codes"),
        x.getField("disease_name").alias("disease_name"),
        F.element_at(facts, x.getField("idx") + 1).getField("icd10").alias("icd10_code"),
        F.when(i == 0, F.lit("01")).otherwise(F.lit("02")).alias("diagnosis_class")))
    tail = F.when(surgery, F.lit("xx97x0xx")).otherwise(F.lit("xx99x0xx"))
    return {"sb": sb, "dpc_code": F.concat(main.getField("head"), tail), "dept": main.getField("dept")}


def _n_coded() -> Column:
    """How many CD lines: one per (detail line, day it was performed)."""
    coded = F.filter("details", lambda x: x.getField("rec").isin(*CODED))
    return F.aggregate(coded, F.lit(0), lambda acc, x: acc + F.coalesce(
        F.size(F.filter(x.getField("days"), lambda d: d.isNotNull())), F.lit(0)))


def with_dpc_receipts(receipts: DataFrame, institutions: DataFrame, rng: Rng, cat: Catalogs) -> DataFrame:
    """医科 receipt rows -> one row per DPC receipt, with its points, diagnoses and line positions."""
    inst = institutions.select("inst_id", "pref_code", "code7", "institution_name", "institution_phone")
    derived = {**_grouping(cat), **_stay(rng), "n_coded": _n_coded(),
               "burden": F.get(F.col("details"), 0).getField("burden_class")}  # 負担区分, as on every 医科 line
    df = receipts.where(is_dpc_stay()).join(F.broadcast(inst), "inst_id", "inner").select(
        "person_id", "inst_id", "m", "institution_code", "pref_code", "code7", "institution_name", "institution_phone",
        "chart_no", "name", "kana_name", "sex", "birth_date", "service_month", "billing_month", "admission_date",
        "receipt_type", "benefit_ratio", "special_notes", "billing_info", "details", "points", "ho", "ko",
        *[c.alias(n) for n, c in derived.items()])
    per_day = F.greatest(F.floor(F.col("points") / F.col("stay_days")), F.lit(1)).cast("int")
    ho = F.col("ho")
    ratio = ho.getField("copay_amount") / F.greatest(ho.getField("points") * 10, F.lit(1))
    df = df.select("*", per_day.alias("per_day"), (per_day * F.col("stay_days")).alias("subtotal"))
    df = df.select("*", (F.col("subtotal") + F.col("adjustment")).cast("bigint").alias("dpc_points"))
    n_lines = F.lit(5) + ho.isNotNull().cast("int") + F.size("ko") + F.size("sb") + F.col("n_coded")  # 5: RE BU KK HH GT
    file = F.concat(F.lit("uke/"), F.col("institution_code"), F.lit("/"), F.date_format("billing_month", "yyyyMM"),
                    F.lit("/RECEIPTD.UKE"))
    df = df.select("*", (F.round(F.col("dpc_points") * 10 * ratio / 10) * 10).cast("bigint").alias("copay"),
                   n_lines.alias("n_lines"), file.alias("file"))
    return _numbered(df, "file")


def _offsets() -> dict[str, Column]:
    """First line of each record block of a DPC receipt: RE, HO, KO*, BU, SB+, KK, HH, GT, CD*."""
    ho = F.col("line_start") + 1
    ko = ho + F.col("ho").isNotNull().cast("int")
    bu = ko + F.size("ko")
    kk = bu + 1 + F.size("sb")
    return {"HO": ho, "KO": ko, "BU": bu, "SB": bu + 1, "KK": kk, "HH": kk + 1, "GT": kk + 2, "CD": kk + 3}


def _coding(r: DataFrame) -> DataFrame:
    """CD: one per (SI/IY/TO line, day performed), by day and line; 順序番号 numbers the units of a day and
    診療識別, 行為明細番号 the lines of a unit (synth/details.py: a unit's lines share sort key // 50)."""
    receipt, x = ("file", "line_start"), F.col("x")
    items = r.select("file", "person_id", "line_start", "service_month", _offsets()["CD"].alias("cd_start"),
                     F.posexplode("details").alias("pos", "x")).where(x.getField("rec").isin(*CODED))
    performed = (items.select("*", F.posexplode("x.days").alias("day", "n"), F.floor(x.getField("sk") / 50).alias("unit"))
                 .where(F.col("n").isNotNull()))
    in_file_order = Window.partitionBy(*receipt).orderBy("day", "pos")
    return typed_records(performed.withColumn("line_no", F.col("cd_start") - 1 + F.row_number().over(in_file_order)), DPC_CD, {
        "performed_date": F.date_add(F.col("service_month"), F.col("day")), "care_class": x.getField("cc"),
        "order_no": F.dense_rank().over(Window.partitionBy(*receipt, "day", x.getField("cc")).orderBy("unit")),
        "detail_no": F.row_number().over(Window.partitionBy(*receipt, "day", "unit").orderBy("pos")),
        "code": x.getField("code"),
        "amount": F.when(x.getField("rec") != "SI", x.getField("quantity")),  # 使用量 of a drug or material
        "quantity": F.when(x.getField("rec") == "SI", x.getField("quantity").cast("int")),
        "unit_code": x.getField("unit_code"), "count": F.col("n"),
    })


def _standard_burden(meal_count: Column) -> Column:
    return meal_count.cast("bigint") * STANDARD_MEAL_YEN


def _payers(r: DataFrame) -> dict[str, DataFrame]:
    ho, k, off = F.col("ho"), F.col("k"), _offsets()
    return {
        "insurances": typed_records(r.where(ho.isNotNull()).withColumn("line_no", off["HO"]), DPC_HO, {
            **{n: ho.getField(n) for n in ("insurer_no", "card_symbol", "card_number", "days", "meal_count",
                                           "meal_amount")},
            "points": F.col("dpc_points"), "copay_amount": F.col("copay"),
            "standard_burden": _standard_burden(ho.getField("meal_count")),
        }),
        "public_expenses": typed_records(
            r.select("*", F.posexplode("ko").alias("pos", "k")).withColumn("line_no", off["KO"] + F.col("pos")),
            DPC_KO, {
                **{n: k.getField(n) for n in ("payer_no", "recipient_no", "days", "copay_amount", "meal_count",
                                              "meal_amount")},
                "points": F.col("dpc_points"), "standard_burden": _standard_burden(k.getField("meal_count")),
            }),
    }


def truth_tables(receipts: DataFrame) -> dict[str, DataFrame]:
    """table name -> typed truth of the DPC records, for the bronze tables they feed."""
    r, off = receipts, _offsets()
    months = F.floor(F.months_between("admission_date", "birth_date")).cast("int")  # full months of age
    period = {"service_month": F.col("service_month"), "adjustment_class": F.lit("2"),  # 今月の請求分
              "insurance_class": F.lit("1"), "burden_class": F.col("burden")}
    return {
        "receipts": typed_records(r.withColumn("line_no", F.col("line_start")), DPC_RE, {
            **{n: F.col(n) for n in ("receipt_no", "receipt_type", "service_month", "name", "sex", "birth_date",
                                     "benefit_ratio", "admission_date", "special_notes", "chart_no", "billing_info",
                                     "kana_name")},
            "summary_class": F.lit("0"), "dept1_name": F.col("dept"),
        }),
        **_payers(r),
        "dpc_groups": typed_records(r.withColumn("line_no", off["BU"]), DPC_BU, {
            "dpc_code": F.col("dpc_code"), "admission_date": F.col("admission_date"),
            "discharge_date": F.col("discharge_date"), "dpc_outcome": F.col("dpc_outcome"),
        }),
        "diagnoses": typed_records(r.select("*", F.posexplode("sb").alias("pos", "d"))
                            .withColumn("line_no", off["SB"] + F.col("pos")), DPC_SB,
                            {f.name: F.col("d").getField(f.name) for f in DPC_SB.kept()
                             if f.name not in ("cause_of_death", "supplement")}),
        "dpc_patient_basics": typed_records(r.withColumn("line_no", off["KK"]), DPC_KK, {
            "ward_transfer": F.lit("0"), "admission_route": F.col("admission_route"),
            "previous_same_disease": F.lit("0"), "age_at_admission": F.floor(months / 12), "jcs": F.lit("0"),
            "months_at_admission": F.when(months < 12, months),
        }),
        "dpc_inclusive_fees": typed_records(r.withColumn("line_no", off["HH"]), DPC_HH, {
            **period, "period_class": F.lit("1"), "period_points": F.col("per_day"),
            "period_days": F.col("stay_days"), "subtotal_points": F.col("subtotal"),
        }),
        "dpc_adjustments": typed_records(r.withColumn("line_no", off["GT"]), DPC_GT, {
            **period, "subtotal_points": F.col("subtotal"), "inclusive_points": F.col("subtotal"),
            "adjustment_points": F.col("adjustment"), "month_points": F.col("dpc_points"), "care_class": F.lit("93"),
        }),
        "dpc_coding": _coding(r),
    }


def files_table(receipts: DataFrame) -> DataFrame:
    """One row per DPC file: its IR and GO fields and `lines` in total."""
    return receipts.groupBy("file", "pref_code", "code7", "institution_name", "institution_phone", "billing_month").agg(
        F.count(F.lit(1)).cast("int").alias("total_receipts"), F.sum("dpc_points").cast("bigint").alias("total_points"),
        (F.sum("n_lines") + 2).cast("int").alias("lines"),
    ).select(
        "file", F.lit("1").alias("payer_kind"), "pref_code", F.lit("1").alias("score_table"),
        F.col("code7").alias("institution_code"), "institution_name", "billing_month", F.lit("00").alias("volume_no"),
        "institution_phone", "total_receipts", "total_points", "lines",
    )


def file_records(files: DataFrame) -> dict[str, DataFrame]:
    """IR (line 1) and GO (last line) of each DPC file."""
    ir = files.select(*[f.name for f in DPC_IR.kept()], "file", F.lit(1).alias("line_no"))
    go = files.select("total_receipts", "total_points", F.lit("99").alias("volume_no"), "file",
                      F.col("lines").alias("line_no"))
    return {"IR": select_typed(ir, DPC_IR, "file", "line_no"), "GO": select_typed(go, GO, "file", "line_no")}
