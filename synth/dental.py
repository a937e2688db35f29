"""歯科 claims (RECEIPTS.UKE) of the people who see a dentist, at a dental clinic of their prefecture.

Dental clinics are institutions of their own (点数表 3): per prefecture about 0.6 per 医科 institution of the
set, at least one (about 67,000 歯科診療所 to 113,000 医科 institutions, 医療施設調査), each beside a 医科
institution whose id it takes as `clinic_id`. Its 7-digit 医療機関コード is the 医科 scheme's code of slot
MAX_INSTITUTIONS - 1 - clinic_id (synth/institutions.py `code_digits`), so it repeats no 医科 code of a set of up
to 495,000 institutions; its 届出 (別表5) are 17 歯初診 always, 03 外来環 and 16 か強診 at [assumed] shares. A
person sees one clinic of their prefecture (that of their main 医科 institution).

[assumed] A quarter of the person-months with an outpatient 医科 receipt bring a dental receipt (DENTAL_SHARE):
the person's 医科 receipt of that month (at the lowest institution id) gives it its insurance identity, so that
ingest gives both one pid: 氏名, カナ, 男女, 生年月日, HO 保険者番号 and 記号・番号, the SN (枝番) and the KO 公費 of
the 医科 receipt, and its 給付割合. Consecutive months of a person form a course (synth/dental_care.py: its
conditions, teeth and lines, 1-4 visit days a month); a course running in the set's first month started before
it half the time (ONGOING_SHARE), with its 診療開始日 up to a year earlier.

One receipt per (person, month), in file order (docs/formats/dental.md): IR (the clinic, before every RE), RE
(診療開始日 the course's first day; 転帰区分 1 継続 when the next month continues the course, else 2 治ゆ or 4
中止, and 1 or 2 in the set's last month), HO, KO per 公費, SN as on the 医科 receipt, one HS per condition, then
the SS and IY lines; UK opens each file and GO ends it (マルチボリューム 00 and 99). Not generated: JD, MF, SI,
TO, CO (which would carry the teeth of a procedure), SJ, 入院 歯科 care, 未来院請求.

The truth tables have exactly the layouts' kept fields, like synth/pharmacy.py, so ingest must give them back
line by line (tests/e2e/test_generate_dental.py). `receipt_headers` (the IR lines) feeds no bronze table:
ingest counts those lines in the ledger.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from synth import dental_care
from synth.details import finished_details, total_points
from synth.draws import Rng, pick, poisson_small, with_check_digit
from synth.institutions import MAX_INSTITUTIONS, code_digits
from synth.names import DENTAL_SUFFIXES, SURNAMES
from synth.records import typed_records
from synth.reference import Catalogs
from transforms.uke.layout import (
    DENTAL_HO,
    DENTAL_HS,
    DENTAL_IR,
    DENTAL_IY,
    DENTAL_KO,
    DENTAL_RE,
    DENTAL_SS,
    DENTAL_UK,
    GO,
    SN,
    RecordLayout,
)
from transforms.uke.write import select_typed

DENTAL_SHARE = 0.25  # [assumed] of the person-months with an outpatient 医科 receipt
CLINICS_PER_INSTITUTION = 0.6  # 歯科診療所 per 医科 institution (about 67,000 to 113,000, 医療施設調査)
ONGOING_SHARE = 0.5  # [assumed] courses of the first month that began before the set
# What the 歯科 receipt takes from the person's 医科 receipt of the month.
COPIED = ("inst_id", "name", "kana_name", "sex", "birth_date", "age", "service_month", "billing_month",
          "receipt_type", "benefit_ratio", "ho", "ko", "sn")

LAYOUT_OF_TABLE: dict[str, RecordLayout] = {
    "receipt_headers": DENTAL_IR, "receipts": DENTAL_RE, "insurances": DENTAL_HO, "public_expenses": DENTAL_KO,
    "eligibility": SN, "diagnoses": DENTAL_HS, "dental_procedures": DENTAL_SS, "drugs": DENTAL_IY,
}


def with_dental_clinics(institutions: DataFrame, rng: Rng) -> DataFrame:
    """医科 institutions -> the dental clinics of their prefectures, with code, name, phone and 届出."""
    in_pref = Window.partitionBy("pref_code")
    quota = F.greatest(F.lit(1), F.round(F.count(F.lit(1)).over(in_pref) * CLINICS_PER_INSTITUTION))
    ranked = institutions.select(F.col("inst_id").alias("clinic_id"), "pref_code", quota.alias("quota"),
                                 F.row_number().over(in_pref.orderBy("inst_id")).alias("rank"))
    cid = "clinic_id"
    environment = rng.u("dental.env", cid) < 0.4  # 03 外来環: the 初診 carries its 加算
    standards = F.concat_ws("", F.when(environment, F.lit("03")), F.when(rng.u("dental.kyo", cid) < 0.15, F.lit("16")),
                            F.lit("17"))
    name = F.concat(pick(rng.u("dental.surname", cid), [s for s, _ in SURNAMES[:60]]),
                    pick(rng.u("dental.suffix", cid), list(DENTAL_SUFFIXES)))
    return ranked.where(F.col("rank") <= F.col("quota")).select(
        cid, "pref_code", with_check_digit(code_digits(F.lit(MAX_INSTITUTIONS - 1) - F.col(cid)), 6).alias("code7"),
        name.alias("clinic_name"), F.concat(F.lit("0"), rng.digits("dental.phone", 9, cid)).alias("clinic_phone"),
        environment.alias("environment"), standards.alias("facility_standards"))


def _patient_months(receipts: DataFrame, people: DataFrame, clinics: DataFrame, rng: Rng) -> DataFrame:
    """One row per (person, month) at the dentist: the copied 医科 fields and the clinic."""
    seen = receipts.where(~F.col("inpatient") & (rng.u("dental.visit", "person_id", "m") < DENTAL_SHARE))
    person_months = (seen.groupBy("person_id", "m").agg(F.min_by(F.struct(*COPIED), F.col("inst_id")).alias("r"))
                     .select("person_id", "m", "r.*"))
    by_pref = clinics.groupBy("pref_code").agg(F.array_sort(F.collect_list("clinic_id")).alias("clinic_ids"))
    home = people.select("person_id", "pref_code").join(F.broadcast(by_pref), "pref_code", "inner").select(
        "person_id", pick(rng.u("dental.clinic", "person_id"), F.col("clinic_ids")).alias("clinic_id"))
    return person_months.join(home, "person_id", "inner").join(F.broadcast(clinics), "clinic_id", "inner")


def _courses(df: DataFrame, rng: Rng, months: int) -> DataFrame:
    """Visit days, the course of each month (`course`: the month it started, -1 before the set), its 診療開始日,
    the 初診 day, the other visit days and the 転帰区分."""
    keys = ("person_id", "m")
    by_person = Window.partitionBy("person_id").orderBy("m")
    dim = F.dayofmonth(F.last_day("service_month"))
    k = 1 + poisson_small(rng.u("dental.days", *keys), 0.8, 3)
    drawn = F.array(*[(1 + F.floor(rng.u("dental.day", *keys, i) * dim)).cast("int") for i in range(1, 5)])
    df = df.select("*", F.array_sort(F.array_distinct(F.slice(drawn, 1, k))).alias("vdays"),
                   (F.col("m") - F.row_number().over(by_person)).alias("run"), F.lead("m").over(by_person).alias("next_m"))
    course = Window.partitionBy("person_id", "run")
    start_m = F.min("m").over(course)
    ongoing = (start_m == 0) & (rng.u("dental.ongoing", "person_id") < ONGOING_SHARE)
    since = F.date_sub(F.add_months("service_month", -F.col("m")), rng.int_between("dental.since", 1, 365, "person_id"))
    first_date = F.first(F.date_add("service_month", F.get(F.col("vdays"), 0) - 1)).over(course.orderBy("m"))
    df = df.select("*", F.when(ongoing, F.lit(-1)).otherwise(start_m).alias("course"),
                   F.when(ongoing, since).otherwise(first_date).alias("care_start_date"),
                   F.first("age").over(course.orderBy("m")).alias("course_age"))
    starts = F.col("course") == F.col("m")
    u = rng.u("dental.outcome", *keys)
    outcome = (F.when(F.col("next_m") == F.col("m") + 1, F.lit("1"))
               .when(F.col("m") == months - 1, F.when(u < 0.5, F.lit("1")).otherwise(F.lit("2")))
               .when(u < 0.85, F.lit("2")).otherwise(F.lit("4")))
    return df.select("*", F.when(starts, F.get(F.col("vdays"), 0)).alias("first_day"),
                     F.when(starts, F.slice("vdays", 2, F.size("vdays") - 1)).otherwise(F.col("vdays")).alias("later_days"),
                     outcome.alias("outcome"))


def _payer_columns(rng: Rng) -> dict[str, Column]:
    """負担区分 (別表21, from the payers), the 歯科 レセプト種別 (別表6: the 医科 one's payer and count with 3 in
    front; 2 入院外 for 公費単独) and the カルテ番号 at the clinic."""
    has_ho, n = F.col("ho").isNotNull(), F.size("ko")
    burden = (F.when(has_ho & (n == 0), F.lit("1")).when(has_ho & (n == 1), F.lit("2")).when(has_ho, F.lit("4"))
              .when(n == 1, F.lit("5")).otherwise(F.lit("7")))
    medical = F.col("receipt_type")
    payer = F.substring(medical, 2, 1)
    dental_type = F.concat(F.lit("3"), F.substring(medical, 2, 2),
                           F.when(payer == "2", F.lit("2")).otherwise(F.substring(medical, 4, 1)))
    patients = Window.partitionBy("clinic_id").orderBy(rng.u("dental.chart", "person_id"), "person_id")
    return {"burden": burden, "dental_type": dental_type, "_patient_no": F.dense_rank().over(patients)}


def with_dental_receipts(receipts: DataFrame, people: DataFrame, institutions: DataFrame, rng: Rng, cat: Catalogs,
                         months: int) -> DataFrame:
    """医科 receipt rows -> one row per 歯科 receipt, with its records as arrays, points and line positions."""
    clinics = with_dental_clinics(institutions, rng)
    df = _courses(_patient_months(receipts, people, clinics, rng), rng, months)
    df = df.select("*", dental_care.conditions(rng).alias("conditions"), *[c.alias(n) for n, c in _payer_columns(rng).items()])
    chart = F.lpad((F.col("_patient_no") + rng.int_between("dental.chart0", 100, 5000, "clinic_id")).cast("string"), 6, "0")
    df = df.select("*", dental_care.diagnoses(rng).alias("hs"), chart.alias("chart_no"),
                   dental_care.lines(rng, cat).alias("_lines"))
    df = df.select("*", finished_details("_lines", F.col("burden")).alias("details")).drop("_lines")
    df = df.select("*", total_points(F.col("details")).alias("points"))
    ho = F.col("ho")
    ratio = ho.getField("copay_amount") / F.greatest(ho.getField("points") * 10, F.lit(1))
    copay = F.when(ho.isNotNull(), F.round(F.col("points") * 10 * ratio / 10) * 10).otherwise(F.lit(0)).cast("bigint")
    n_lines = (F.lit(2) + ho.isNotNull().cast("int") + F.size("ko") + F.size("sn") + F.size("hs")
               + F.size("details"))  # 2: IR and RE
    file = F.concat(F.lit("uke/"), F.col("pref_code"), F.lit("3"), F.col("code7"), F.lit("/"),
                    F.date_format("billing_month", "yyyyMM"), F.lit("/RECEIPTS.UKE"))
    df = df.select("*", copay.alias("copay"), n_lines.alias("n_lines"), file.alias("file"))
    order = Window.partitionBy("file").orderBy("chart_no")
    before = order.rowsBetween(Window.unboundedPreceding, -1)
    return (df.withColumn("receipt_no", F.row_number().over(order))  # line 1 UK, line 2 the first IR, line 3 its RE
            .withColumn("line_start", F.lit(3) + F.coalesce(F.sum("n_lines").over(before), F.lit(0)).cast("int")))


def _offsets() -> dict[str, Column]:
    """First line of each record block of a receipt: IR, RE, HO, KO*, SN*, HS+, then SS and IY."""
    ho = F.col("line_start") + 1
    ko = ho + F.col("ho").isNotNull().cast("int")
    sn = ko + F.size("ko")
    hs = sn + F.size("sn")
    return {"IR": F.col("line_start") - 1, "HO": ho, "KO": ko, "SN": sn, "HS": hs, "details": hs + F.size("hs")}


def _each(r: DataFrame, array: str, block: str, layout: RecordLayout, values: dict[str, Column],
          rec: str | None = None) -> DataFrame:
    """One row per element `x` of `array` (of `rec` records only, if given), on the lines of its block."""
    rows = r.select("*", F.posexplode(array).alias("pos", "x")).withColumn("line_no", _offsets()[block] + F.col("pos"))
    return typed_records(rows if rec is None else rows.where(F.col("x").getField("rec") == rec), layout, values)


def _insurance(r: DataFrame) -> dict[str, DataFrame]:
    ho, x = F.col("ho"), F.col("x")
    hobetsu = F.substring(x.getField("payer_no"), 1, 2)
    public_copay = F.when(hobetsu == "54", F.least("copay", F.lit(5000))).when(hobetsu == "21", F.least("copay", F.lit(2500)))
    return {
        "insurances": typed_records(r.where(ho.isNotNull()).withColumn("line_no", _offsets()["HO"]), DENTAL_HO, {
            **{n: ho.getField(n) for n in ("insurer_no", "card_symbol", "card_number")},
            "days": F.size("vdays"), "points": F.col("points"), "copay_amount": F.col("copay"),
        }),
        "public_expenses": _each(r, "ko", "KO", DENTAL_KO, {
            "payer_no": x.getField("payer_no"), "recipient_no": x.getField("recipient_no"), "days": F.size("vdays"),
            "points": F.col("points"), "copay_amount": F.coalesce(public_copay, F.lit(0)),
        }),
        "eligibility": _each(r, "sn", "SN", SN, {f.name: x.getField(f.name) for f in SN.kept()}),
    }


def truth_tables(receipts: DataFrame) -> dict[str, DataFrame]:
    """table name -> typed truth of the 歯科 records (IR: `receipt_headers`), for the bronze tables they feed."""
    r, x = receipts, F.col("x")
    common = {"care_class": x.getField("care_class"), "burden_class": x.getField("burden_class"),
              "points": x.getField("points"), "count": x.getField("count"), "day_counts": x.getField("days")}
    return {
        "receipt_headers": typed_records(r.withColumn("line_no", _offsets()["IR"]), DENTAL_IR, _clinic_fields()),
        "receipts": typed_records(r.withColumn("line_no", F.col("line_start")), DENTAL_RE, {
            **{n: F.col(n) for n in ("receipt_no", "service_month", "name", "sex", "birth_date", "benefit_ratio",
                                     "care_start_date", "outcome", "chart_no", "kana_name")},
            "receipt_type": F.col("dental_type"),
        }),
        **_insurance(r),
        "diagnoses": _each(r, "hs", "HS", DENTAL_HS, {n: x.getField(n) for n in ("tooth_codes", "disease_code")}),
        "dental_procedures": _each(r, "details", "details", DENTAL_SS, {
            **common, "procedure_code": x.getField("code"), "additions": x.getField("additions")}, rec="SS"),
        "drugs": _each(r, "details", "details", DENTAL_IY, {
            **common, "drug_code": x.getField("code"), "amount": x.getField("amount"),
            "drug_category": x.getField("drug_category")}, rec="IY"),
    }


def _clinic_fields() -> dict[str, Column]:
    """The fields the UK and every IR share (IR adds the phone, UK the name and the volume)."""
    return {"payer_kind": F.lit("1"), "pref_code": F.col("pref_code"), "score_table": F.lit("3"),
            "institution_code": F.col("code7"), "billing_month": F.col("billing_month"),
            "institution_phone": F.col("clinic_phone"), "facility_standards": F.col("facility_standards")}


def files_table(receipts: DataFrame) -> DataFrame:
    """One row per 歯科 file: its UK and GO fields and `lines` in total."""
    return receipts.groupBy("file", "pref_code", "code7", "clinic_name", "clinic_phone", "facility_standards",
                            "billing_month").agg(
        F.count(F.lit(1)).cast("int").alias("total_receipts"), F.sum("points").cast("bigint").alias("total_points"),
        (F.sum("n_lines") + 2).cast("int").alias("lines"),
    ).select("file", *[c.alias(n) for n, c in _clinic_fields().items()], F.col("clinic_name").alias("institution_name"),
             F.lit("00").alias("volume_no"), "total_receipts", "total_points", "lines")


def file_records(files: DataFrame) -> dict[str, DataFrame]:
    """UK (line 1) and GO (last line) of each 歯科 file."""
    uk = files.select(*[f.name for f in DENTAL_UK.kept()], "file", F.lit(1).alias("line_no"))
    go = files.select("total_receipts", "total_points", F.lit("99").alias("volume_no"), "file",
                      F.col("lines").alias("line_no"))
    return {"UK": select_typed(uk, DENTAL_UK, "file", "line_no"), "GO": select_typed(go, GO, "file", "line_no")}
