"""Receipt rows -> one typed table per UKE record type (the truth the parser must reproduce).

Every table has exactly the layout's kept fields (transforms/uke/layout.py, typed by
uke_write.SQL_TYPES) plus `file` (relative to the output dir), `line_no` (1-based) and `person_id`.
Lines inside a receipt follow the record order of uke_format.md §1: RE, HO, KO*, SN*, JD*, SY*,
details (SI/IY/TO/CO in 診療識別 order), SJ*.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.uke.layout import CO, GO, HO, IR, IY, JD, KO, RE, SI, SJ, SN, SY, TO, RecordLayout
from transforms.uke.write import select_typed

META = ("file", "line_no", "person_id")
TRUTH_TABLES = ("receipts", "insurances", "public_expenses", "eligibility", "visit_days", "diagnoses",
                "procedures", "drugs", "materials", "comments", "symptom_details")


def _offsets() -> dict[str, Column]:
    """First line of each child block, from the RE line and the sizes of the blocks before it."""
    ho = F.col("line_start") + 1
    ko = ho + F.col("ho").isNotNull().cast("int")
    sn = ko + F.size("ko")
    jd = sn + F.size("sn")
    sy = jd + F.size("jd")
    det = sy + F.size("sy")
    sj = det + F.size("details")
    return {"HO": ho, "KO": ko, "SN": sn, "JD": jd, "SY": sy, "details": det, "SJ": sj}


def null_fields(layout: RecordLayout, present: set[str]) -> list[Column]:
    """A null column for every kept field of `layout` not in `present`."""
    return [F.lit(None).alias(f.name) for f in layout.kept() if f.name not in present]


def typed_records(df: DataFrame, layout: RecordLayout, values: dict[str, Column]) -> DataFrame:
    """Truth rows of one record layout: `values` by field name, the other kept fields null, typed, then META."""
    out = df.select(*[c.alias(n) for n, c in values.items()], *null_fields(layout, set(values)), *META)
    return select_typed(out, layout, *META)


def _children(receipts: DataFrame, array: str, block: str, layout: RecordLayout,
              fields: dict[str, str], where: Column | None = None) -> DataFrame:
    """Explode `array`; `fields` maps layout field -> struct field; missing fields are null."""
    exploded = receipts.select(
        "file", "person_id", F.posexplode(array).alias("pos", "x"), _offsets()[block].alias("block_start")
    )
    if where is not None:
        exploded = exploded.where(where)
    cols = [F.col("x").getField(src).alias(dst) for dst, src in fields.items()]
    out = exploded.select("file", "person_id", (F.col("block_start") + F.col("pos")).alias("line_no"), *cols,
                          *null_fields(layout, set(fields)))
    return select_typed(out, layout, *META)


def _same(layout: RecordLayout, *names: str) -> dict[str, str]:
    return {n: n for n in names} if names else {f.name: f.name for f in layout.kept()}


_DETAIL_COMMON = {"care_class": "care_class", "burden_class": "burden_class", "points": "points", "count": "count",
                  **{f"comment_{k}_{i}": f"comment_{k}_{i}" for i in (1, 2, 3) for k in ("code", "text")},
                  "day_counts": "days"}


def receipts_table(receipts: DataFrame) -> DataFrame:
    present = {"receipt_no", "receipt_type", "service_month", "name", "sex", "birth_date", "benefit_ratio",
               "admission_date", "special_notes", "beds", "chart_no", "billing_info", "kana_name"}
    out = receipts.select(
        *META[:1], F.col("line_start").alias("line_no"), "person_id",
        *[F.col("re_beds" if n == "beds" else n).alias(n) for n in sorted(present)], *null_fields(RE, present),
    )
    return select_typed(out, RE, *META)


def truth_tables(receipts: DataFrame) -> dict[str, DataFrame]:
    """table name -> typed DataFrame, for the 11 bronze tables of the 医科 records generated."""
    ho = receipts.where(F.col("ho").isNotNull()).select(
        "file", "person_id", _offsets()["HO"].alias("line_no"), "ho.*"
    )
    ho_present = {"insurer_no", "card_symbol", "card_number", "days", "points", "meal_count", "meal_amount", "copay_amount"}
    is_rec = {r: F.col("x").getField("rec") == r for r in ("SI", "IY", "TO", "CO")}
    return {
        "receipts": receipts_table(receipts),
        "insurances": select_typed(ho.select(*META, *sorted(ho_present), *null_fields(HO, ho_present)), HO, *META),
        "public_expenses": _children(receipts, "ko", "KO", KO, _same(
            KO, "payer_no", "recipient_no", "days", "points", "copay_amount", "meal_count", "meal_amount")),
        "eligibility": _children(receipts, "sn", "SN", SN, _same(SN)),
        "visit_days": _children(receipts, "jd", "JD", JD, _same(JD)),
        "diagnoses": _children(receipts, "sy", "SY", SY, _same(SY)),
        "procedures": _children(receipts, "details", "details", SI,
                                {**_DETAIL_COMMON, "procedure_code": "code", "quantity": "quantity"}, is_rec["SI"]),
        "drugs": _children(receipts, "details", "details", IY,
                           {**_DETAIL_COMMON, "drug_code": "code", "amount": "quantity"}, is_rec["IY"]),
        "materials": _children(receipts, "details", "details", TO,
                               {**_DETAIL_COMMON, "material_code": "code", "amount": "quantity",
                                "unit_code": "unit_code", "unit_price": "unit_price", "product_name": "product_name"},
                               is_rec["TO"]),
        "comments": _children(receipts, "details", "details", CO,
                              {"care_class": "care_class", "burden_class": "burden_class",
                               "comment_code": "code", "comment_text": "text"}, is_rec["CO"]),
        "symptom_details": _children(receipts, "sj", "SJ", SJ, _same(SJ)),
    }


def files_table(receipts: DataFrame, institutions: DataFrame) -> DataFrame:
    """One row per UKE file: its IR and GO fields, line counts per record type, `lines` in total.

    `institution_code` is the 7-digit IR field; `institution_code10` the 10-digit code in the path.
    """
    det = F.col("details")

    def n_rec(rec: str) -> Column:
        return F.sum(F.size(F.filter(det, lambda x: x.getField("rec") == rec)))

    counts = receipts.groupBy("file", "inst_id", "institution_code", "billing_month").agg(
        F.count(F.lit(1)).alias("lines_re"), F.sum(F.col("ho").isNotNull().cast("int")).alias("lines_ho"),
        *[F.sum(F.size(a)).alias(f"lines_{n}") for a, n in (("ko", "ko"), ("sn", "sn"), ("jd", "jd"), ("sy", "sy"), ("sj", "sj"))],
        *[n_rec(r).alias(f"lines_{r.lower()}") for r in ("SI", "IY", "TO", "CO")],
        F.sum("points").alias("total_points"), F.sum("n_lines").alias("body_lines"),
    )
    inst = institutions.select("inst_id", "pref_code", F.col("code7"), "institution_name", "institution_phone")
    return counts.join(F.broadcast(inst), "inst_id", "inner").select(
        "file",
        F.lit("1").alias("payer_kind"), "pref_code", F.lit("1").alias("score_table"),
        F.col("code7").alias("institution_code"), "institution_name", "billing_month",
        F.lit("00").alias("volume_no"), "institution_phone",
        F.col("lines_re").cast("int").alias("total_receipts"), F.col("total_points").cast("bigint").alias("total_points"),
        F.col("institution_code").alias("institution_code10"),
        F.lit(1).alias("lines_ir"), *[F.col(f"lines_{n}").cast("int").alias(f"lines_{n}") for n in
                                     ("re", "ho", "ko", "sn", "jd", "sy", "si", "iy", "to", "co", "sj")],
        F.lit(1).alias("lines_go"), (F.col("body_lines") + 2).cast("int").alias("lines"),
    )


def file_records(files: DataFrame) -> dict[str, DataFrame]:
    """IR (line 1) and GO (last line) of each file, typed like the other records."""
    ir = files.select(*[f.name for f in IR.kept()], "file", F.lit(1).alias("line_no"))
    go = files.select("total_receipts", "total_points", F.lit("99").alias("volume_no"), "file",
                      F.col("lines").alias("line_no"))
    return {"IR": select_typed(ir, IR, "file", "line_no"), "GO": select_typed(go, GO, "file", "line_no")}


LAYOUT_OF_TABLE: dict[str, RecordLayout] = {
    "receipts": RE, "insurances": HO, "public_expenses": KO, "eligibility": SN, "visit_days": JD, "diagnoses": SY,
    "procedures": SI, "drugs": IY, "materials": TO, "comments": CO, "symptom_details": SJ,
}
