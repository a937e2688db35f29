import pytest
from pyspark.sql import functions as F

from transforms.columns.perturb import add_noise, microaggregate, rank_swap
from transforms.columns.pseudonym import with_keys
from transforms.local import local_frame
from transforms.release.rare import SUPPRESSED, apply_rare, plan_rare

HIER = {
    "A01": {"icd10": "E11", "block": "E10-E14"},
    "A02": {"icd10": "E11", "block": "E10-E14"},
    "A03": {"icd10": "E12", "block": "E10-E14"},
    "A04": {"icd10": "E13", "block": "E10-E14"},
    "B01": {"icd10": "G71", "block": "G70-G73"},
}


def _diagnoses(spark):
    # COMMON: 3 patients; A01+A02: 1 patient each (E11 -> 2 patients); A03, A04: 1 patient each, alone
    # in E12 and E13, together in block E10-E14; B01: alone in its block -> suppressed. Threshold 2.
    rows = [("p1", "COMMON"), ("p2", "COMMON"), ("p3", "COMMON"), ("p1", "A01"), ("p1", "A01"), ("p2", "A02"),
            ("p3", "A03"), ("山田", "B01"), ("p4", None), ("p4", "A04")]
    return local_frame(spark, [(i, p, c) for i, (p, c) in enumerate(rows)], "i int, pid string, code string")


def test_req18_rare_codes_climb_until_threshold_else_suppressed(spark):
    df = _diagnoses(spark)
    plan = plan_rare(df, "code", 2, hierarchy=HIER, levels=["icd10", "block"])
    assert plan.moves == {"A01": ("E11", "icd10"), "A02": ("E11", "icd10"), "A03": ("E10-E14", "block"),
                          "A04": ("E10-E14", "block"), "B01": (None, SUPPRESSED)}
    assert plan.summary == {"codes": 6, "rare_codes": 5, "threshold": 2, "generalized": {"icd10": 2, "block": 2}, "suppressed_codes": 1}
    out = apply_rare(df, "code", plan, "out", "lvl").collect()
    got = {r["i"]: (r["out"], r["lvl"]) for r in out}
    assert got == {0: ("COMMON", "code"), 1: ("COMMON", "code"), 2: ("COMMON", "code"), 3: ("E11", "icd10"), 4: ("E11", "icd10"),
                   5: ("E11", "icd10"), 6: ("E10-E14", "block"), 7: (None, SUPPRESSED), 8: (None, None), 9: ("E10-E14", "block")}
    # Independent check: every released value is held by >= 2 distinct patients.
    held: dict[str, set[str]] = {}
    for r in out:
        if r["out"] is not None:
            held.setdefault(r["out"], set()).add(r["pid"])
    assert min(len(v) for v in held.values()) >= 2


def test_req18_without_hierarchy_every_rare_code_is_suppressed(spark):
    df = _diagnoses(spark)
    plan = plan_rare(df, "code", 2)
    assert set(plan.moves) == {"A01", "A02", "A03", "A04", "B01"} and plan.summary["suppressed_codes"] == 5
    got = sorted(((r["out"] or ""), (r["lvl"] or "")) for r in apply_rare(df, "code", plan, "out", "lvl").collect())
    assert got == [("", ""), *[("", SUPPRESSED)] * 6, *[("COMMON", "code")] * 3]


