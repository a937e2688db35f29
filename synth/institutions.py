"""Synthetic 保険医療機関: hospitals and clinics spread over the 47 prefectures by population.

The 10-digit institution code is 都道府県 (2) + 点数表 (1, 医科) + 医療機関コード (7 = 郡市区 2 +
番号 4 + 検証番号 1); the IR record carries the prefecture and the 7 digits separately
(uke_format.md §3 IR). Patients choose institutions through `slots`: a clinic is one slot, a
hospital one per 50 beds more, so large hospitals see more patients, as they do.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from synth.draws import Rng, literal_map, pick, weighted, with_check_digit
from synth.names import CLINIC_SUFFIXES, HOSPITAL_SUFFIXES, SURNAMES
from synth.reference import Catalogs

MAX_INSTITUTIONS = 990_000  # limit of the unique 7-digit code scheme below
HOSPITAL_SHARE = 0.07  # about 8,200 hospitals among 113,000 医科 institutions
IN_HOUSE_CLINIC_SHARE = 0.3  # 院内処方 clinics; hospitals dispense in house for inpatients anyway
LOCAL_LAB_CODE_SHARE = 0.3  # institutions whose lab extract uses local codes instead of JLAC10


def municipality_lookup(cat: Catalogs) -> Column:
    """pref_code -> array of struct(jis, name, postal, pref_name) as one literal map."""
    by_pref: dict[str, list[dict[str, str]]] = {}
    for m in cat.municipalities:
        by_pref.setdefault(m.pref_code, []).append(
            {"jis": m.jis_code, "name": m.name, "postal": m.postal_prefix, "pref_name": m.pref_name}
        )
    return literal_map(dict(sorted(by_pref.items())))


def code_digits(n: Column) -> Column:
    """The 6 digits of the 7-digit 医療機関コード before its 検証番号, of slot `n` (0 .. MAX_INSTITUTIONS - 1):
    郡市区 (2) + 番号 (4). (block k = n // 10000, r = n % 10000) maps one-to-one onto (郡市区, 番号): 7919 is
    coprime to 10,000 and k shifts 郡市区, so distinct slots give distinct codes."""
    r = n % 10000
    serial = F.lpad(((r * 7919 + 1234) % 10000).cast("string"), 4, "0")
    district = F.lpad((1 + (F.floor(n / 10000) + (r % 3) * 33) % 99).cast("int").cast("string"), 2, "0")
    return F.concat(district, serial)


def with_institutions(ids: DataFrame, rng: Rng, cat: Catalogs) -> DataFrame:
    """`ids` (column `id`, 0..I-1) -> one row per institution with its codes, name, beds and slots."""
    inst = F.col("inst_id")
    prefs = [p for p, _, _ in cat.prefectures]
    weights = [float(pop) for _, _, pop in cat.prefectures]
    hospital = rng.u("inst.kind", "inst_id") < HOSPITAL_SHARE
    beds = F.when(hospital, 20 + F.floor(F.pow(rng.u("inst.beds", "inst_id"), F.lit(2.5)) * 981))
    beds = beds.when(rng.u("inst.clinic_beds", "inst_id") < 0.08, rng.int_between("inst.cbeds", 1, 19, "inst_id"))
    munis = F.element_at(municipality_lookup(cat), F.col("pref_code"))
    muni = pick(rng.u("inst.muni", "inst_id"), munis)
    surname = pick(rng.u("inst.surname", "inst_id"), [s for s, _ in SURNAMES[:60]])
    town = F.regexp_replace(F.col("muni").getField("name"), "[市区町村]$", "")
    name = F.when(F.col("hospital"), F.concat(town, pick(rng.u("inst.hname", "inst_id"), list(HOSPITAL_SUFFIXES))))
    name = name.otherwise(F.concat(surname, pick(rng.u("inst.cname", "inst_id"), list(CLINIC_SUFFIXES))))
    return (
        ids.select(F.col("id").cast("long").alias("inst_id"))
        .withColumn("pref_code", weighted(rng.u("inst.pref", "inst_id"), prefs, weights))
        .withColumn("hospital", hospital)
        .withColumn("beds", F.coalesce(beds.cast("int"), F.lit(0)))
        .withColumn("muni", muni)
        .withColumn("code7", with_check_digit(code_digits(inst), 6))
        .select(
            "inst_id", "pref_code", "hospital", "beds",
            F.col("muni").getField("jis").alias("inst_muni_code"),
            F.col("muni").getField("pref_name").alias("inst_pref_name"),
            "code7",
            F.concat(F.col("pref_code"), F.lit("1"), F.col("code7")).alias("institution_code"),
            name.alias("institution_name"),
            F.concat(F.lit("0"), rng.digits("inst.phone", 9, "inst_id")).alias("institution_phone"),
            (F.col("hospital") | (rng.u("inst.inhouse", "inst_id") < IN_HOUSE_CLINIC_SHARE)).alias("in_house"),
            (rng.u("inst.localcodes", "inst_id") < LOCAL_LAB_CODE_SHARE).alias("local_lab_codes"),
            (F.lit(1) + F.floor(F.col("beds") / 50)).cast("int").alias("slots"),
        )
    )


def institution_slots(institutions: DataFrame) -> DataFrame:
    """One row per slot: (slot, inst_id, total_slots); `slot` runs 0..total-1 in inst_id order.

    The institution table is small (N/200 rows), so the single-partition window is cheap.
    """
    w = Window.orderBy("inst_id").rowsBetween(Window.unboundedPreceding, -1)
    starts = institutions.select(
        "inst_id", "slots", F.coalesce(F.sum("slots").over(w), F.lit(0)).alias("start")
    )
    total = institutions.agg(F.sum("slots").cast("int").alias("total_slots"))
    return (
        starts.select("inst_id", F.explode(F.sequence(F.col("start"), F.col("start") + F.col("slots") - 1)).alias("slot"))
        .crossJoin(total)
    )

