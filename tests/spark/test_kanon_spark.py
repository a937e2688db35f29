"""The Spark halves of transforms/kanon on tiny literal DataFrames (histogram, recoding, metrics, text)."""

from __future__ import annotations

import math

import pytest
from pycanon.anonymity import k_anonymity

from transforms.kanon import (
    encode_histogram,
    lattice_recoding,
    parse_hierarchy,
    qi_histogram,
    recoding_frame,
    risk_metrics,
    search_lattice,
    utility_metrics,
    with_recoded_qis,
)
from transforms.kanon.delimited import FIELDS, QUOTED, join_delimited, split_delimited
from transforms.kanon.histogram import COUNT
from transforms.local import local_frame

SEX = parse_hierarchy("sex", [["男", "*"], ["女", "*"]], "sex.csv")
PREF = parse_hierarchy(
    "pref", [["東京都", "関東", "*"], ["神奈川県", "関東", "*"], ["大阪府", "関西", "*"], ["京都府", "関西", "*"]], "pref.csv"
)
H = {"sex": SEX, "pref": PREF}
ROWS = [(1, "男", "東京都", "風邪"), (2, "男", "東京都", None), (3, "男", "神奈川県", "骨折"), (4, "女", "大阪府", "風邪"),
        (5, "女", "京都府", None), (6, "女", "京都府", "喘息"), (7, "男", "大阪府", "風邪"), (8, "女", "東京都", "骨折")]


@pytest.fixture()
def people(spark):
    return local_frame(spark, ROWS, "id int, sex string, pref string, memo string")


def test_req21_histogram_counts_each_finest_combination(people):
    got = {tuple(r[:2]): r[COUNT] for r in qi_histogram(people, ["sex", "pref"]).collect()}
    assert got == {("男", "東京都"): 2, ("男", "神奈川県"): 1, ("女", "大阪府"): 1, ("女", "京都府"): 2,
                   ("男", "大阪府"): 1, ("女", "東京都"): 1}


def test_histogram_with_sensitive_keeps_null_as_its_own_value(people):
    rows = qi_histogram(people, ["sex"], sensitive="memo").collect()
    assert sorted((r["sex"], r["memo"] or "", r[COUNT]) for r in rows) == [
        ("女", "", 1), ("女", "喘息", 1), ("女", "風邪", 1), ("女", "骨折", 1),
        ("男", "", 1), ("男", "風邪", 2), ("男", "骨折", 1)]


def test_histogram_names_missing_columns(people):
    with pytest.raises(ValueError, match=r"\['age'\] not in the data; available: \['id', 'sex', 'pref', 'memo'\]"):
        qi_histogram(people, ["sex", "age"])


def test_req21_recoding_keeps_order_and_other_columns_and_stars_suppressed(people):
    rows = [tuple(r[:2]) + (r[COUNT],) for r in qi_histogram(people, ["sex", "pref"]).collect()]
    hist = encode_histogram(rows, ["sex", "pref"], H)
    best = search_lattice(hist, H, k=2, suppression_limit=0.25).best
    mapping = recoding_frame(people, lattice_recoding(hist, H, best.levels, k=2))
    out = with_recoded_qis(people, mapping, ["sex", "pref"])
    assert out.columns == ["id", "sex", "pref", "memo"]
    assert [tuple(r) for r in out.orderBy("id").collect()] == [
        (1, "男", "関東", "風邪"), (2, "男", "関東", None), (3, "男", "関東", "骨折"), (4, "女", "関西", "風邪"),
        (5, "女", "関西", None), (6, "女", "関西", "喘息"), (7, "*", "*", "風邪"), (8, "*", "*", "骨折")]
    released = out.toPandas()
    assert k_anonymity(released[released.sex != "*"], ["sex", "pref"]) == 3  # independent check (pycanon)
    util = utility_metrics(out, ["sex", "pref"], H, levels=best.levels)
    assert util.loss == pytest.approx(best.loss) and util.loss == pytest.approx(math.sqrt(1.25 * 1.5) - 1)
    assert (util.suppressed, util.classes, util.discernibility) == (2, 2, 9 + 9 + 2 * 8)
    after = risk_metrics(out, ["sex", "pref"], k=2)
    assert (after.records, after.suppressed, after.prosecutor_risk_max, after.records_below_k) == (6, 2, 1 / 3, 0)


def test_risk_metrics_before_treatment_hand_computed(people):
    risk = risk_metrics(people, ["sex", "pref"], k=2)
    assert (risk.records, risk.classes, risk.records_below_k, risk.sample_uniques) == (8, 6, 4, 4)
    assert (risk.prosecutor_risk_max, risk.prosecutor_risk_mean, risk.share_below_k) == (1.0, 0.75, 0.5)


def test_utility_metrics_refuses_values_outside_the_hierarchy(people):
    with pytest.raises(ValueError, match=r"released value '東京都' of 'pref' is not in its hierarchy"):
        utility_metrics(people, ["pref"], H, levels=[1])


def test_split_and_join_delimited_round_trip_and_flag_bad_lines(spark):
    lines = local_frame(spark, [("a;b;c",), ("男;;東京都",), ("",), ("x;y",), ('"q";1;2',), ("a;b;c",)], "value string")
    table = split_delimited(lines, ["a", "b", "c"], ";", header_line="a;b;c")
    got = [(r["a"], r["b"], r["c"], r[FIELDS], r[QUOTED]) for r in table.collect()]
    assert got == [("男", "", "東京都", 3, False), ("x", "y", None, 2, False), ('"q"', "1", "2", 3, True)]
    back = join_delimited(table.where(table[FIELDS] == 3), ["a", "b", "c"], ";")
    assert [r.value for r in back.collect()] == ["男;;東京都", '"q";1;2']
    pipes = split_delimited(local_frame(spark, [("1|2",)], "value string"), ["x", "y"], "|", None)
    assert [tuple(r[:2]) for r in pipes.collect()] == [("1", "2")]
