"""Patient linkage (名寄せ) into one keyed pseudonym `pid` (DESIGN.md decision 3; requirements 14-15).

NDB practice keys claims by ID1 = (保険者番号, 記号・番号, 枝番, 生年月日, 性別) and ID2 =
(カナ氏名, 生年月日, 性別). Each alone breaks: ID1 changes with the insurer, ID2 with the name. We
connect records that share either keyed ID (connected components by min-label propagation, round
after round until nothing changes) and use the smallest keyed hash in the component as `pid`. The unkeyed
ID strings exist only inside this computation; the release sees a keyed hash that cannot be
recomputed without the key (a dictionary attack on insurance numbers fails, requirement 15(c)).
"""

from __future__ import annotations

import hashlib
import hmac

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from transforms.cache import NO_CACHE, Cache
from transforms.columns.pseudonym import PSEUDONYM_BITS, hmac_sha256_hex, with_keys
from transforms.columns.text import normalize_width
from transforms.identity.keys import id1_of_parts, id2_of_parts, with_id_parts


def derive_key(master: bytes, purpose: str) -> bytes:
    """An independent sub-key per purpose (pid, a column's pseudonyms, date shifts, noise)."""
    if not master:
        raise ValueError("an empty key")
    return hmac.new(master, b"tokumei/" + purpose.encode("utf-8"), hashlib.sha256).digest()


def _first_per_receipt(df: DataFrame, cols: list[str]) -> DataFrame:
    """The first record (by line) of each receipt: a receipt's main HO or SN (one aggregation)."""
    first = F.min_by(F.struct(*cols), F.col("line_no")).alias("__first")
    return df.groupBy("receipt_key").agg(first).select("receipt_key", *[F.col(f"__first.{c}").alias(c) for c in cols])


def receipt_identities(receipts: DataFrame, insurances: DataFrame | None, eligibility: DataFrame | None,
                       keep: list[str] | None = None) -> DataFrame:
    """`(node, id1, id2[, keep])` per receipt: the canonical ID1/ID2 strings (null when incomplete).
    Receipt keys are unique (ingest makes them from the file hash and the RE ordinal). `keep`:
    columns of `receipts` carried along."""
    df = receipts.select("receipt_key", "kana_name", "birth_date", "sex", *(keep or []))
    if insurances is not None:
        ho = _first_per_receipt(insurances, ["insurer_no", "card_symbol", "card_number"])
        df = df.join(ho, "receipt_key", "left")
    else:
        df = df.select("*", *[F.lit(None).cast("string").alias(c) for c in ("insurer_no", "card_symbol", "card_number")])
    if eligibility is not None:
        df = df.join(_first_per_receipt(eligibility, ["branch_no"]), "receipt_key", "left")
    else:
        df = df.withColumn("branch_no", F.lit(None).cast("string"))
    return _identities(df, F.col("receipt_key"), keep)


def clinical_node(institution_code: Column, patient_id: Column) -> Column:
    """Node id of a clinical patient: the hospital's patient id is unique within its institution."""
    return F.concat_ws("\u001f", F.lit("C"), institution_code.cast("string"), patient_id.cast("string"))


def is_clinical_node(node: Column) -> Column:
    """Whether a node id is a clinical patient's (clinical_node), not a receipt's: receipt keys are
    a file's sha256 and an ordinal (transforms/uke/parse.receipt_key), never "C" and a control character."""
    return node.startswith("C\u001f") | (node == F.lit("C"))


def clinical_identities(patients: DataFrame) -> DataFrame:
    """`(node, id1, id2)` per clinical patient (layout conf/layouts/patients.yaml). A patient listed
    in several extract files is one node: the first row (by file and line) speaks for it."""
    return _first_per_node(clinical_rows(patients), ["id1", "id2"])