def test_keyed_noise_is_seeded_and_centered(spark):
    df, keys = with_keys(local_frame(spark, [(i, 100.0 if i % 10 else None) for i in range(2000)], "i int, v double"),
                         {"key": b"key"})
    key = keys["key"]
    a = df.select("i", add_noise(F.col("v"), F.col("i"), key, 5.0, "laplace", 1).alias("n"))
    again = df.select("i", add_noise(F.col("v"), F.col("i"), key, 5.0, "laplace", 1).alias("n"))
    other = df.select("i", add_noise(F.col("v"), F.col("i"), key, 5.0, "laplace", 2).alias("n"))
    rows = {r["i"]: r["n"] for r in a.collect()}
    assert rows == {r["i"]: r["n"] for r in again.collect()}
    assert rows != {r["i"]: r["n"] for r in other.collect()}
    assert all(rows[i] is None for i in range(0, 2000, 10))
    values = [v for v in rows.values() if v is not None]
    mean = sum(values) / len(values)
    mad = sum(abs(v - 100.0) for v in values) / len(values)  # E|Laplace(b)| = b
    assert abs(mean - 100.0) < 0.5 and 4.5 < mad < 5.5
    g = df.select(add_noise(F.col("v"), F.col("i"), key, 2.0, "gaussian").alias("n")).where("n is not null").collect()
    sd = (sum((r[0] - 100.0) ** 2 for r in g) / len(g)) ** 0.5
    assert 1.85 < sd < 2.15
    with pytest.raises(ValueError):
        add_noise(F.col("v"), F.col("i"), key, 1.0, "uniform")


def test_microaggregate_replaces_values_by_group_means(spark):
    df = local_frame(spark, [(1, 1.0), (2, 2.0), (3, 3.0), (4, 10.0), (5, 10.0), (6, 11.0), (7, 50.0), (8, None)], "i int, v double")
    got = {r["i"]: r["m"] for r in microaggregate(df, "v", "m", 3).collect()}
    assert got == {1: 2.0, 2: 2.0, 3: 2.0, 4: 20.25, 5: 20.25, 6: 20.25, 7: 20.25, 8: None}


def test_rank_swap_preserves_values_and_bounds_displacement(spark):
    n = 200
    df, keys = with_keys(local_frame(spark, [(i, float(i)) for i in range(n)] + [(n, None)], "i int, v double"),
                         {"key": b"key"})
    out = {r["i"]: r["s"] for r in rank_swap(df, "v", "s", F.col("i"), keys["key"], p=5).collect()}
    assert out[n] is None
    swapped = [out[i] for i in range(n)]
    assert sorted(swapped) == [float(i) for i in range(n)]  # a permutation: the distribution is exact
    assert max(abs(out[i] - i) for i in range(n)) < n * 0.05  # within p% of the ranks
    assert sum(out[i] != i for i in range(n)) > n / 2


def test_req18_plans_of_several_tables_from_one_query_stay_apart(spark):
    """plan_rare_many tags each rule's pairs: the same code in two tables is counted per table."""
    from transforms.release.rare import RareRequest, plan_rare_many

    df = _diagnoses(spark)
    other = local_frame(spark, [("q1", "A01"), ("q2", "A01"), ("q3", "B01")], "pid string, drug string")
    plans = plan_rare_many({"diagnoses.code": RareRequest(df, "code", 2, HIER, ["icd10", "block"]),
                            "drugs.drug": RareRequest(other, "drug", 2)})
    assert plans["diagnoses.code"].moves == plan_rare(df, "code", 2, hierarchy=HIER, levels=["icd10", "block"]).moves
    assert plans["drugs.drug"].moves == {"B01": (None, SUPPRESSED)}  # A01: 2 patients in this table
    assert plans["drugs.drug"].summary["codes"] == 2


