import datetime as dt

import pytest
from pyspark.sql import functions as F

from transforms.local import local_frame
from transforms.policy import PolicyError, Rule, TablePolicy
from transforms.release.apply import Context, apply_table, check_schema

CTX = Context({"k1": b"key-one", "k2": b"key-two"}, "k1", hierarchies={"h.csv": {"A1": {"grp": "A"}, "A2": {"grp": "A"}, "A3": {"grp": "A"}}})


def _table(**columns: Rule) -> TablePolicy:
    return TablePolicy("t", "t", columns, {"pid": Rule("patient_id", {"key": None}, "pid")})


def _df(spark):
    rows = [("p1", "山田太郎", "A1", 100, dt.date(1950, 6, 15), dt.date(2025, 3, 1)),
            ("p2", "鈴木花子", "A2", 900000, dt.date(1930, 1, 1), dt.date(2025, 3, 1)),
            ("p3", None, "B9", None, None, dt.date(2025, 3, 1)),
            ("p3", "佐藤", "A1", 5, dt.date(1990, 2, 28), None),
            ("p4", "田中", "A3", 50, dt.date(2000, 1, 1), dt.date(2025, 3, 1))]
    return local_frame(spark, rows, "pid string, name string, code string, points int, birth date, month date")


def test_apply_outputs_only_ruled_columns_and_counts_what_each_rule_did(spark):
    table = _table(
        name=Rule("drop", {}, "name"),
        code=Rule("rare", {"threshold": 2, "file": "h.csv", "key": "code", "levels": ["grp"], "action": "cell",
                           "cumulative_share": None, "blank": ["points"], "level_column": True}, "code"),
        points=Rule("clip", {"lower": None, "upper": 700000, "lower_quantile": None, "upper_quantile": None,
                             "relative_error": 0.001, "by": None}, "points"),
        birth=Rule("age_band", {"at": "month", "width": 5, "top": 90}, "age_band"),
        month=Rule("keep", {}, "month"),
    )
    applied = apply_table(_df(spark), table, CTX)
    assert applied.df.columns == ["pid", "code", "code_level", "points", "age_band", "month"]
    rows = sorted((tuple(r) for r in applied.df.collect()), key=lambda r: tuple("" if v is None else str(v) for v in r))
    assert rows == [
        ("p1", "A1", "code", 100, "70-74", dt.date(2025, 3, 1)),
        ("p2", "A", "grp", 700000, "90+", dt.date(2025, 3, 1)),  # A2 and A3: one patient each, two in group A
        ("p3", None, "suppressed", None, None, dt.date(2025, 3, 1)),  # B9: 1 patient, no group; 点数 blanked
        ("p3", "A1", "code", 5, None, None),
        ("p4", "A", "grp", 50, "25-29", dt.date(2025, 3, 1)),
    ]
    stats = applied.stats()
    assert stats["rows_in"] == 5 and stats["rows_removed"] == 0
    assert stats["columns"]["name"] == {"method": "drop", "output": None, "cells": 4, "changed": 4, "generalized": 0,
                                        "replaced": 0, "perturbed": 0, "suppressed": 0, "removed": 4}
    assert (stats["columns"]["code"]["generalized"], stats["columns"]["code"]["suppressed"]) == (2, 1)
    assert stats["columns"]["points"]["generalized"] == 1
    assert stats["columns"]["code"]["detail"]["suppressed_codes"] == 1
    # an age band always differs from the birth date: changed = cells not suppressed (no row compared)
    birth = stats["columns"]["birth"]
    assert (birth["cells"], birth["changed"], birth["generalized"], birth["suppressed"]) == (4, 3, 3, 1)


def test_record_action_removes_and_counts_rows(spark):
    rule = Rule("rare", {"threshold": 2, "file": None, "key": None, "levels": None, "action": "record",
                         "cumulative_share": None, "blank": None, "level_column": False}, "code")
    table = _table(name=Rule("drop", {}, "name"), code=rule, points=Rule("keep", {}, "points"),
                   birth=Rule("drop", {}, "birth"), month=Rule("drop", {}, "month"))
    applied = apply_table(_df(spark), table, CTX)
    assert sorted(r["code"] for r in applied.df.collect()) == ["A1", "A1"]
    assert applied.stats()["rows_removed"] == 3


