"""Who visits which institution when: patient-institution pairs, カルテ番号, and monthly visits.

A pair is a person registered at an institution, with a カルテ番号 (per institution, sequential in a
hashed order, zero-padded to the institution's width). A quarter of the pairs are new during the
period: their first month bills 初診. Each month a pair is billed (one receipt) with a probability
that grows with age and chronic conditions; about 1 in 20 hospital receipts is an admission.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from synth.draws import Rng, poisson_small

NEW_PAIR_SHARE = 0.25
SECONDARY_VISIT_FACTOR = 0.35
PAIR_COLUMNS = (
    "person_id", "sex", "birth_date", "age0", "name", "kana_name", "welfare", "change_m", "family",
    "branch_no", "genekinami", "kouki_from", "card0", "card1", "card_kouki", "kind0", "kind1",
    "chronic", "programs",
)


def with_pairs(people: DataFrame, institutions: DataFrame, rng: Rng, n_persons: int, months: int) -> DataFrame:
    """One row per (person, institution) with chart_no, start_m (-1 = known patient) and `primary`."""
    first = people.select(*PAIR_COLUMNS, F.col("inst1").alias("inst_id"), F.lit(True).alias("primary"))
    second = people.where(F.col("inst2").isNotNull()).select(
        *PAIR_COLUMNS, F.col("inst2").alias("inst_id"), F.lit(False).alias("primary")
    )
    inst = institutions.select("inst_id", "institution_code", "beds", "hospital", "in_house", "local_lab_codes")
    pid, iid = "person_id", "inst_id"
    # Widths differ between institutions (some pad to 6 digits, some to 8); all fit N patients.
    base_width = len(str(n_persons)) + 1
    width = (F.lit(base_width) + F.floor(rng.u("chart.width", iid) * 3)).cast("int")
    offset = F.floor(rng.u("chart.offset", iid) * 10 ** (base_width - 1)).cast("long")
    order = Window.partitionBy("inst_id").orderBy(rng.u("chart.order", pid, iid), "person_id")
    is_new = rng.u("pair.new", pid, iid) < NEW_PAIR_SHARE
    return (
        first.unionByName(second)
        .join(F.broadcast(inst), "inst_id", "inner")
        .withColumn("chart_no", F.lpad((offset + F.row_number().over(order)).cast("string"), width, "0"))
        .withColumn("start_m", F.when(is_new, rng.int_between("pair.start", 0, months - 1, pid, iid)).otherwise(F.lit(-1)))
    )


def _visit_probability(age: Column, primary: Column, n_chronic: Column) -> Column:
    base = (F.when(age < 5, 0.55).when(age < 15, 0.30).when(age < 30, 0.18).when(age < 45, 0.22)
            .when(age < 65, 0.32).when(age < 75, 0.55).otherwise(0.70))
    scaled = base * F.when(primary, 1.0).otherwise(SECONDARY_VISIT_FACTOR) + n_chronic * 0.06
    return F.least(scaled, F.lit(0.95))


def with_visits(pairs: DataFrame, rng: Rng, start: dt.date, months: int, partitions: int) -> DataFrame:
    """Pairs x months -> the billed months, with visit days (`vdays`, sorted), `day1` and admission.

    Pairs are hash-partitioned by institution first: every later step up to the numbering of
    receipts within their file (a window by institution and month) is narrow, so the wide
    receipt rows are never shuffled.
    """
    keys = ("person_id", "inst_id", "m")
    month = F.add_months(F.lit(start), F.col("m"))
    age = F.floor(F.months_between(month, F.col("birth_date")) / 12).cast("int")
    p = _visit_probability(age, F.col("primary"), F.size("chronic"))
    u = rng.u("visit", *keys)
    start_m = F.col("start_m")
    visit = F.when(start_m >= 0, (F.col("m") == start_m) | ((F.col("m") > start_m) & (u < p))).otherwise(u < p)
    p_in = F.when(age < 65, 0.03).when(age < 75, 0.06).otherwise(0.09)
    inpatient = (F.col("beds") > 0) & (rng.u("inpatient", *keys) < p_in)
    months_of_pair = (
        pairs.repartition(partitions, "inst_id")
        .drop("hospital")
        .select("*", F.explode(F.sequence(F.lit(0), F.lit(months - 1))).alias("m"))
    )
    return _with_days(
        months_of_pair.where(visit).select(
            "*", month.alias("service_month"), age.alias("age"), inpatient.alias("inpatient"),
            (F.col("m") == start_m).alias("first_visit"),
        ),
        rng,
    )


def _with_days(df: DataFrame, rng: Rng) -> DataFrame:
    keys = ("person_id", "inst_id", "m")
    ms = F.col("service_month")
    dim = F.dayofmonth(F.last_day(ms))
    mean = F.when(F.col("age") >= 65, 0.6).otherwise(0.3) + F.when(F.size("chronic") > 0, 0.2).otherwise(0.0)
    k = 1 + poisson_small(rng.u("days.k", *keys), mean, 6)
    drawn = F.array(*[(1 + F.floor(rng.u("days.d", *keys, i) * dim)).cast("int") for i in range(1, 8)])
    out_days = F.array_sort(F.array_distinct(F.slice(drawn, 1, k)))
    # Admission: up to 40 days before the month or during it; stays of 2-90 days (mean about 16).
    los = F.least(F.lit(90), 2 + F.floor(-F.log(1 - rng.u("stay.los", *keys)) * 14)).cast("int")
    adm0 = F.date_add(ms, rng.int_between("stay.adm", -40, dim - 1, *keys))
    adm = F.when(F.date_add(adm0, los) < ms, F.date_add(ms, rng.int_between("stay.adm2", 0, dim - 1, *keys))).otherwise(adm0)
    stay_from = F.greatest(F.col("admission_date"), ms)
    stay_to = F.least(F.date_add(F.col("admission_date"), los), F.last_day(ms))
    in_days = F.sequence(F.dayofmonth(stay_from), F.dayofmonth(stay_to))
    with_admission = df.select("*", F.when(F.col("inpatient"), adm).alias("admission_date"))
    return with_admission.select(
        "*", F.when(F.col("inpatient"), in_days).otherwise(out_days).alias("vdays")
    ).select("*", F.get(F.col("vdays"), 0).alias("day1"))
