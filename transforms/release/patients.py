"""Patient-level steps: attach `pid` to every table and build one row per pseudonymous patient.

`patient_facts` (pid, sex, birth_date, first_service, area, postal_code, address) is what the
policy's `patient_facts` rules turn into the release table `patients`, the table k-anonymity works
on (issue 5 item 3). It is built from the claims (the earliest receipt gives sex, birth date and the
facility's 都道府県) and, where a clinical extract exists, from the clinical patient record (postcode,
address; the address's 都道府県 then wins over the facility's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.cache import NO_CACHE, Cache
from transforms.columns.geo import prefecture_code
from transforms.identity.linkage import (
    LinkGraph,
    check_unlinked,
    clinical_identities,
    clinical_node,
    is_clinical_node,
    link_patients,
    nodes_of_stored,
    receipt_identities,
    sex_code,
)
from transforms.identity.linkage import (
    link_key as linkage_label_key,
)
from transforms.policy import Linkage
from transforms.policy.catalog import FIRST_SERVICE, PATIENT_FIRST_SERVICE
from transforms.release.apply import DROP_ROW, PRE_RECEIPT_KEY, REMOVED_BY

CLAIM_KEY = "receipt_key"
CLINICAL_PATIENTS = "patients"
FACT_COLUMNS = ("pid", "sex", "birth_date", "first_service", "area", "postal_code", "address")


def patient_ids(
    bronze: Mapping[str, DataFrame], key: bytes, linkage: Linkage, receipt_pseudonym_key: bytes | None = None,
    receipt_pseudonym_bits: int = 256, stored: DataFrame | None = None, cache: Cache = NO_CACHE,
    link_key: bytes | None = None,
) -> DataFrame:
    """`(node, pid, linked, converged[, __pre_receipt_key])` over receipts and clinical patients (kept in `cache`).

    With `receipt_pseudonym_key` the keyed pseudonym of each receipt key is computed here, once per
    receipt, instead of once per claim line in every table (the claim tables join this map anyway).
    `stored`: the identity hashes ingest stored for exactly these tables (jobs/stages/ingest/identities.py); without
    them the identities are computed from the tables.
    """
    return link_patients(_identities_of(bronze, stored), key, linkage.keys, linkage.rounds, linkage.unlinked,
                         receipt_pseudonym_key, PRE_RECEIPT_KEY, receipt_pseudonym_bits, cache, link_key)


def patient_map(
    bronze: Mapping[str, DataFrame], key: bytes, linkage: Linkage, receipt_pseudonym_key: bytes | None = None,
    receipt_pseudonym_bits: int = 256, stored: DataFrame | None = None, cache: Cache = NO_CACHE,
    link_key: bytes | None = None,
) -> tuple[DataFrame, dict[str, int]]:
    """The pid map every table joins (join_map's form, materialized) and the linkage summary, as
    patient_ids would give them, in one pass over the nodes: the pids are computed as the map is
    materialized, and the summary is counted on the linked graph."""
    check_unlinked(linkage.unlinked)  # before the graph is built
    graph = LinkGraph.build(_identities_of(bronze, stored), linkage.keys, linkage.rounds, cache,
                            link_key or linkage_label_key(key))
    try:
        summary = graph.summary(linkage.unlinked)
        pids = graph.pids(key, linkage.unlinked, receipt_pseudonym_key, PRE_RECEIPT_KEY, receipt_pseudonym_bits)
        return join_map(pids, cache), summary
    finally:
        graph.free()


def _identities_of(bronze: Mapping[str, DataFrame], stored: DataFrame | None) -> DataFrame:
    """`(node, ...)` identities of receipts and clinical patients: ingest's stored hashes when given."""
    if stored is not None:
        return nodes_of_stored(stored)
    ids = receipt_identities(bronze["receipts"], bronze.get("insurances"), bronze.get("eligibility"))
    if CLINICAL_PATIENTS in bronze:
        ids = ids.unionByName(clinical_identities(bronze[CLINICAL_PATIENTS]))
    return ids


def node_of(df: DataFrame) -> F.Column:
    """How a table's rows find their patient: the receipt, or the clinical (institution, patient id)."""
    if CLAIM_KEY in df.columns:
        return F.col(CLAIM_KEY)
    if {"institution_code", "patient_id"} <= set(df.columns):
        return clinical_node(F.col("institution_code"), F.col("patient_id"))
    raise ValueError(f"cannot link rows to patients: no receipt_key nor (institution_code, patient_id) in {df.columns}")


def _node_keys(node: F.Column) -> list[F.Column]:
    """Two independent 64-bit hashes of a node id: a 128-bit join key far shorter than the id."""
    return [F.xxhash64(node).alias("__k1"), F.xxhash64(F.lit("\u001fk2"), node).alias("__k2")]


NODE_KEYS = ("__k1", "__k2")


def node_keys(node: F.Column) -> list[F.Column]:
    """The join keys (NODE_KEYS) of node ids, as the pid map (join_map) holds them."""
    return _node_keys(node)


def node_projection(df: DataFrame, *columns: str) -> DataFrame:
    """`columns` of `df` and the node keys with_pid joins on: what a frame needs to get `pid` later,
    where frames of different tables are unioned first (their node ids come from different columns)."""
    return df.select(*columns, *_node_keys(node_of(df)))


CLINICAL = "__clinical"  # a map column: the node is a clinical patient's, not a receipt's


def join_map(pids: DataFrame, cache: Cache = NO_CACHE) -> DataFrame:
    """The pid map in the compact form every table joins (`cache.materialize`d: each table's plan
    then scans its rows instead of repeating the linkage): (__k1, __k2, __pid,
    __clinical[, __pre]), pseudonyms as raw bytes instead of hex characters, so broadcasting it stays
    cheap. `__clinical` tells the node kinds apart: a table joins the nodes of its own kind only."""
    extra = [F.unhex(PRE_RECEIPT_KEY).alias("__pre")] if PRE_RECEIPT_KEY in pids.columns else []
    return cache.materialize(pids.select(*_node_keys(F.col("node")), F.unhex("pid").alias("__pid"),
                                         is_clinical_node(F.col("node")).alias(CLINICAL), *extra))


def _of_kind(pid_map: DataFrame, df: DataFrame) -> DataFrame:
    """The map rows `df`'s rows can match: receipt nodes for a claim table, clinical nodes for a
    clinical one, all for a frame of both (node_projection). A node of one kind never matches a row
    of the other, so the join's result is the same; what changes is the size of the hash table
    each query builds and broadcasts (1.10M receipt and 0.26M clinical nodes at 12M claim lines)."""
    if CLINICAL not in pid_map.columns or set(NODE_KEYS) <= set(df.columns):  # a projection may hold both kinds
        return pid_map
    if CLAIM_KEY in df.columns:
        return pid_map.where(~F.col(CLINICAL))
    if {"institution_code", "patient_id"} <= set(df.columns):
        return pid_map.where(F.col(CLINICAL))
    return pid_map


def with_removals(pid_map: DataFrame, mark: Callable[[DataFrame], DataFrame],
                  first_service: DataFrame | None = None, cache: Cache = NO_CACHE) -> DataFrame:
    """The pid map with the removal flags `mark` gives each node's patient (held back, suppressed by
    k-anonymity: `__removed_by_<reason>` columns), materialized; the map itself when `mark` flags
    nothing and there is no `first_service`. Tables that join it get their rows' flags in the pid join
    (with_pid), instead of joining each list of removed patients on the 32-character pid.

    `first_service`: `(pid, first_service)` per patient (the patient facts); the map then carries
    each node's patient's first service month as PATIENT_FIRST_SERVICE, for rules `at: first_service`."""
    marked = mark(pid_map.withColumn("pid", F.lower(F.hex("__pid"))))
    flags = [c for c in marked.columns if c.startswith(REMOVED_BY)]
    extra = []
    if first_service is not None:
        dates = first_service.select("pid", F.col(FIRST_SERVICE).alias(PATIENT_FIRST_SERVICE))
        marked = marked.join(dates, "pid", "left")
        extra = [PATIENT_FIRST_SERVICE]
    if not flags and not extra:
        return pid_map
    return cache.materialize(marked.select(*pid_map.columns, *flags, *extra))


def with_pid(df: DataFrame, pid_map: DataFrame, drop_unlinked: bool = False, broadcast: bool = False,
             small_table: bool = False) -> DataFrame:
    """Add `pid` (and the precomputed receipt pseudonym for claim tables); rows without a patient
    are flagged for removal (counted) when `drop_unlinked`. `broadcast` when the map is small.
    A map with removal flags (with_removals) flags the rows of removed patients too (DROP_ROW and
    the reason's column, as mark_suppressed does), and one with the patients' first service months
    gives every row its patient's (PATIENT_FIRST_SERVICE).

    `small_table`: the table is much smaller than the map. Its keys are broadcast and the map
    streamed past them (a semi join), and only the map rows the table needs are broadcast back,
    instead of a hash table of the whole map (about 1.5 s a query at a million receipts) for a few
    thousand rows. (A broadcast join cannot keep the unmatched rows of the side it builds, so the
    table itself cannot be the build side of its left join.)"""
    keys = list(NODE_KEYS)
    keyed = df if set(keys) <= set(df.columns) else df.select("*", *_node_keys(node_of(df)))  # node_projection
    pre = "__pre" in pid_map.columns and CLAIM_KEY in df.columns
    flags = [c for c in pid_map.columns if c.startswith(REMOVED_BY)]
    carried = [c for c in pid_map.columns if c == PATIENT_FIRST_SERVICE and c not in df.columns]
    right = _of_kind(pid_map, df).select(*keys, "__pid", *(["__pre"] if pre else []), *flags, *carried)
    if small_table:
        right = right.join(F.broadcast(keyed.select(*keys)), keys, "left_semi")
    joined = keyed.join(F.broadcast(right) if broadcast or small_table else right, keys, "left")
    joined = joined.withColumn("pid", F.lower(F.hex("__pid")))
    if pre:
        joined = joined.withColumn(PRE_RECEIPT_KEY, F.lower(F.hex("__pre")))
    hits = [F.coalesce(F.col(c), F.lit(False)) for c in flags]
    out = joined.select(*[c for c in df.columns if c != DROP_ROW and c not in flags],
                        *[c for c in joined.columns if c in ("pid", PRE_RECEIPT_KEY)], *carried,
                        *[h.alias(c) for h, c in zip(hits, flags, strict=True)],
                        *([DROP_ROW] if DROP_ROW in df.columns else []))
    drop = [F.col("pid").isNull()] if drop_unlinked else []
    drop += [F.coalesce(F.col(DROP_ROW), F.lit(False))] if DROP_ROW in df.columns else []
    drop += [F.col(c) for c in flags]
    if not drop:
        return out
    return out.withColumn(DROP_ROW, reduce(lambda a, b: a | b, drop))


def patient_facts(
    receipts: DataFrame, clinical: DataFrame | None, prefectures: Mapping[str, str], labs: DataFrame | None = None
) -> DataFrame:
    """One row per pid. `receipts`, `clinical` and `labs` already carry `pid` (see with_pid).

    `first_service` is the month of the first claim, or of the first lab sample for a patient known
    only from a clinical extract: ages are taken there (requirement 7).
    """
    first = F.col("service_month")
    claims = (
        receipts.where(F.col("pid").isNotNull())
        .groupBy("pid")
        .agg(
            F.min_by(sex_code(F.col("sex")), first).alias("c_sex"),
            F.min_by("birth_date", first).alias("c_birth"),
            F.min(first).alias("c_first"),
            F.min_by("pref_code", first).alias("c_area"),
        )
    )
    if labs is not None:
        sampled = labs.where(F.col("pid").isNotNull()).groupBy("pid").agg(
            F.min(F.trunc("sampled_on", "month")).alias("l_first"))
        claims = claims.join(sampled, "pid", "full_outer")
    else:
        claims = claims.withColumn("l_first", F.lit(None).cast("date"))
    claims = claims.withColumn("first_service", F.least("c_first", "l_first")).drop("c_first", "l_first")
    if clinical is None:
        out = claims.select("pid", F.col("c_sex").alias("sex"), F.col("c_birth").alias("birth_date"), "first_service",
                            F.col("c_area").alias("area"), F.lit(None).cast("string").alias("postal_code"),
                            F.lit(None).cast("string").alias("address"))
        return out.select(*FACT_COLUMNS)
    order = F.concat_ws("\u001f", F.col("institution_code").cast("string"), F.col("patient_id").cast("string"))

    def column(name: str, dtype: str = "string") -> F.Column:  # an extract's layout may leave a column out
        return F.col(name) if name in clinical.columns else F.lit(None).cast(dtype)

    extract = (
        clinical.where(F.col("pid").isNotNull())
        .groupBy("pid")
        .agg(
            F.min_by(sex_code(column("sex")), order).alias("x_sex"),
            F.min_by(column("birth_date", "date"), order).alias("x_birth"),
            F.min_by(column("postal_code"), order).alias("postal_code"),
            F.min_by(column("address"), order).alias("address"),
        )
    )
    both = claims.join(extract, "pid", "full_outer")
    area = F.coalesce(prefecture_code(F.col("address"), prefectures), F.col("c_area")) if prefectures else F.col("c_area")
    return both.select(
        "pid",
        F.coalesce("c_sex", "x_sex").cast("string").alias("sex"),
        F.coalesce("c_birth", "x_birth").alias("birth_date"),
        "first_service",
        area.alias("area"),
        F.col("postal_code").cast("string").alias("postal_code"),
        F.col("address").cast("string").alias("address"),
    )