def test_req15_pseudonyms_are_keyed_per_domain_and_key_id(spark):
    df = local_frame(spark, [("p1", "１２３"), ("p2", "123"), ("p3", None)], "pid string, card string")
    def run(**params):
        t = _table(card=Rule("pseudonymize", {"normalize": "digits", "domain": None, "key": None, **params}, "card"))
        return {r["pid"]: r["card"] for r in apply_table(df, t, CTX).df.collect()}
    a, b, c = run(), run(key="k2"), run(domain="other")
    assert a["p1"] == a["p2"] and a["p3"] is None and len(a["p1"]) == 32  # full-width digits normalized first; 128 bits by default
    assert a["p1"] != b["p1"] and a["p1"] != c["p1"]
    full = run(bits=256)
    assert len(full["p1"]) == 64 and full["p1"][:32] == a["p1"]  # 128 bits are the HMAC's first half


def test_req4_runtime_default_deny_names_the_unruled_column(spark):
    with pytest.raises(PolicyError) as err:
        check_schema(_df(spark), _table(name=Rule("drop", {}, "name")))
    assert err.value.key == "tables.t.code" and "no rule" in str(err.value)


def _rule(method: str, out: str, **params) -> Rule:
    from transforms.policy.methods import METHODS, check_params

    filled, err = check_params(METHODS[method], params)
    assert err is None, err
    return Rule(method, filled, out)


def test_every_other_method_through_apply_table(spark):
    ctx = Context({"k1": b"key-one"}, "k1", hierarchies={"h.csv": {"A1": {"grp": "A"}}},
                  prefectures={"東京都": "13", "神奈川県": "14"}, municipalities={"東京都千代田区": "13101"})
    rows = [(i, f"p{i % 3}", dt.date(2025, 1, 1 + i), float(i * 10), "A1" if i % 2 else "Z9", "100-0005",
             "東京都千代田区丸の内1-1" if i % 2 else "神奈川県どこか", "1312345678", 10 + i) for i in range(8)]
    rows.append((8, "p9", None, None, None, None, None, None, None))
    df = local_frame(spark, rows, "line_no int, pid string, d date, v double, code string, post string, addr string, "
                                     "inst string, n int")
    table = TablePolicy("t", "t", {
        "line_no": _rule("drop", "line_no"),
        "d": _rule("date_shift", "d_shifted", max_days=3),
        "v": _rule("noise", "v_noisy", scale=1.0, seed=7),
        "code": _rule("hierarchy", "grp", file="h.csv", key="code", level="grp"),
        "post": _rule("postal_prefix", "postal3"),
        "addr": _rule("address_area", "municipality", level="municipality"),
        "inst": _rule("institution_area", "inst_pref"),
        "n": _rule("microaggregate", "n_agg", k=4),
    }, {"pid": Rule("patient_id", {"key": None}, "pid")})
    applied = apply_table(df, table, ctx, row_id=F.col("line_no").cast("string"))
    out = applied.df.collect()
    assert len(out) == 9
    shifted = {r["pid"]: r for r in out}
    assert {r["postal3"] for r in out} == {"100", None}
    assert {r["municipality"] for r in out} == {"13101", None}
    assert {r["inst_pref"] for r in out} == {"13", None}
    assert {r["grp"] for r in out} == {"A", None}
    assert sorted(r["n_agg"] for r in out if r["n_agg"] is not None) == [12] * 4 + [16] * 4  # means of 10-13, 14-17
    assert shifted["p9"]["v_noisy"] is None and all(r["v_noisy"] is not None for r in out if r["pid"] != "p9")
    stats = applied.stats()["columns"]
    assert stats["v"]["perturbed"] == 8 and stats["d"]["perturbed"] >= 0 and stats["addr"]["generalized"] == 4
    assert stats["code"]["suppressed"] == 4  # Z9 is in no hierarchy


