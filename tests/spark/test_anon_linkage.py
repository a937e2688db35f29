import datetime as dt

import pytest

from transforms.identity.linkage import clinical_identities, derive_key, link_patients, receipt_identities
from transforms.local import local_frame

B = dt.date(1960, 5, 1)


def _claims(spark):
    receipts = local_frame(spark,
        [
            ("r1", "ヤマダ　タロウ", B, "1"),   # insurer A + kana
            ("r2", "ﾔﾏﾀﾞ ﾀﾛｳ", B, "1"),        # same person, half-width kana, new insurer B
            ("r3", None, B, "1"),             # no kana: linked through insurer B only
            ("r4", "スズキ　ハナコ", B, "2"),   # another person
            ("r5", None, None, "1"),          # nothing complete: unlinked
        ],
        "receipt_key string, kana_name string, birth_date date, sex string",
    )
    insurances = local_frame(spark,
        [("r1", 2, "06130011", "１", "２３"), ("r2", 2, "01130012", "ab", "9"), ("r3", 2, " 1130012", "AB", "9"),
         ("r4", 2, "06130011", "１", "２４")],
        "receipt_key string, line_no int, insurer_no string, card_symbol string, card_number string",
    )
    eligibility = local_frame(spark, [("r1", 3, "1")], "receipt_key string, line_no int, branch_no string")
    return receipts, insurances, eligibility


def _literal(df):
    """`df`'s rows as a literal frame: the tests of what comes after linkage read the pids many times,
    and an uncached link_patients plan would run its rounds again for every one of them."""
    return local_frame(df.sparkSession, df.collect(), df.schema)


def _clinical(spark):
    """One clinical patient: the person of receipts r1-r3 (hiragana kana name, sex as "M")."""
    return local_frame(spark,
        [("H001", "1312345678", "やまだ たろう", B, "M", None, None, None, None)],
        "patient_id string, institution_code string, kana_name string, birth_date date, sex string, "
        "insurer_no string, card_symbol string, card_number string, branch_no string",
    )


def test_req15_id1_and_id2_connect_one_patient_across_insurer_change(spark):
    ids = receipt_identities(*_claims(spark))
    pids = {r["node"]: r for r in link_patients(ids, derive_key(b"k", "pid"), rounds=3).collect()}
    assert pids["r1"]["pid"] == pids["r2"]["pid"] == pids["r3"]["pid"]
    assert pids["r4"]["pid"] != pids["r1"]["pid"]
    assert pids["r5"]["linked"] is False and len(pids["r5"]["pid"]) == 32
    assert all(r["converged"] for r in pids.values())
    only_id1 = {r["node"]: r["pid"] for r in link_patients(ids, b"k", keys=("id1",)).collect()}
    assert only_id1["r1"] != only_id1["r2"] and only_id1["r2"] == only_id1["r3"]


def test_req15_different_keys_give_disjoint_pids_and_unlinked_can_be_dropped(spark):
    ids = receipt_identities(*_claims(spark))
    a = {r["pid"] for r in link_patients(ids, derive_key(b"key-a", "pid")).collect()}
    b = {r["pid"] for r in link_patients(ids, derive_key(b"key-b", "pid")).collect()}
    assert a.isdisjoint(b)
    dropped = {r["node"]: r["pid"] for r in link_patients(ids, b"k", unlinked="drop").collect()}
    assert dropped["r5"] is None
    with pytest.raises(ValueError):
        link_patients(ids, b"k", unlinked="keep")


def test_req15_clinical_patients_get_the_claims_pid(spark):
    receipts, insurances, eligibility = _claims(spark)
    clinical = _clinical(spark)
    ids = receipt_identities(receipts, insurances, eligibility).unionByName(clinical_identities(clinical))
    pids = {r["node"]: r["pid"] for r in link_patients(ids, b"k").collect()}
    assert pids["C\u001f1312345678\u001fH001"] == pids["r1"]