def test_req18_plans_from_unioned_projections_count_only_released_patients(spark):
    """With `released`, the tables' code columns are unioned first and get pid in one step; rows it
    flags (a suppressed or held-back patient) do not count, as with the written frames."""
    from transforms.release.apply import DROP_ROW
    from transforms.release.rare import RareRequest, plan_rare_many

    diag = local_frame(spark, [("r1", "A01"), ("r2", "A01"), ("r3", "A01"), ("r4", "B01"), ("r5", None)],
                                 "receipt_key string, disease_code string")
    drug = local_frame(spark, [("r1", "D1"), ("r2", "D1"), ("r4", "D1"), ("r4", "D2")], "receipt_key string, drug_code string")
    owner = local_frame(spark, [("r1", "p1"), ("r2", "p2"), ("r3", "p3"), ("r4", "p3"), ("r5", "p9")],
                                  "__node string, pid string")

    def released(df):  # pid by node; p3 is suppressed
        out = df.join(owner, "__node", "left")
        return out.withColumn(DROP_ROW, F.col("pid") == "p3")

    project = lambda df, col: df.select(col, F.col("receipt_key").alias("__node"))  # noqa: E731
    plans = plan_rare_many({"diagnoses.disease_code": RareRequest(project(diag, "disease_code"), "disease_code", 2),
                            "drugs.drug_code": RareRequest(project(drug, "drug_code"), "drug_code", 2)}, released=released)
    # A01: p1 and p2 once p3 is removed -> kept; B01 and D2 only p3 (removed) -> not counted at all
    assert plans["diagnoses.disease_code"].moves == {}
    assert plans["diagnoses.disease_code"].summary["codes"] == 1
    assert plans["drugs.drug_code"].moves == {}  # D1: p1, p2
    # the same plan as from frames that carry pid, with the removed rows filtered out
    frame = released(project(diag, "disease_code")).where(~F.col(DROP_ROW))
    assert plan_rare_many({"x": RareRequest(frame, "disease_code", 3)})["x"].moves == \
        plan_rare_many({"x": RareRequest(project(diag, "disease_code"), "disease_code", 3)}, released=released)["x"].moves == \
        {"A01": (None, SUPPRESSED)}


def test_req18_sampled_counting_gives_the_exact_plans(spark):
    """Counting only a subset of the patients for codes common by rows gives the plans of counting
    every pair: a code the subset cannot prove common (one patient with many rows) is recounted,
    rows per code stay exact for the cumulative-share rule, and removed patients never count."""
    from transforms.release.apply import DROP_ROW
    from transforms.release.rare import RareRequest, plan_rare_many

    rows = [(f"p{i}", "A01") for i in range(60)]  # common: 60 patients
    rows += [("p0", "B01")] * 40  # common by rows (40 >= 2 * 2 * 4), one patient: rare
    rows += [("p10", "D01")] * 20 + [("p11", "D01")] * 20  # common by rows, 2 patients: recounted unless both sampled
    rows += [("p1", "A011"), ("p2", "A011"), ("p3", "A012")]  # few rows: counted exactly
    rows += [(f"q{i}", "B02") for i in range(3)] + [(f"q{i}", "C01") for i in range(20)]  # q* are removed
    rows += [(None, "A01"), ("p5", None)]
    df = local_frame(spark, rows, "pid string, code string")
    removed = lambda d: d.withColumn(DROP_ROW, F.col("pid").startswith("q"))  # noqa: E731
    kept = removed(df).where(~F.col(DROP_ROW))
    hier = {**HIER, "B01": {"icd10": "B01", "block": "B00-B09"}, "A011": {"icd10": "A01", "block": "A00-A09"},
            "A012": {"icd10": "A01", "block": "A00-A09"}}
    for share in (None, 0.05):
        req = lambda frame, share=share: RareRequest(frame, "code", 2, hier, ["icd10", "block"], share)  # noqa: E731
        exact = plan_rare_many({"t": req(kept)}, sample=1)["t"]
        for sample in (2, 5):
            assert plan_rare_many({"t": req(kept)}, sample=sample, rows_per_patient=4)["t"] == exact
            assert plan_rare_many({"t": req(df.select("code", "pid"))}, released=removed, sample=sample,
                                  rows_per_patient=4)["t"] == exact
    assert exact.moves["B01"] == (None, SUPPRESSED) and exact.moves["A011"] == ("A01", "icd10")
    assert "A01" not in exact.moves and "D01" not in exact.moves and "B02" not in exact.moves
    assert exact.summary["codes"] == 5
