"""Clinical extracts for the same people: the hospital patient master and lab results.

Declared in conf/layouts/patients.yaml and conf/layouts/labs.yaml. The patient id is the
institution's カルテ番号 (as in most hospital systems); the insurance columns are the card valid in
the last generated month. Lab rows come from the 検体検査 lines of the receipts, one per analyte,
with values drawn around a reference mean and a few gross outliers (x10 or the sentinel 9999), as
real extracts have.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from synth.draws import Rng, literal_array, literal_map, normal
from synth.reference import LABS

PATIENT_COLUMNS = ("patient_id", "institution_code", "name", "kana_name", "birth_date", "sex", "postal_code",
                   "address", "phone", "insurer_no", "card_symbol", "card_number", "branch_no")
LAB_COLUMNS = ("patient_id", "institution_code", "lab_code", "lab_name", "value", "unit", "sampled_on")


def select_patients(pairs: DataFrame, people: DataFrame, card: Column, branch: Column) -> DataFrame:
    """One row per (person, institution): `card`/`branch` are expressions over `people` columns."""
    person = people.select(
        "person_id", "postal_code", "address", "phone",
        card.getField("insurer_no").alias("insurer_no"), card.getField("card_symbol").alias("card_symbol"),
        card.getField("card_number").alias("card_number"), F.when(card.isNotNull(), branch).alias("branch_no"),
    )
    pair = pairs.select("person_id", "chart_no", "institution_code", "name", "kana_name", "birth_date", "sex")
    return pair.join(person, "person_id", "inner").select(
        F.col("chart_no").alias("patient_id"), "institution_code", "name", "kana_name", "birth_date",
        F.when(F.col("sex") == "1", F.lit("M")).otherwise(F.lit("F")).alias("sex"),
        *PATIENT_COLUMNS[6:], "person_id",
    )


def select_labs(receipts: DataFrame, rng: Rng) -> DataFrame:
    """Lab results of the tests billed in `receipts` (SI lines whose code measures an analyte)."""
    by_code: dict[str, list[int]] = {}
    for i, lab in enumerate(LABS):
        by_code.setdefault(lab.procedure_code, []).append(i)
    lookup = literal_map(by_code)
    tests = receipts.select(
        "person_id", "inst_id", "m", "chart_no", "institution_code", "local_lab_codes", "service_month",
        F.explode(F.filter("details", lambda x: (x.getField("rec") == "SI") & (x.getField("cc") == "60"))).alias("x"),
    )
    labs = tests.select("*", F.explode(F.element_at(lookup, F.col("x").getField("code"))).alias("lab"))
    keys = ("person_id", "inst_id", "m", "lab")

    def field(name: str, cast: str | None = None) -> Column:
        values = literal_array([getattr(lab, name) for lab in LABS])
        col = F.element_at(values, F.col("lab") + 1)
        return col.cast(cast) if cast else col

    z = normal(rng.u("lab.z1", *keys), rng.u("lab.z2", *keys))
    raw = F.greatest(field("mean") + field("sd") * z, field("mean") * 0.05)
    u_out = rng.u("lab.outlier", *keys)
    value = F.when(u_out < 0.001, F.lit(9999.0)).when(u_out < 0.003, raw * 10).otherwise(raw)
    day = F.array_position(F.col("x").getField("days").cast("array<int>"), 1)
    first_day = F.when(day > 0, day).otherwise(F.lit(1))
    scale = F.pow(F.lit(10.0), field("decimals"))
    return labs.select(
        F.col("chart_no").alias("patient_id"), "institution_code",
        F.when(F.col("local_lab_codes"), field("local_code")).otherwise(field("jlac10")).alias("lab_code"),
        field("name").alias("lab_name"),
        (F.round(value * scale) / scale).alias("value"),
        field("unit").alias("unit"),
        F.date_add(F.col("service_month"), (first_day - 1).cast("int")).alias("sampled_on"),
        "person_id",
    )