def test_req15_with_pid_same_rows_whether_the_map_or_the_table_is_broadcast(spark):
    """with_pid's two join plans (map broadcast to a large table; a small table broadcast to the
    streamed map) attach the same pid and receipt pseudonym to the same rows, unlinked kept."""
    from pyspark.sql import functions as F

    from transforms.release.apply import PRE_RECEIPT_KEY
    from transforms.release.patients import join_map, with_pid

    receipts, insurances, eligibility = _claims(spark)
    pids = _literal(link_patients(receipt_identities(receipts, insurances, eligibility), derive_key(b"k", "pid"),
                                  rounds=3, node_pseudonym_key=b"r", node_pseudonym=PRE_RECEIPT_KEY))
    pid_map = join_map(pids)
    lines = local_frame(spark, [("r1", 1), ("r2", 2), ("r2", 3), ("r5", 4), ("nowhere", 5)], "receipt_key string, n int")
    got = {}
    for small in (False, True):
        out = with_pid(lines, pid_map, drop_unlinked=True, broadcast=True, small_table=small)
        assert out.columns == ["receipt_key", "n", "pid", PRE_RECEIPT_KEY, "__drop_row"]
        got[small] = sorted(tuple(r) for r in out.orderBy(F.col("n")).collect())
    assert got[True] == got[False] and len(got[True]) == 5
    by_n = {r[1]: r for r in got[True]}
    assert by_n[1][2] == by_n[2][2] == by_n[3][2] and by_n[4][2] is not None and by_n[5][2:] == (None, None, True)
    assert by_n[1][3] != by_n[2][3] == by_n[3][3]  # the receipt pseudonym is per receipt


def test_req15_each_table_joins_the_map_nodes_of_its_kind(spark, cache):
    """A claim table builds its hash table from the receipt nodes only, a clinical table from the
    clinical ones (a smaller broadcast each); a frame of both kinds joins the whole map. The pids are
    those of the whole map: a clinical patient linked to a receipt gets that receipt's pid."""
    from transforms.release.patients import CLINICAL, join_map, node_projection, with_pid

    receipts, insurances, eligibility = _claims(spark)
    clinical = _clinical(spark)
    ids = receipt_identities(receipts, insurances, eligibility).unionByName(clinical_identities(clinical))
    pid_map = join_map(link_patients(ids, derive_key(b"k", "pid"), rounds=3, cache=cache), cache)
    assert sorted(r[CLINICAL] for r in pid_map.collect()) == [False] * 5 + [True]
    lines = local_frame(spark, [("r1", 1), ("r4", 2)], "receipt_key string, n int")
    labs = local_frame(spark, [("1312345678", "H001", 3), ("1312345678", "H999", 4)],
                                 "institution_code string, patient_id string, n int")
    claim_out = {r["n"]: r["pid"] for r in with_pid(lines, pid_map, broadcast=True).collect()}
    lab_out = {r["n"]: r["pid"] for r in with_pid(labs, pid_map, broadcast=True).collect()}
    assert lab_out[3] == claim_out[1] != claim_out[2] and lab_out[4] is None
    both = node_projection(lines, "n").unionByName(node_projection(labs, "n"))
    assert {r["n"]: r["pid"] for r in with_pid(both, pid_map, broadcast=True).collect()} == {**claim_out, **lab_out}

    def built_from(df):  # the filters on the map's kind column in the joined plan
        plan = df._jdf.queryExecution().optimizedPlan().toString().splitlines()
        return ["receipts" if f"NOT {CLINICAL}" in line else "clinical" for line in plan if "Filter" in line and CLINICAL in line]

    assert built_from(with_pid(lines, pid_map, broadcast=True)) == ["receipts"]
    assert built_from(with_pid(labs, pid_map, broadcast=True)) == ["clinical"]
    assert built_from(with_pid(both, pid_map, broadcast=True)) == []


@pytest.mark.parametrize("unlinked", ["singleton", "drop"])
def test_req15_patient_map_is_join_map_of_the_pids_with_their_summary(spark, unlinked):
    """patient_map computes the pids as it materializes the map and counts the summary on the linked
    graph: the same map rows and the same counts as join_map over the cached pids."""
    from pyspark.sql import functions as F

    from transforms.policy import Linkage
    from transforms.release.patients import join_map, patient_ids, patient_map

    receipts, insurances, eligibility = _claims(spark)
    bronze = {"receipts": receipts, "insurances": insurances, "eligibility": eligibility}
    key, linkage = derive_key(b"k", "pid"), Linkage(unlinked=unlinked)
    pids = patient_ids(bronze, key, linkage, b"r", 128)
    try:
        expected = sorted(tuple(r) for r in join_map(pids).collect())
        counts = pids.agg(F.count(F.lit(1)).alias("nodes"), F.countDistinct("pid").alias("patients"),
                          F.sum((~F.col("linked")).cast("int")).alias("unlinked")).first()
    finally:
        pids.unpersist()
    pid_map, summary = patient_map(bronze, key, linkage, b"r", 128)
    assert sorted(tuple(r) for r in pid_map.collect()) == expected
    assert summary == {"nodes": counts["nodes"], "patients": counts["patients"], "unlinked": counts["unlinked"], "unconverged": 0}
    assert summary == {"nodes": 5, "patients": 3 if unlinked == "singleton" else 2, "unlinked": 1, "unconverged": 0}


