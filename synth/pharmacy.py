"""調剤 claims (RECEIPTY.CYO) of the prescriptions that institutions without a dispensary send out.

A 医科 receipt that bills a 処方箋料 (院外処方) carries `rx_out`, the prescription units (synth/care.py);
the pharmacy in front of that institution (門前薬局, one per institution) dispenses them the same day
and bills the patient's insurer the same month. Layouts: transforms/uke/layout.py `PHARMACY`
(docs/formats/pharmacy.md). One pharmacy receipt per 医科 receipt; per prescription unit an SH, a CZ
and one IY per drug; one KI per receipt. The 調剤行為 codes are invented (no master is in
../shared/reference/masters/); the drug codes are the 医科 receipt's, from the 医薬品マスター.

The truth tables have exactly the layouts' kept fields, like synth/records.py, so ingest must give
them back line by line (tests/e2e/test_generate_pharmacy.py).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from synth.draws import Rng, literal_map, pick, with_check_digit
from synth.names import MALE_GIVEN, SURNAMES
from synth.records import typed_records
from transforms.uke.layout import (
    GO,
    PHARMACY_CZ,
    PHARMACY_HO,
    PHARMACY_IY,
    PHARMACY_KI,
    PHARMACY_KO,
    PHARMACY_RE,
    PHARMACY_SH,
    PHARMACY_YK,
    RecordLayout,
)
from transforms.uke.write import select_typed

RX_FEE = "120002910"  # 処方箋料 (医科 診療行為マスター): the receipt sent its prescriptions out
# 診療識別 of the 医科 unit -> (剤形コード 別表11, 調剤料 code, 調剤料 点数)
FORMS = {"21": ("1", "420000110", 24), "22": ("3", "420000210", 21), "23": ("5", "420000310", 10)}
BASE_FEE = ("420000010", 45)  # 調剤基本料
MANAGEMENT_FEE = ("420003010", 45)  # 薬学管理料 (one per receipt)
ADDITION = ("420001010", 10)  # 加算料 of a unit with two drugs (計量混合 in this model)

LAYOUT_OF_TABLE: dict[str, RecordLayout] = {
    "receipts": PHARMACY_RE, "insurances": PHARMACY_HO, "public_expenses": PHARMACY_KO,
    "prescriptions": PHARMACY_SH, "dispensings": PHARMACY_CZ, "drugs": PHARMACY_IY, "pharmacy_fees": PHARMACY_KI,
}


def _unit_lines(u: Column) -> Column:
    return F.lit(3) + u.getField("code1").isNotNull().cast("int")


def _form(u: Column, i: int) -> Column:
    return F.element_at(literal_map({cc: v[i] for cc, v in FORMS.items()}), u.getField("cc"))


def _fee_points(u: Column) -> Column:
    return _form(u, 2).cast("int")


def _drug_points(u: Column) -> Column:
    return (u.getField("points") * u.getField("supply")).cast("int")


def _addition_points(u: Column) -> Column:
    return F.when(u.getField("code1").isNotNull(), F.lit(ADDITION[1])).otherwise(F.lit(0))


def with_pharmacy_receipts(receipts: DataFrame, institutions: DataFrame, rng: Rng) -> DataFrame:
    """医科 receipt rows -> one row per pharmacy receipt, with its units, payers and line positions."""
    inst = institutions.select(
        "inst_id", F.col("pref_code").alias("rx_pref"), F.col("code7").alias("rx_code7"),
        F.col("institution_name").alias("rx_name"), "inst_pref_name")
    ph_code7 = with_check_digit(F.concat(F.substring("rx_code7", 3, 4), F.substring("rx_code7", 1, 2)), 6)
    sent = receipts.where(F.exists("details", lambda d: d.getField("code") == RX_FEE) & (F.size("rx_out") > 0))
    df = sent.join(F.broadcast(inst), "inst_id", "inner").select(
        "person_id", "inst_id", "m", "name", "kana_name", "sex", "birth_date", "service_month", "billing_month",
        "receipt_type", "benefit_ratio", "chart_no", "ho", "ko", "rx_out", "rx_pref", "rx_code7", "rx_name",
        "inst_pref_name", ph_code7.alias("ph_code7"))
    units_total = F.aggregate("rx_out", F.lit(0), lambda acc, u: acc + _fee_points(u) + _drug_points(u)
                              + _addition_points(u))
    total = units_total + BASE_FEE[1] + MANAGEMENT_FEE[1]
    ho = F.col("ho")
    ratio = ho.getField("copay_amount") / F.greatest(ho.getField("points") * 10, F.lit(1))
    doctor = F.concat(pick(rng.u("ph.dr_s", "inst_id"), [s for s, _ in SURNAMES[:80]]), F.lit("　"),
                      pick(rng.u("ph.dr_g", "inst_id"), [g for g, _ in MALE_GIVEN[1]]))
    df = df.select(
        "*", total.cast("bigint").alias("points"),
        F.concat(F.col("rx_pref"), F.lit("4"), F.col("ph_code7")).alias("pharmacy_code"),
        F.concat(F.lit("すずらん薬局　"), F.col("rx_name"), F.lit("前店")).alias("pharmacy_name"),
        F.concat(F.lit("0"), rng.digits("ph.phone", 9, "inst_id")).alias("pharmacy_phone"),
        F.concat(F.col("inst_pref_name"), F.lit("中央"), rng.int_between("ph.addr", 1, 9, "inst_id").cast("string"),
                 F.lit("丁目"), rng.int_between("ph.addr2", 1, 30, "inst_id").cast("string"), F.lit("番地"))
        .alias("rx_address"),
        F.array(F.struct(doctor.alias("name"))).alias("prescriber_names"),
        F.concat(F.lit("RX"), rng.digits("ph.rec", 8, "person_id", "inst_id", "m")).alias("dispensing_record_no"),
        F.when(ho.isNull(), F.lit("5")).when(F.size("ko") == 0, F.lit("1")).otherwise(F.lit("2")).alias("burden"),
        F.make_date(F.year("service_month"), F.month("service_month"),
                    F.get(F.col("rx_out"), 0).getField("day")).alias("day"),
    )
    df = df.select("*", (F.round(F.col("points") * 10 * ratio / 10) * 10).cast("bigint").alias("copay"))
    starts = F.transform("rx_out", lambda u, i: F.aggregate(
        F.slice("rx_out", 1, i), F.lit(0), lambda acc, v: acc + _unit_lines(v)))
    n_units = F.aggregate("rx_out", F.lit(0), lambda acc, u: acc + _unit_lines(u))
    n_lines = F.lit(2) + ho.isNotNull().cast("int") + F.size("ko") + n_units
    file = F.concat(F.lit("uke/"), F.col("pharmacy_code"), F.lit("/"), F.date_format("billing_month", "yyyyMM"),
                    F.lit("/RECEIPTY.CYO"))
    order = Window.partitionBy("pharmacy_code", "billing_month").orderBy("chart_no")
    before = order.rowsBetween(Window.unboundedPreceding, -1)
    return (
        df.select("*", starts.alias("unit_starts"), n_lines.alias("n_lines"), file.alias("file"))
        .withColumn("receipt_no", F.row_number().over(order))
        .withColumn("line_start", F.lit(2) + F.coalesce(F.sum("n_lines").over(before), F.lit(0)).cast("int"))
    )


def _units(df: DataFrame) -> DataFrame:
    """One row per prescription unit: `u`, its number `rp` and the line of its SH."""
    first_unit = F.col("line_start") + 1 + F.col("ho").isNotNull().cast("int") + F.size("ko")
    return df.select(
        "file", "person_id", "burden", "day", F.posexplode("rx_out").alias("pos", "u"),
        first_unit.alias("first_unit"), "unit_starts",
    ).select("*", (F.col("pos") + 1).alias("rp"),
             (F.col("first_unit") + F.get(F.col("unit_starts"), F.col("pos"))).alias("sh_line"))


def truth_tables(receipts: DataFrame) -> dict[str, DataFrame]:
    """table name -> typed truth of the 調剤 records, for the bronze tables they feed."""
    r = receipts
    ho = r.where(F.col("ho").isNotNull())
    u = _units(r)
    unit = F.col("u")
    two = unit.getField("code1").isNotNull()
    drugs = u.select("*", F.explode(F.when(two, F.array(F.lit(0), F.lit(1))).otherwise(F.array(F.lit(0))))
                     .alias("j"))
    return {
        "receipts": typed_records(r.withColumn("line_no", F.col("line_start")), PHARMACY_RE, {
            "receipt_no": F.col("receipt_no"), "receipt_type": F.concat(F.lit("4"), F.substring("receipt_type", 2, 3)),
            "service_month": F.col("service_month"), "name": F.col("name"), "sex": F.col("sex"),
            "birth_date": F.col("birth_date"), "benefit_ratio": F.col("benefit_ratio"),
            "prescriber_pref_code": F.col("rx_pref"), "prescriber_score_table": F.lit("1"),
            "prescriber_institution_code": F.col("rx_code7"), "prescriber_institution_name": F.col("rx_name"),
            "prescriber_institution_address": F.col("rx_address"), "prescriber_names": F.col("prescriber_names"),
            "dispensing_record_no": F.col("dispensing_record_no"), "kana_name": F.col("kana_name"),
        }),
        "insurances": typed_records(ho.withColumn("line_no", F.col("line_start") + 1), PHARMACY_HO, {
            "insurer_no": F.col("ho.insurer_no"), "card_symbol": F.col("ho.card_symbol"),
            "card_number": F.col("ho.card_number"), "prescription_count": F.lit(1), "points": F.col("points"),
            "copay_amount": F.col("copay"),
        }),
        "public_expenses": typed_records(
            r.select("*", F.posexplode("ko").alias("pos", "k"))
            .withColumn("line_no", F.col("line_start") + 1 + F.col("ho").isNotNull().cast("int") + F.col("pos")),
            PHARMACY_KO, {
                "payer_no": F.col("k.payer_no"), "recipient_no": F.col("k.recipient_no"), "prescription_count": F.lit(1),
                "points": F.col("points"), "copay_amount": F.lit(0),
            }),
        "prescriptions": typed_records(u.withColumn("line_no", F.col("sh_line")), PHARMACY_SH, {
            "rp_no": F.col("rp"), "dosage_form": _form(unit, 0), "usage_code": F.lit("001"),
            "drug_points": _drug_points(unit),
        }),
        "dispensings": typed_records(u.withColumn("line_no", F.col("sh_line") + 1), PHARMACY_CZ, {
            "doctor_no": F.lit(1), "prescribed_date": F.col("day"), "dispensed_date": F.col("day"),
            "receipt_round": F.lit(1), "quantity": unit.getField("supply"), "burden_class": F.col("burden"),
            "calc_class": F.lit("1"), "fee_code": _form(unit, 1), "fee_points": _fee_points(unit),
            "drug_points": _drug_points(unit),
            "additions": F.when(two, F.array(F.struct(F.col("burden").alias("burden_class"),
                                                      F.lit(ADDITION[0]).alias("code"),
                                                      F.lit(ADDITION[1]).alias("points"))))
            .otherwise(F.array().cast("array<struct<burden_class:string,code:string,points:int>>")),
        }),
        "drugs": typed_records(drugs.withColumn("line_no", F.col("sh_line") + 2 + F.col("j")), PHARMACY_IY, {
            "burden_class": F.col("burden"),
            "drug_code": F.when(F.col("j") == 0, unit.getField("code0")).otherwise(unit.getField("code1")),
            "amount": F.when(F.col("j") == 0, unit.getField("a0")).otherwise(unit.getField("a1")),
        }),
        "pharmacy_fees": typed_records(r.withColumn("line_no", F.col("line_start") + F.col("n_lines") - 1), PHARMACY_KI, {
            "calc_date": F.col("day"), "receipt_round": F.lit(1), "base_burden_class": F.col("burden"),
            "base_code": F.lit(BASE_FEE[0]), "base_points": F.lit(BASE_FEE[1]),
            "management_fees": F.array(F.struct(
                F.col("burden").alias("burden_class"), F.lit(MANAGEMENT_FEE[0]).alias("code"),
                F.lit(1).alias("count"), F.lit(MANAGEMENT_FEE[1]).alias("points"))),
            "summary_management_fees": F.array().cast("array<struct<burden_class:string,code:string,count:int,points:int>>"),
            "base_additions": F.array().cast("array<struct<burden_class:string,code:string,count:int,points:int>>"),
        }),
    }


def files_table(receipts: DataFrame) -> DataFrame:
    """One row per 調剤 file: its YK and GO fields and `lines` in total."""
    return receipts.groupBy("file", "pharmacy_code", "rx_pref", "pharmacy_name", "pharmacy_phone", "billing_month").agg(
        F.count(F.lit(1)).cast("int").alias("total_receipts"), F.sum("points").cast("bigint").alias("total_points"),
        (F.sum("n_lines") + 2).cast("int").alias("lines"),
    ).select(
        "file", F.lit("1").alias("payer_kind"), F.col("rx_pref").alias("pref_code"), F.lit("4").alias("score_table"),
        F.substring("pharmacy_code", 4, 7).alias("institution_code"), F.col("pharmacy_name").alias("institution_name"),
        "billing_month", F.lit("00").alias("volume_no"), F.col("pharmacy_phone").alias("institution_phone"),
        "total_receipts", "total_points", "lines",
    )


def file_records(files: DataFrame) -> dict[str, DataFrame]:
    """YK (line 1) and GO (last line) of each 調剤 file."""
    yk = files.select(*[f.name for f in PHARMACY_YK.kept()], "file", F.lit(1).alias("line_no"))
    go = files.select("total_receipts", "total_points", F.lit("99").alias("volume_no"), "file",
                      F.col("lines").alias("line_no"))
    return {"YK": select_typed(yk, PHARMACY_YK, "file", "line_no"), "GO": select_typed(go, GO, "file", "line_no")}
