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

IDENTITY_COLUMNS = ("insurer_no", "card_symbol", "card_number", "branch_no", "birth_date", "sex", "kana_name")
# Requirement 45: every stop request has a written confirmation (旧31条); the registry row links it.
CONFIRMATION_COLUMN = "confirmation_doc"
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


def receipt_identity_rows(receipts: DataFrame, insurances: DataFrame, eligibility: DataFrame) -> DataFrame:
    """One row per receipt and insurance identity it carries (HO, and SN 資格確認), with RE's person facts.

    ID1 takes 保険者番号・記号・番号 from HO and the 枝番 from the receipt's SN for 医保 (負担者種別 1);
    an SN that carries its own card identity contributes a second row.
    """
    person = receipts.select("receipt_key", "birth_date", "sex", "kana_name")
    branch = (
        eligibility.where(F.col("burden_kind") == "1")
        .groupBy("receipt_key")
        .agg(F.min_by("branch_no", "line_no").alias("branch_no"))
    )
    from_ho = insurances.select("receipt_key", "insurer_no", "card_symbol", "card_number").join(
        branch, "receipt_key", how="left"
    )
    from_sn = eligibility.where(F.col("card_number").isNotNull()).select(
        "receipt_key", "insurer_no", "card_symbol", "card_number", "branch_no"
    )
    cards = from_ho.unionByName(from_sn)
    return person.join(cards, "receipt_key", how="left").select("receipt_key", *IDENTITY_COLUMNS)


def matched_keys(sources: DataFrame, registry_ids: DataFrame, key_cols: Sequence[str]) -> DataFrame:
    """Distinct keys whose identity is in the registry (exact string equality)."""
    return sources.join(registry_ids.select("identity"), "identity", how="left_semi").select(*key_cols).distinct()


def filter_opted_out(df: DataFrame, opted_out: DataFrame, key_cols: Sequence[str]) -> DataFrame:
    """Drop the rows of opted-out people (keys from `matched_keys`)."""
    _require(df, key_cols, "filter_opted_out")
    return df.join(opted_out.select(*key_cols), list(key_cols), how="left_anti")