def clinical_rows(patients: DataFrame, keep: list[str] | None = None) -> DataFrame:
    """`(node, id1, id2, __order[, keep])` per row of a clinical patients extract (not yet one per node)."""
    node = clinical_node(F.col("institution_code"), F.col("patient_id"))
    return _identities(patients.withColumn("__order", _row_order(patients.columns)), node, ["__order", *(keep or [])])


def _first_per_node(rows: DataFrame, cols: list[str]) -> DataFrame:
    first = F.min_by(F.struct(*cols), F.col("__order")).alias("__first")
    return rows.groupBy("node").agg(first).select("node", *[F.col(f"__first.{c}").alias(c) for c in cols])


# Stored identity hashes (bronze/_identities, written by ingest): the 64-bit hashes link_patients
# builds its graph from, per receipt and per clinical patient row. Anonymize then skips the identity
# pass (three joins and the normalization of every receipt). Bump the version when the
# normalization in transforms/identity/keys.py or the ID strings change: tables of an older version are
# not used (anonymize computes the identities itself).
HASH_VERSION = 2  # 2: keyed labels (HMAC-SHA256 under the link key, its first 64 bits); 1 was xxhash64
HASH_COLUMNS = ("__hid1", "__hid2")


def link_key(master: bytes) -> bytes:
    """The key of the linkage labels: the producer's own, the same for every release (the labels never
    leave the restricted zone; each release's pids are keyed again with the release's key)."""
    return derive_key(master, "link-label")


def identity_hashes(ids: DataFrame, key: bytes) -> DataFrame:
    """`ids` (node, id1, id2, ...) with the ID strings replaced by 64-bit keyed labels `__hid1, __hid2`
    (null when the ID is incomplete): what link_patients needs, and all that is stored. Keyed: without
    the link key nobody can test an insurance number or a name against a stored label."""
    rest = [c for c in ids.columns if c not in ("node", "id1", "id2")]
    keyed, pads = with_keys(ids, {"label": key})

    def label(c: str) -> Column:
        return F.conv(F.substring(hmac_sha256_hex(F.col(c), pads["label"]), 1, 16), 16, -10).cast("long")

    return keyed.select("node", *[F.when(F.col(k).isNotNull(), label(k)).alias(f"__h{k}") for k in ("id1", "id2")], *rest)


def nodes_of_stored(stored: DataFrame) -> DataFrame:
    """`(node, __hid1, __hid2)`, one row per node, from stored rows: receipts have one row each
    (`__order` null); a clinical patient listed in several files takes its first row."""
    receipts = stored.where(F.col("__order").isNull()).select("node", *HASH_COLUMNS)
    clinical = _first_per_node(stored.where(F.col("__order").isNotNull()), list(HASH_COLUMNS))
    return receipts.unionByName(clinical)


def _row_order(columns: list[str]) -> Column:
    if {"file_sha256", "line_no"} <= set(columns):
        return F.concat_ws(":", F.col("file_sha256"), F.lpad(F.col("line_no").cast("string"), 12, "0"))
    return F.lit("")


def sex_code(col: Column) -> Column:
    """性別 as the UKE 男女区分 (1 male, 2 female), whatever the source wrote (HL7 M/F, 男/女, "１")."""
    s = F.upper(F.trim(normalize_width(col.cast("string"))))
    mapped = F.when(s.isin("1", "M", "男", "MALE"), F.lit("1")).when(s.isin("2", "F", "女", "FEMALE"), F.lit("2"))
    return F.coalesce(mapped, F.nullif(s, F.lit("")))


def _identities(df: DataFrame, node: Column, keep: list[str] | None = None) -> DataFrame:
    c = F.col
    parts = with_id_parts(df, c("insurer_no"), c("card_symbol"), c("card_number"), c("branch_no"), c("birth_date"),
                          sex_code(c("sex")), c("kana_name"))
    return parts.select(node.cast("string").alias("node"), id1_of_parts().alias("id1"), id2_of_parts().alias("id2"),
                        *(keep or []))


