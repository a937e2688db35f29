"""停止の求め (opt-out, requirement 42): who is in the registry, and which rows belong to them.

A registry row names a person by insurance identity (保険者番号, 記号・番号, 枝番, 生年月日, 性別)
and/or by kana name (カナ氏名, 生年月日, 性別). We match on exactly the normalized identity
strings the pseudonyms are built from (transforms/identity/keys.py: ID1 and ID2), never on anything
fuzzier (42(c)): a name variant is caught through the insurance identity, not through name similarity.

枝番 is optional on either side (older cards and claims without an SN record have none), so both sides
also emit ID1 without the 枝番; a stop request must rather exclude too much than too little.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.identity.keys import id1_of_parts, id2_of_parts, with_id_parts
from transforms.identity.linkage import clinical_node

IDENTITY_COLUMNS = ("insurer_no", "card_symbol", "card_number", "branch_no", "birth_date", "sex", "kana_name")
# Requirement 45: every stop request has a written confirmation (旧31条); the registry row links it.
CONFIRMATION_COLUMN = "confirmation_doc"
CLINICAL_KEY = ("institution_code", "patient_id")  # a hospital's patient id is unique within its institution
_DATE_FORMATS = ("yyyy-MM-dd", "yyyyMMdd", "yyyy/MM/dd")


def _require(df: DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}; available: {df.columns}")


def sex_code(col: Column) -> Column:
    """性別 as the claim code (別表6: 1 男, 2 女) whether written 1/2, M/F or 男/女 (clinical extracts use M/F)."""
    text = F.upper(F.trim(col.cast("string")))
    return (
        F.when(text.isin("1", "M", "男", "MALE"), F.lit("1"))
        .when(text.isin("2", "F", "女", "FEMALE"), F.lit("2"))
        .otherwise(text)
    )


def registry_birth_date(col: Column) -> Column:
    """A registry birth date written as DATE or as `YYYY-MM-DD`, `YYYYMMDD` or `YYYY/MM/DD` text."""
    text = F.trim(col.cast("string"))
    return F.coalesce(*(F.try_to_date(text, fmt) for fmt in _DATE_FORMATS))


def with_registry_types(registry: DataFrame) -> DataFrame:
    """Registry columns as strings, birth_date as DATE; `_bad` names a row that can never match or has no
    written confirmation (requirement 45)."""
    _require(registry, [*IDENTITY_COLUMNS, CONFIRMATION_COLUMN], "opt-out registry")
    born = registry_birth_date(F.col("birth_date"))
    sex = sex_code(F.col("sex"))
    confirmation = F.nullif(F.trim(F.col(CONFIRMATION_COLUMN).cast("string")), F.lit(""))
    bad = (
        F.when(born.isNull(), F.lit("birth_date"))
        .when(sex.isNull() | ~sex.isin("1", "2"), F.lit("sex"))
        .when(F.col("card_number").isNull() & F.col("kana_name").isNull(), F.lit("card_number/kana_name"))
        .when(confirmation.isNull(), F.lit(CONFIRMATION_COLUMN))
    )
    return registry.select(
        *(F.col(c).cast("string").alias(c) for c in IDENTITY_COLUMNS if c not in ("birth_date", "sex")),
        born.alias("birth_date"),
        sex.alias("sex"),
        confirmation.alias(CONFIRMATION_COLUMN),
        bad.alias("_bad"),
    )


def identity_sources(df: DataFrame, key_cols: Sequence[str]) -> DataFrame:
    """key_cols + one `identity` row per ID1 (with and without 枝番) and ID2 that can be formed."""
    _require(df, [*key_cols, *IDENTITY_COLUMNS], "identity_sources")
    c = {name: F.col(name) for name in IDENTITY_COLUMNS}
    df = with_id_parts(df, c["insurer_no"], c["card_symbol"], c["card_number"], c["branch_no"], c["birth_date"],
                       sex_code(c["sex"]), c["kana_name"])
    ids = F.array(id1_of_parts(), id1_of_parts(with_branch=False), id2_of_parts())
    out = df.select(*key_cols, F.explode(ids).alias("identity"))
    return out.where(F.col("identity").isNotNull()).distinct()


def receipt_identity_rows(receipts: DataFrame, insurances: DataFrame | None, eligibility: DataFrame | None) -> DataFrame:
    """One row per receipt and insurance identity it carries (HO, and SN 資格確認), with RE's person facts.

    ID1 takes 保険者番号・記号・番号 from HO and the 枝番 from the receipt's SN for 医保 (負担者種別 1);
    an SN that carries its own card identity contributes a second row. Without HO or SN tables (a
    warehouse of 公費-only claims) the receipts still match by kana name (ID2).
    """
    person = receipts.select("receipt_key", "birth_date", "sex", "kana_name")
    card_cols = ("insurer_no", "card_symbol", "card_number", "branch_no")
    cards: list[DataFrame] = []
    if insurances is not None:
        from_ho = insurances.select("receipt_key", "insurer_no", "card_symbol", "card_number")
        if eligibility is not None:
            branch = (
                eligibility.where(F.col("burden_kind") == "1")
                .groupBy("receipt_key")
                .agg(F.min_by("branch_no", "line_no").alias("branch_no"))
            )
            cards.append(from_ho.join(branch, "receipt_key", how="left"))
        else:
            cards.append(from_ho.withColumn("branch_no", F.lit(None).cast("string")))
    if eligibility is not None:
        cards.append(eligibility.where(F.col("card_number").isNotNull()).select("receipt_key", *card_cols))
    if not cards:
        return person.select("receipt_key", *(F.lit(None).cast("string").alias(c) for c in card_cols),
                             "birth_date", "sex", "kana_name").select("receipt_key", *IDENTITY_COLUMNS)
    both = cards[0] if len(cards) == 1 else cards[0].unionByName(cards[1])
    return person.join(both, "receipt_key", how="left").select("receipt_key", *IDENTITY_COLUMNS)


def matched_keys(sources: DataFrame, registry_ids: DataFrame, key_cols: Sequence[str]) -> DataFrame:
    """Distinct keys whose identity is in the registry (exact string equality)."""
    return sources.join(registry_ids.select("identity"), "identity", how="left_semi").select(*key_cols).distinct()


def filter_opted_out(df: DataFrame, opted_out: DataFrame, key_cols: Sequence[str]) -> DataFrame:
    """Drop the rows of opted-out people (keys from `matched_keys`)."""
    _require(df, key_cols, "filter_opted_out")
    return df.join(opted_out.select(*key_cols), list(key_cols), how="left_anti")


def opted_out_receipts(receipts: DataFrame, insurances: DataFrame | None, eligibility: DataFrame | None,
                       registry_ids: DataFrame) -> DataFrame:
    """`receipt_key` of the receipts whose person is in the registry (by any ID1 or ID2 they carry)."""
    rows = receipt_identity_rows(receipts, insurances, eligibility)
    return matched_keys(identity_sources(rows, ["receipt_key"]), registry_ids, ["receipt_key"])


def opted_out_patients(patients: DataFrame, registry_ids: DataFrame, key_cols: Sequence[str]) -> DataFrame:
    """`key_cols` of the clinical patients (a table with the identity columns) whom the registry names."""
    return matched_keys(identity_sources(patients, key_cols), registry_ids, key_cols)



def opted_out_nodes(receipts: DataFrame, insurances: DataFrame | None, eligibility: DataFrame | None,
                    patients: DataFrame | None, registry_ids: DataFrame) -> DataFrame:
    """`node` (transforms/identity/linkage.py: the receipt key, or clinical_node of a clinical patient)
    of every receipt and clinical patient the registry names: what a release maps to pids to leave
    those people out with all their linked records (requirement 42(b))."""
    nodes = opted_out_receipts(receipts, insurances, eligibility, registry_ids).select(F.col("receipt_key").alias("node"))
    if patients is not None and set(IDENTITY_COLUMNS) | set(CLINICAL_KEY) <= set(patients.columns):
        keys = opted_out_patients(patients, registry_ids, CLINICAL_KEY)
        nodes = nodes.unionByName(keys.select(clinical_node(F.col("institution_code"), F.col("patient_id")).alias("node")))
    return nodes.distinct()
