"""One receipt per billed (person, institution, month): payers, children and their line positions.

A receipt row carries every record it will become: the RE fields, `ho` (null for 公費単独), arrays
`ko`, `sn`, `jd`, `sy`, `details`, `sj`, and `line_start` (the RE line in its file); `rx_out` holds
the prescription units a pharmacy dispenses when the receipt bills a 処方箋料 (synth/pharmacy.py). Line numbers
come from the sizes of those arrays, so every record's line is known before any text is written.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from synth import insurance as ins
from synth.care import Care
from synth.details import days_on, finished_details, total_points
from synth.diagnoses import symptom_details, with_diagnoses
from synth.draws import Rng, pick
from synth.people import insurance_at
from synth.reference import Catalogs

KEYS = ("person_id", "inst_id", "m")
MEAL_YEN = 670  # 入院時食事療養費 (I) per meal
CHILD_ARRAYS = ("ko", "sn", "jd", "sy", "details", "sj")


def _insurance_of_month() -> dict[str, Column]:
    kind, card, branch = insurance_at(F.col("service_month"), F.col("m"))
    # 子ども医療費助成 (法別 8x) ends at 15 in this model; 生活保護 and 難病 stay.
    progs = F.filter("programs", lambda p: ~p.getField("hobetsu").startswith("8") | (F.col("age") < 15))
    return {"kind": kind, "card": card, "progs": progs, "branch": branch}


def _receipt_type() -> Column:
    """別表5: 1 (医科) + 医保/公費/後期 + number of payers + patient class (odd = 入院)."""
    has_ho = ~F.col("welfare")
    payer = F.when(~has_ho, F.lit("2")).when(F.col("kind") == ins.KOUKI, F.lit("3")).otherwise(F.lit("1"))
    n_payers = has_ho.cast("int") + F.size("progs")
    age = F.col("age")
    outpatient = (F.when(age >= 70, F.when(F.col("genekinami"), 0).otherwise(8)).when(age < 6, 4)
                  .when(F.col("family"), 6).otherwise(2))
    klass = F.when(F.col("inpatient"), F.when(outpatient == 0, 9).otherwise(outpatient - 1)).otherwise(outpatient)
    return F.concat(F.lit("1"), payer, n_payers.cast("string"), klass.cast("string"))


def _burden_class() -> Column:
    """別表21 負担区分 of every detail line: which payers share it."""
    has_ho, n = ~F.col("welfare"), F.size("progs")
    return (F.when(has_ho & (n == 0), F.lit("1")).when(has_ho & (n == 1), F.lit("2")).when(has_ho, F.lit("4"))
            .when(n == 1, F.lit("5")).otherwise(F.lit("7")))


def _payers(rng: Rng) -> dict[str, Column]:
    has_ho = ~F.col("welfare")
    days = F.size("vdays")
    meals = F.when(F.col("inpatient"), days * 3)
    rate = ins.copay_rate(F.col("age"), F.col("genekinami"))
    copay = F.when(has_ho, (F.round(F.col("points") * 10 * rate / 10) * 10).cast("bigint")).otherwise(F.lit(0).cast("bigint"))
    card = F.col("card")
    ho = F.when(has_ho, F.struct(
        card.getField("insurer_no").alias("insurer_no"), card.getField("card_symbol").alias("card_symbol"),
        card.getField("card_number").alias("card_number"), days.alias("days"), F.col("points").alias("points"),
        meals.alias("meal_count"), (meals * MEAL_YEN).cast("bigint").alias("meal_amount"), copay.alias("copay_amount"),
    ))

    def ko(p: Column) -> Column:
        h = p.getField("hobetsu")
        ko_copay = (F.when(h == "54", F.least(copay, F.lit(5000))).when(h == "21", F.least(copay, F.lit(2500)))
                    .otherwise(F.lit(0))).cast("bigint")
        return F.struct(
            p.getField("payer_no").alias("payer_no"), p.getField("recipient_no").alias("recipient_no"),
            days.alias("days"), F.col("points").alias("points"), ko_copay.alias("copay_amount"),
            meals.alias("meal_count"), (meals * MEAL_YEN).cast("bigint").alias("meal_amount"),
        )

    filled = rng.u("sn.filled", *KEYS) < 0.03  # 資格確認 found other card data: written out in full
    sn = F.struct(
        F.lit("1").alias("burden_kind"), F.lit("01").alias("confirm_class"),
        F.when(filled, card.getField("insurer_no")).alias("insurer_no"),
        F.when(filled, card.getField("card_symbol")).alias("card_symbol"),
        F.when(filled, card.getField("card_number")).alias("card_number"),
        F.col("branch").alias("branch_no"), F.lit(None).cast("string").alias("recipient_no"),
    )
    jd = F.struct(F.when(has_ho, F.lit("1")).otherwise(F.lit("2")).alias("burden_kind"),
                  days_on("vdays").alias("day_codes"))
    return {
        "ho": ho,
        "ko": F.transform("progs", ko),
        "sn": F.when(has_ho & (rng.u("sn", *KEYS) < 0.4), F.array(sn)).otherwise(F.slice(F.array(sn), 1, 0)),
        "jd": F.when(rng.u("jd", *KEYS) < 0.3, F.array(jd)).otherwise(F.slice(F.array(jd), 1, 0)),
    }


def _re_fields(rng: Rng) -> dict[str, Column]:
    rate = ins.copay_rate(F.col("age"), F.col("genekinami"))
    notes = F.when(F.col("inpatient") & (F.col("age") < 70) & (rng.u("re.notes", *KEYS) < 0.5),
                   pick(rng.u("re.notes_kind", *KEYS), ["26", "27", "28", "29", "30"]))  # 区ア..区オ
    info = F.when(rng.u("re.info", *KEYS) < 0.01,
                  F.concat(F.date_format(F.date_add(F.col("billing_month"), 9), "yyyyMMdd"), F.lit("0930")))
    return {
        "receipt_type": _receipt_type(),
        "benefit_ratio": F.when(F.col("kind") == ins.KOKUHO, F.round((1 - rate) * 100).cast("int")),
        "special_notes": notes,
        "re_beds": F.when(F.col("inpatient"), F.col("beds")),
        "billing_info": info,
    }


# Columns of a visit that receipts still need once insurance and diagnoses are resolved; the pair's
# insurance cards and programs are dropped there. Every Project copies every column of the row
# (these plans cannot use whole-stage codegen: nested arrays and higher-order functions), so the
# wide rows are built in a few selects and carry nothing they no longer need.
_VISIT_KEEP = (
    "person_id", "inst_id", "m", "institution_code", "beds", "in_house", "local_lab_codes", "chart_no", "name",
    "kana_name", "sex", "birth_date", "age", "service_month", "inpatient", "first_visit", "vdays", "day1",
    "admission_date", "welfare", "family", "genekinami", "chronic",
)
_RECEIPT_KEEP = (
    "person_id", "inst_id", "m", "institution_code", "local_lab_codes", "chart_no", "name", "kana_name", "sex",
    "birth_date", "age", "service_month", "billing_month", "inpatient", "admission_date", "beds", "sy",
)


def with_receipts(visits: DataFrame, rng: Rng, cat: Catalogs) -> DataFrame:
    """Billed visits -> receipt rows with every child record and `line_start`/`receipt_no`."""
    care = Care(rng, cat)
    first = visits.select(
        *_VISIT_KEEP, F.add_months(F.col("service_month"), 1).alias("billing_month"),
        *[c.alias(n) for n, c in _insurance_of_month().items()], with_diagnoses(rng, cat)["sy"].alias("sy"),
    )
    helpers = care.with_helpers(first.select("*", with_diagnoses(rng, cat)["chapter"].alias("chapter")))
    payer_cols = ("welfare", "family", "genekinami", "kind", "card", "progs", "branch", "vdays")
    components = care.components()
    parts = [f"_care{i}" for i in range(len(components))]
    keep = (*_RECEIPT_KEEP, "rx_out")
    df = helpers.select(*_RECEIPT_KEEP, *payer_cols, care.dispensed().alias("rx_out"),
                        *[c.alias(n) for c, n in zip(components, parts, strict=True)])
    df = df.select(*keep, *payer_cols, F.array_sort(F.concat(*parts)).alias("_details_sorted"))
    df = df.select(*keep, *payer_cols, finished_details("_details_sorted", _burden_class()).alias("details"))
    df = df.select("*", total_points(F.col("details")).alias("points"))
    later = {**_payers(rng), **_re_fields(rng), "sj": symptom_details(rng, cat, F.col("points"))}
    df = df.select(*keep, "details", "points", *[c.alias(n) for n, c in later.items()])
    n_lines = F.lit(1) + F.col("ho").isNotNull().cast("int")
    for name in CHILD_ARRAYS:
        n_lines = n_lines + F.size(name)
    file_order = Window.partitionBy("inst_id", "billing_month").orderBy("chart_no")
    before = file_order.rowsBetween(Window.unboundedPreceding, -1)
    return (
        df.select("*", n_lines.alias("n_lines"), F.concat(
            F.lit("uke/"), F.col("institution_code"), F.lit("/"), F.date_format("billing_month", "yyyyMM"),
            F.lit("/RECEIPTC.UKE")).alias("file"))
        .withColumn("receipt_no", F.row_number().over(file_order))
        .withColumn("line_start", F.lit(2) + F.coalesce(F.sum("n_lines").over(before), F.lit(0)).cast("int"))
    )