def test_req22_date_shift_keeps_each_patients_intervals(spark):
    df = local_frame(spark, [("p1", dt.date(2025, 1, 1)), ("p1", dt.date(2025, 1, 31)), ("p2", dt.date(2025, 1, 1))],
                               "pid string, d date")
    table = TablePolicy("t", "t", {"d": _rule("date_shift", "d", max_days=10)}, {"pid": Rule("patient_id", {"key": None}, "pid")})
    rows = sorted((r["pid"], r["d"]) for r in apply_table(df, table, CTX).df.collect())
    assert (rows[1][1] - rows[0][1]).days == 30
    originals = [dt.date(2025, 1, 1), dt.date(2025, 1, 31), dt.date(2025, 1, 1)]
    assert all(abs((d - o).days) <= 10 for (_, d), o in zip(rows, originals, strict=True))


def test_req15_no_keyed_rule_puts_key_material_into_the_plan(spark):
    """The Spark UI and event logs show every plan with its literals; an HMAC pad there is the key."""
    from transforms.columns.pseudonym import _pads
    from transforms.identity.linkage import derive_key, link_patients

    table = _table(
        name=Rule("pseudonymize", {"key": "k2", "normalize": "kana", "domain": None}, "name_id"),
        code=Rule("keep", {}, "code"),
        points=Rule("noise", {"scale": 2.0, "distribution": "laplace", "seed": 1, "round_to": None, "key": None}, "points"),
        birth=Rule("drop", {}, "birth"),
        month=Rule("date_shift", {"max_days": 30, "key": None}, "month"),
    )
    df = _df(spark)
    applied = apply_table(df, table, CTX, F.col("pid"))
    identities = df.select(F.col("pid").alias("node"), F.col("name").alias("id1"), F.lit(None).cast("string").alias("id2"))
    linked = link_patients(identities, b"master-key", ("id1",), node_pseudonym_key=b"node-key")
    try:
        plans = " ".join(d._jdf.queryExecution().toString() for d in (applied.df, linked)).upper()
        assert len(applied.df.collect()) == 5 and linked.where("pid IS NULL").count() == 0  # the rules ran
    finally:
        linked.unpersist()
    used = [derive_key(b"key-two", "column:name"), derive_key(b"key-one", "noise"), derive_key(b"key-one", "date_shift"),
            derive_key(b"master-key", "pid-label"), b"node-key"]
    assert all(pad.hex().upper() not in plans for key in used for pad in _pads(key))


def test_req19_quantile_bounds_come_from_the_source_table_when_given(spark):
    """anonymize passes the bronze table as `source`: the same rows without the pid joins, so the
    quantiles need no join. The bounds, and so the output, are those of `df` itself."""
    rule = Rule("clip", {"lower": None, "upper": None, "lower_quantile": None, "upper_quantile": 0.5,
                         "relative_error": 0.001, "by": "code"}, "points")
    table = _table(name=Rule("drop", {}, "name"), code=Rule("keep", {}, "code"), points=rule,
                   birth=Rule("drop", {}, "birth"), month=Rule("drop", {}, "month"))
    df = _df(spark)
    plain = sorted(tuple(r) for r in apply_table(df, table, CTX).df.fillna(-1).collect())
    sourced = apply_table(df, table, CTX, source=df.drop("pid"))
    assert sorted(tuple(r) for r in sourced.df.fillna(-1).collect()) == plain
    assert ("p2", "A2", 900000) in plain and ("p3", "A1", 5) in plain  # A1: P50 of (100, 5) is 5
    assert ("p1", "A1", 5) in plain
    # a source other than the frame's rows would change the bounds: the source is what is measured
    other = local_frame(spark, [("A1", 1)], "code string, points int")
    assert ("p1", "A1", 1) in [tuple(r) for r in apply_table(df, table, CTX, source=other).df.collect()]