def link_patients(
    identities: DataFrame, key: bytes, keys: tuple[str, ...] = ("id1", "id2"), rounds: int = 8, unlinked: str = "singleton",
    node_pseudonym_key: bytes | None = None, node_pseudonym: str = "node_pseudonym", node_pseudonym_bits: int = 256,
    cache: Cache = NO_CACHE, label_key: bytes | None = None,
) -> DataFrame:
    """`(node, pid, linked, converged)` for every node: same component -> same pid, kept in `cache`.
    `identities`: `(node, id1, id2)`, or `(node, __hid1, __hid2)` as identity_hashes makes them.

    The graph is small: its vertices are the distinct ID1 and ID2 values and its edges the distinct
    (ID1, ID2) pairs the records carry (about one per patient and insurance). Labels are 64-bit
    hashes of the canonical ID strings, internal to this computation (two IDs colliding would merge
    two people: about 1e-8 at a million IDs). Rounds of min-label propagation run until no label
    changes (usually two) or `rounds` is reached; `converged` says which. Each record then takes
    its edge's label and `pid` = HMAC(key, label), its first 128 bits (transforms/columns/pseudonym.py):
    without the key the pid cannot be recomputed.
    `linked` is false for a record with no complete ID (its own pid, or null with unlinked="drop").
    With `node_pseudonym_key`, column `node_pseudonym` is the keyed pseudonym of the node id itself
    (for receipts: of the receipt key; `node_pseudonym_bits` long), computed in the same pass.
    `cache.free` the result when done.
    """
    check_unlinked(unlinked)
    graph = LinkGraph.build(identities, keys, rounds, cache, label_key or link_key(key))
    try:
        out = cache.keep(graph.pids(key, unlinked, node_pseudonym_key, node_pseudonym, node_pseudonym_bits))
        out.count()  # computed while the graph is still kept
        return out
    finally:
        graph.free()


def check_unlinked(unlinked: str) -> None:
    """What to do with a node that has no complete ID: `singleton` (its own pid) or `drop`."""
    if unlinked not in ("singleton", "drop"):
        raise ValueError("unlinked: use singleton or drop")


