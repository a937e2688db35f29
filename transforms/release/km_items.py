"""The items of (k, k^m)-anonymity: a code of a claim table paired with its time, recoded on Spark.

An item is what an attacker may know of a patient besides the quasi-identifiers: "a diagnosis X in
March" (legal_requirements.md 22: accumulated records identify; DESIGN.md decision 7). Its code
climbs a hierarchy (傷病名コード -> ICD-10 -> ICD-10 three characters -> chapter) and its time a
calendar (month -> quarter -> half year -> year). A generalization is one level per code hierarchy
and one for time, the same for every patient (global recoding), so a release column recoded at that
level can be joined with any other without undoing it.

Times are month starts (dates). A period is released as its first day (2025-04-01 = 2025 Q2 at the
quarter level) and written into items as a label (2025-Q2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.local import local_frame

TIME_LEVELS = ("month", "quarter", "half", "year")
MONTHS_IN = {"month": 1, "quarter": 3, "half": 6, "year": 12}
UNKNOWN_CODE = "不明"  # a code missing from its hierarchy: one group of its own at every level above the code


@dataclass(frozen=True)
class ItemSpec:
    """Items from one table: `code` of table `table`, at the time of the row's receipt (`time`, a month).

    `hierarchy`: code -> its values at `levels` (e.g. icd10, icd10_3, icd10_chapter), read by the job."""

    name: str  # e.g. "diagnoses.disease_code"
    table: str
    code: str
    time: str  # a month column of the table itself, or of `receipts` joined on receipt_key
    levels: tuple[str, ...]
    hierarchy: Mapping[str, Mapping[str, str]]

    @property
    def code_levels(self) -> tuple[str, ...]:
        return ("code", *self.levels)

    def leaves(self, level: int) -> dict[str, int]:
        """How many codes each value at `level` stands for (the NCP of a value is (leaves - 1) / (all - 1))."""
        out: dict[str, int] = {}
        for code, row in self.hierarchy.items():
            value = code if level == 0 else (row.get(self.levels[level - 1]) or UNKNOWN_CODE)
            out[value] = out.get(value, 0) + 1
        return out


def period_start(month: Column, level: str) -> Column:
    """The first day of the period `month` (a date) falls in, at `level`."""
    if level == "month":
        return F.trunc(month, "month")
    if level == "quarter":
        return F.trunc(month, "quarter")
    if level == "year":
        return F.trunc(month, "year")
    if level == "half":
        year = F.trunc(month, "year")
        return F.when(F.month(month) >= 7, F.add_months(year, 6)).otherwise(year)
    raise ValueError(f"time level {level!r}: use one of {', '.join(TIME_LEVELS)}")


def period_label(month: Column, level: str) -> Column:
    """`2025-03` (month), `2025-Q1`, `2025-H1`, `2025` (year)."""
    year = F.year(month).cast("string")
    if level == "month":
        return F.date_format(month, "yyyy-MM")
    if level == "quarter":
        return F.concat(year, F.lit("-Q"), F.quarter(month).cast("string"))
    if level == "half":
        return F.concat(year, F.lit("-H"), F.when(F.month(month) >= 7, F.lit("2")).otherwise(F.lit("1")))
    if level == "year":
        return year
    raise ValueError(f"time level {level!r}: use one of {', '.join(TIME_LEVELS)}")


def code_mapping(spec: ItemSpec, df: DataFrame) -> DataFrame:
    """`(__code, __l0, __l1, ...)`: every code of the hierarchy with its value at each level (small,
    broadcast where it is joined). `df` gives the session to build it in."""
    rows = [(code, code, *[(row.get(level) or UNKNOWN_CODE) for level in spec.levels])
            for code, row in sorted(spec.hierarchy.items())]
    names = ["__code", *[f"__l{i}" for i in range(len(spec.levels) + 1)]]
    return local_frame(df.sparkSession, rows, ", ".join(f"{n} string" for n in names))


def code_at(spec: ItemSpec, code: Column, mapping: DataFrame | None, level: int) -> Column:
    """The value of `code` at `level`, for a frame already joined with code_mapping (`__l<level>`);
    a code outside the hierarchy is itself at level 0 and UNKNOWN_CODE above."""
    if level == 0:
        return code.cast("string")
    return F.coalesce(F.col(f"__l{level}"), F.when(code.isNotNull(), F.lit(UNKNOWN_CODE)))


def with_levels(df: DataFrame, spec: ItemSpec, code: str, mapping: DataFrame) -> DataFrame:
    """`df` with `__l1..` (the code's values at every level above the code) from a broadcast join."""
    levels = [c for c in mapping.columns if c.startswith("__l") and c != "__l0"]
    right = F.broadcast(mapping.select("__code", *levels))
    return df.join(right, df[code].cast("string") == right["__code"], "left").drop("__code")


def item_rows(frames: Mapping[str, DataFrame], specs: Sequence[ItemSpec], receipts: DataFrame,
              patients: DataFrame) -> DataFrame:
    """`(pid, __q, __spec, __code, __month, __rows)`: the distinct items of every released patient with
    the number of source rows behind each, before any recoding. `patients`: `(pid, __q)`, the released
    patients with their quasi-identifier key; `frames` carry `pid` and a DROP_ROW flag where rows are
    not released."""
    parts = []
    for spec in specs:
        df = frames[spec.table]
        if "__drop_row" in df.columns:
            df = df.where(~F.coalesce(F.col("__drop_row"), F.lit(False)))
        if spec.time not in df.columns:  # the month of the row's receipt
            months = receipts.select("receipt_key", F.col(spec.time).alias("__month"))
            df = df.join(months, "receipt_key", "left")
        else:
            df = df.withColumn("__month", F.col(spec.time))
        parts.append(df.where(F.col(spec.code).isNotNull() & F.col("__month").isNotNull()).select(
            "pid", F.lit(spec.name).alias("__spec"), F.col(spec.code).cast("string").alias("__code"),
            F.trunc("__month", "month").alias("__month")))
    union = parts[0]
    for p in parts[1:]:
        union = union.unionByName(p)
    return (union.join(patients, "pid", "inner")
            .groupBy("pid", "__q", "__spec", "__code", "__month").agg(F.count(F.lit(1)).alias("__rows")))


def qi_key(columns: Sequence[str]) -> Column:
    """One string per combination of quasi-identifier values (nulls are a value of their own)."""
    return F.concat_ws("\u001f", *[F.coalesce(F.col(c).cast("string"), F.lit("\u2205")) for c in columns])
