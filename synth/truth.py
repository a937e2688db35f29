"""The restricted truth about every generated person: all identifiers they carry anywhere.

Tests use it to prove that no name, kana, card number, 受給者番号, カルテ番号, phone or address
survives anonymization; it is personal-data-shaped test material and never leaves the test zone.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from synth import insurance as ins
from synth.people import insurance_at

CARD_TYPE = ("struct<kind:int,valid_from:date,insurer_no:string,card_symbol:string,card_number:string,"
             "branch_no:string>")


def _episode(kind: Column, card: Column, branch: Column, valid_from: Column) -> Column:
    return F.struct(kind.cast("int").alias("kind"), valid_from.alias("valid_from"),
                    card.getField("insurer_no").alias("insurer_no"), card.getField("card_symbol").alias("card_symbol"),
                    card.getField("card_number").alias("card_number"), branch.alias("branch_no"))


def _insurances(start: dt.date, months: int) -> Column:
    """Every insurance card used at some month of the period, in order."""
    first = F.lit(start)
    change_from = F.add_months(first, F.coalesce(F.col("change_m"), F.lit(0)))
    kind0, card0, branch0 = insurance_at(first, F.lit(0))
    last = F.add_months(first, months - 1)
    kind1, card1, branch1 = insurance_at(change_from, F.coalesce(F.col("change_m"), F.lit(0)))
    kouki_from = F.greatest(F.col("kouki_from"), first)
    none = F.array().cast(f"array<{CARD_TYPE}>")
    has_change = F.col("change_m").isNotNull() & (change_from < F.col("kouki_from"))
    return F.concat(
        F.when(~F.col("welfare"), F.array(_episode(kind0, card0, branch0, first))).otherwise(none),
        F.when(~F.col("welfare") & has_change, F.array(_episode(kind1, card1, branch1, change_from))).otherwise(none),
        F.when(~F.col("welfare") & (first < F.col("kouki_from")) & (F.col("kouki_from") <= last),
               F.array(_episode(F.lit(ins.KOUKI), F.col("card_kouki"), F.lit("00"), kouki_from))).otherwise(none),
    )


def _getter(name: str):  # type: ignore[no-untyped-def]
    # A one-argument lambda: F.transform reads a second parameter as the element index.
    return lambda c: c.getField(name)


def select_persons(people: DataFrame, pairs: DataFrame, start: dt.date, months: int) -> DataFrame:
    charts = pairs.groupBy("person_id").agg(
        F.array_sort(F.collect_list(F.struct("institution_code", "chart_no"))).alias("chart_numbers")
    )
    cards = F.col("insurances")
    return (
        people.withColumn("insurances", _insurances(start, months))
        .join(charts, "person_id", "left")
        .select(
            "person_id", "name", "kana_name", "birth_date", "sex", "phone", "postal_code", "address", "pref_code",
            F.col("muni_code").alias("municipality_code"), "insurances",
            *[F.array_distinct(F.transform(cards, _getter(f))).alias(f"{f}s")
              for f in ("insurer_no", "card_symbol", "card_number", "branch_no")],
            F.transform("programs", lambda p: F.struct(p.getField("payer_no").alias("payer_no"),
                                                        p.getField("recipient_no").alias("recipient_no"))).alias("public_expenses"),
            F.transform("programs", lambda p: p.getField("recipient_no")).alias("recipient_nos"),
            "chart_numbers",
            F.transform("chart_numbers", lambda c: F.struct(c.getField("institution_code").alias("institution_code"),
                                                             c.getField("chart_no").alias("patient_id"))).alias("hospital_patient_ids"),
            "welfare",
        )
    )