class LinkGraph:
    """The linked graph of one set of identities: every node with its component's label (kept in
    the cache it was built with; `free()` lets them go).

    `pids` is lazy, so a caller can compute the pid of every node in the pass that materializes what
    it needs of them (anonymize: the compact pid map) instead of caching them first; `summary`
    counts nodes, patients and unlinked nodes from the cached graph, without a pass over the pids."""

    def __init__(self, nodes: DataFrame, labels: DataFrame, hcols: list[str], converged: bool,
                 cache: Cache = NO_CACHE) -> None:
        self.nodes, self.labels, self.hcols, self.converged, self.cache = nodes, labels, hcols, converged, cache

    @classmethod
    def build(cls, identities: DataFrame, keys: tuple[str, ...] = ("id1", "id2"), rounds: int = 8,
              cache: Cache = NO_CACHE, label_key: bytes | None = None) -> LinkGraph:
        """`label_key` keys the labels of identities that are not labelled yet (identity_hashes)."""
        used = [k for k in ("id1", "id2") if k in keys]
        if not used:
            raise ValueError("keys: use id1 and/or id2")
        hcols = [f"__h{k}" for k in used]
        if set(HASH_COLUMNS) <= set(identities.columns):
            hashed = identities
        elif label_key is None:
            raise ValueError("identities without labels need the label key (linkage.link_key)")
        else:
            hashed = identity_hashes(identities, label_key)
        nodes = cache.keep(hashed.select("node", *hcols))  # read twice: for the edges and for the final labels
        edges = nodes.where(cls._present(hcols)).select(*hcols).distinct()
        labels, converged = _propagate(edges, hcols, rounds, cache)
        return cls(nodes, labels, hcols, converged, cache)

    @staticmethod
    def _present(hcols: list[str]) -> Column:
        present = F.lit(False)
        for h in hcols:
            present = present | F.col(h).isNotNull()
        return present

    def pids(self, key: bytes, unlinked: str = "singleton", node_pseudonym_key: bytes | None = None,
             node_pseudonym: str = "node_pseudonym", node_pseudonym_bits: int = 256) -> DataFrame:
        """`(node, pid, linked, converged[, node_pseudonym])`, lazy (see link_patients)."""
        check_unlinked(unlinked)
        on = [self.nodes[h].eqNullSafe(self.labels[h]) for h in self.hcols]
        joined = self.nodes.join(F.broadcast(self.labels), on, "left").select("node", "__label")
        joined, pads = with_keys(joined, {"pid": derive_key(key, "pid-label"),
                                          **({"node": node_pseudonym_key} if node_pseudonym_key else {})})
        linked = F.col("__label").isNotNull()
        single = hmac_sha256_hex(F.concat(F.lit("unlinked\u001f"), F.col("node")), pads["pid"], PSEUDONYM_BITS)
        pid = F.when(linked, hmac_sha256_hex(F.col("__label").cast("string"), pads["pid"], PSEUDONYM_BITS))
        pid = pid.otherwise(single if unlinked == "singleton" else F.lit(None))
        extra = [hmac_sha256_hex(F.col("node"), pads["node"], node_pseudonym_bits).alias(node_pseudonym)] if node_pseudonym_key else []
        return joined.select("node", pid.alias("pid"), linked.alias("linked"), F.lit(self.converged).alias("converged"), *extra)

    def summary(self, unlinked: str = "singleton") -> dict[str, int]:
        """nodes, patients (distinct pids), unlinked nodes and unconverged nodes. A node is linked when
        it has an ID (its edge has a label); every label is one pid and every unlinked node its own
        pid unless unlinked="drop"."""
        row = self.nodes.agg(F.count(F.lit(1)).alias("nodes"),
                             F.sum((~self._present(self.hcols)).cast("long")).alias("unlinked")).first()
        labels = self.labels.agg(F.countDistinct("__label").alias("n")).first()
        assert row is not None and labels is not None
        nodes, alone = int(row["nodes"]), int(row["unlinked"] or 0)
        return {"nodes": nodes, "patients": int(labels["n"]) + (alone if unlinked == "singleton" else 0),
                "unlinked": alone, "unconverged": 0 if self.converged else nodes}

    def free(self) -> None:
        self.cache.free(self.labels)
        self.cache.free(self.nodes)


def _propagate(edges: DataFrame, hcols: list[str], rounds: int, cache: Cache) -> tuple[DataFrame, bool]:
    """Min-label propagation over the edges until stable: (edges + `__label`, converged), kept in
    `cache`; each round's labels are kept until the next round is computed from them."""
    cached = cache.keep(edges.withColumn("__label", _least([F.col(h) for h in hcols])))
    for _ in range(max(rounds, 1)):
        mins = []
        for h in hcols:
            # Edges without this ID are spread by their other ID; their window result is ignored.
            part = Window.partitionBy(F.col(h).isNull(), F.coalesce(F.col(h), *[F.col(o) for o in hcols if o != h]))
            mins.append(F.when(F.col(h).isNotNull(), F.min("__label").over(part)))
        step = cached.withColumn("__prev", F.col("__label")).withColumn("__label", _least([F.col("__label"), *mins]))
        step = cache.keep(step)
        changed = step.where(F.col("__prev") != F.col("__label")).count()  # also computes `step`
        cache.free(cached)
        cached = step
        if changed == 0:
            return cached, True
    return cached, False


def _least(cols: list[Column]) -> Column:
    """least() of one or more columns, nulls skipped (F.least needs two)."""
    return cols[0] if len(cols) == 1 else F.least(*cols)