def test_req21_removals_folded_into_the_map_flag_the_same_rows(spark):
    """with_removals: a held-back and a suppressed patient flagged in the pid map give each table the
    rows and flags that joining the lists of removed patients after the map gives."""
    from transforms.release.kanon import mark_suppressed
    from transforms.release.patients import join_map, with_pid, with_removals

    receipts, insurances, eligibility = _claims(spark)
    pids = _literal(link_patients(receipt_identities(receipts, insurances, eligibility), derive_key(b"k", "pid"), rounds=3))
    pid_map = join_map(pids)
    by_node = {r["node"]: r["pid"] for r in pids.collect()}
    held = local_frame(spark, [(by_node["r4"],)], "pid string")
    suppressed = local_frame(spark, [(by_node["r1"],)], "pid string")  # r1, r2, r3: one patient

    def mark(df):
        return mark_suppressed(mark_suppressed(df, held, True, "notice"), suppressed, True, "kanon")

    lines = local_frame(spark, [("r1", 1), ("r2", 2), ("r4", 3), ("r5", 4), ("nowhere", 5)], "receipt_key string, n int")
    for drop in (False, True):
        for small in (False, True):
            folded = with_pid(lines, with_removals(pid_map, mark), drop, broadcast=True, small_table=small)
            joined = mark(with_pid(lines, pid_map, drop, broadcast=True, small_table=small))
            cols = ["n", "pid", "__drop_row", "__removed_by_notice", "__removed_by_kanon"]
            assert sorted(map(tuple, folded.select(cols).collect())) == sorted(map(tuple, joined.select(cols).collect()))
    rows = {r["n"]: r for r in folded.collect()}
    assert rows[1]["__removed_by_kanon"] and not rows[1]["__removed_by_notice"] and rows[3]["__removed_by_notice"]
    assert [rows[n]["__drop_row"] for n in (1, 2, 3, 4, 5)] == [True, True, True, False, True]
    assert with_removals(pid_map, lambda df: df) is pid_map  # nothing flagged: the map itself


def test_req22_every_row_gets_its_patients_first_service_and_one_age_band(spark):
    """with_removals(first_service=...) gives every row its patient's first service month, and an age
    band `at: first_service` is then one band per patient. Patient r1-r3 (born B) turns 40 between
    their claims: a band at each claim's own month would show two bands, and the month between them
    is the birth month (req 22)."""
    from transforms.policy import Rule, TablePolicy
    from transforms.release.apply import Context, apply_table
    from transforms.release.patients import join_map, with_pid, with_removals

    receipts, insurances, eligibility = _claims(spark)
    pids = _literal(link_patients(receipt_identities(receipts, insurances, eligibility), derive_key(b"k", "pid"), rounds=3))
    pid_map = join_map(pids)
    by_node = {r["node"]: r["pid"] for r in pids.collect()}
    first = dt.date(B.year + 40, B.month - 1, 1)  # the month before the 40th birthday
    facts = local_frame(spark, [(by_node["r1"], first), (by_node["r4"], dt.date(2024, 5, 1))],
                                  "pid string, first_service date")
    months = [first, dt.date(first.year + 1, first.month, 1), dt.date(first.year + 2, 1, 1), dt.date(2024, 5, 1), first]
    lines = local_frame(spark, [(f"r{i}", B, m) for i, m in enumerate(months, 1)] + [("nowhere", B, first)],
                                  "receipt_key string, birth_date date, service_month date")
    folded = with_pid(lines, with_removals(pid_map, lambda df: df, facts), broadcast=True)
    got = {r["receipt_key"]: r["__first_service"] for r in folded.collect()}
    assert got == {"r1": first, "r2": first, "r3": first, "r4": dt.date(2024, 5, 1), "r5": None, "nowhere": None}

    def bands(at: str) -> dict[str, str]:
        rules = {"receipt_key": Rule("keep", {}, "receipt_key"),
                 "birth_date": Rule("age_band", {"at": at, "width": 5, "top": 90}, "age_band"),
                 "service_month": Rule("keep", {}, "service_month")}
        table = TablePolicy("receipts", "receipts", rules, {"pid": Rule("patient_id", {"key": None}, "pid")})
        return {r["receipt_key"]: r["age_band"] for r in apply_table(folded, table, Context({}, "k")).df.collect()}

    at_own_month = bands("service_month")
    assert {at_own_month[k] for k in ("r1", "r2", "r3")} == {"35-39", "40-44"}  # the crossing shows
    once = bands("first_service")
    assert once["r1"] == once["r2"] == once["r3"] == "35-39" and once["r5"] is None
