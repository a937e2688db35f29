"""傷病名 (SY) per receipt and 症状詳記 (SJ) for costly inpatient receipts.

A receipt lists the patient's chronic conditions (with the date they were first treated) and 0-2
acute ones from this month, 6 at most, the first marked 主傷病. A few acute diagnoses are 未コード化
(code 0000999 with the name as free text), a few carry the 修飾語 8002 (疑い) - both are what
anonymization has to handle in real files (uke_format.md §3 SY: FREE fields).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from synth.draws import Rng, literal_array, pick, zipf_index
from synth.reference import Catalogs
from transforms.uke.dates import ERAS

UNCODED = "0000999"
UNCODED_NAMES = ("右膝関節痛", "左肩痛", "両下肢浮腫の疑い", "頭部打撲後遺症", "右手指しびれ", "腰部違和感", "心窩部不快感")
KEYS = ("person_id", "inst_id", "m")


def wareki_kanji(d: Column) -> Column:
    """A date as Japanese text, e.g. 令和7年1月10日 (元年 written as 1年)."""
    name: Column = F.lit(ERAS[0].name)
    first: Column = F.lit(ERAS[0].first_year)
    for era in ERAS[1:]:
        name = F.when(d >= F.lit(era.start), F.lit(era.name)).otherwise(name)
        first = F.when(d >= F.lit(era.start), F.lit(era.first_year)).otherwise(first)
    return F.format_string("%s%d年%d月%d日", name, F.year(d) - first + 1, F.month(d), F.dayofmonth(d))


def with_diagnoses(rng: Rng, cat: Catalogs) -> dict[str, Column]:
    """Columns `sy` (array of SY structs) and `chapter` (ICD-10 chapter of the main diagnosis)."""
    codes = literal_array([d.code for d in cat.diseases])
    pool = cat.disease_pool(acute=True)
    visit_date = F.date_add(F.col("service_month"), F.col("day1") - 1)

    def sy(idx: Column, start: Column, outcome: Column, uncoded: Column | bool = False,
           modifier: Column | None = None, name: Column | None = None) -> Column:
        unc = F.lit(uncoded) if isinstance(uncoded, bool) else uncoded
        return F.struct(
            idx.cast("int").alias("idx"),
            F.when(unc, F.lit(UNCODED)).otherwise(F.element_at(codes, idx + 1)).alias("disease_code"),
            start.alias("start_date"), outcome.alias("outcome"),
            (modifier if modifier is not None else F.lit(None)).cast("string").alias("modifier_codes"),
            F.when(unc, name).cast("string").alias("disease_name"),
            F.lit(None).cast("string").alias("main_flag"), F.lit(None).cast("string").alias("supplement"),
        )

    chronic = F.transform("chronic", lambda x: sy(x.getField("idx"), x.getField("start"), F.lit("1")))
    n_acute = F.when(F.size("chronic") == 0, 1 + (rng.u("sy.n2", *KEYS) < 0.3).cast("int"))
    n_acute = n_acute.otherwise((rng.u("sy.n", *KEYS) < 0.25).cast("int") + (rng.u("sy.n3", *KEYS) < 0.05).cast("int"))

    def acute(i: Column) -> Column:
        idx = F.element_at(literal_array(pool), zipf_index(rng.u("sy.acute", *KEYS, i), len(pool), 1.0) + 1)
        u_out = rng.u("sy.outcome", *KEYS, i)
        died = F.col("inpatient") & (F.col("age") >= 75) & (u_out > 0.99)
        outcome = F.when(died, "3").when(u_out < 0.3, "2").when(u_out < 0.32, "4").otherwise("1")
        return sy(idx, visit_date, outcome, rng.u("sy.uncoded", *KEYS, i) < 0.005,
                  F.when(rng.u("sy.mod", *KEYS, i) < 0.03, F.lit("8002")),
                  pick(rng.u("sy.uname", *KEYS, i), list(UNCODED_NAMES)))

    acutes = F.slice(F.transform(F.sequence(F.lit(1), F.lit(2)), acute), 1, n_acute)
    merged = F.slice(F.concat(chronic, acutes), 1, 6)
    flagged = F.transform(merged, lambda x, i: x.withField("main_flag", F.when(i == 0, F.lit("01"))))
    chapters = literal_array([d.chapter for d in cat.diseases])
    # `chapter` refers to the `sy` column (added first), not to a second copy of its expression.
    return {"sy": flagged, "chapter": F.element_at(chapters, F.get(F.col("sy"), 0).getField("idx") + 1)}


def symptom_details(rng: Rng, cat: Catalogs, total_points: Column) -> Column:
    """SJ for inpatient receipts over 20,000 点 (審査 asks for 症状詳記 on costly claims)."""
    first = F.get(F.col("sy"), 0)
    names = literal_array([d.name for d in cat.diseases])
    disease = F.coalesce(first.getField("disease_name"), F.element_at(names, first.getField("idx") + 1))
    sex = F.when(F.col("sex") == "1", "男性").otherwise("女性")
    text = F.format_string(
        "%d歳%s。%sにて%sより入院加療中。全身状態を評価しつつ治療を継続している。",
        F.col("age"), sex, disease, wareki_kanji(F.col("admission_date")),
    )
    needed = F.col("inpatient") & ((total_points > 20000) | (rng.u("sj", *KEYS) < 0.01))
    return F.when(needed, F.array(F.struct(F.lit("01").alias("detail_class"), text.alias("detail_text")))).otherwise(
        F.array().cast("array<struct<detail_class:string,detail_text:string>>")
    )

