"""k-anonymity of the release table `patients` in the anonymize pipeline, on tiny literal frames
(issue 5 item 3; requirements 21-22). The whole pipeline run is in test_kanon_medical.py."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from pycanon.anonymity import k_anonymity, l_diversity
from pyspark.sql import functions as F

from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import ConfigError, InputError, RefusedError
from jobs.stages.release.anonymize import release_errors
from jobs.stages.release.plan import plan
from jobs.stages.release.policy_files import load_policy, qi_hierarchies
from transforms.columns.dates import age_band
from transforms.local import local_frame
from transforms.policy.catalog import PATIENT_FACTS
from transforms.release.apply import DROP_ROW, Context, apply_table
from transforms.release.kanon_stage import kanon_stage
from transforms.release.qi_hierarchies import age_band_hierarchy, area_rows

REPO = Path(__file__).resolve().parents[2]
AT = dt.date(2025, 1, 1)
FACTS = "pid string, sex string, birth_date date, first_service date, area string, postal_code string, address string"
# p7 (age unknown) and p8 (the only 70-74 in 北海道) are alone in their class at every level below `*`.
PATIENTS = [
    ("p1", "1", dt.date(1960, 5, 1), AT, "13", "100-0001", "東京都千代田区"),
    ("p2", "1", dt.date(1961, 5, 1), AT, "13", None, None),
    ("p3", "2", dt.date(1980, 5, 1), AT, "13", None, None),
    ("p4", "2", dt.date(1981, 5, 1), AT, "13", None, None),
    ("p5", "1", dt.date(1990, 5, 1), AT, "27", None, None),
    ("p6", "1", dt.date(1991, 5, 1), AT, "27", None, None),
    ("p7", "2", None, AT, "27", None, "大阪府大阪市"),
    ("p8", "1", dt.date(1950, 5, 1), AT, "01", None, None),
]
CLAIMS = [("p1", "r1"), ("p7", "r2"), ("p7", "r3"), ("p8", "r4"), ("p3", "r5"), (None, "r6")]


def _policy(**params):
    policy, path = load_policy(REPO / "conf" / "policies" / "anonymized.yaml")
    return replace(policy, params=replace(policy.params, **params)), path


def _stage(spark, patients=PATIENTS, **params):
    policy, path = _policy(**params)
    frames = {PATIENT_FACTS: local_frame(spark, patients, FACTS),
              "receipts": local_frame(spark, CLAIMS, "pid string, receipt_key string")}
    with release_errors(policy, path):  # the job's exit codes for what the stage raises
        return kanon_stage(frames, policy, Context({}, "none"), qi_hierarchies(policy, policy.params.quasi_identifiers)), policy


def _released(stage):
    df = apply_table(stage.frames[PATIENT_FACTS], stage.policy.tables[PATIENT_FACTS], Context({}, "none"), F.col("pid"))
    return df.df.toPandas()


def test_req21_age_hierarchy_equals_the_age_band_rule_at_every_width(spark):
    hier = age_band_hierarchy(5, 90)
    births = [(dt.date(2025 - a, 1, 1),) for a in range(0, 106)] + [(None,)]
    df = local_frame(spark, births, "b date").withColumn("at", F.lit(dt.date(2025, 6, 1)))
    cols = [age_band(F.col("b"), F.col("at"), 5 * 2**lv, 90).alias(f"w{lv}") for lv in range(3)]
    for row in df.select(*cols).collect():
        leaf = hier.leaf_index["" if row["w0"] is None else row["w0"]]
        for lv in range(3):
            assert hier.label(lv, leaf) == (row[f"w{lv}"] or ""), (row, lv)
        assert hier.label(3, leaf) == "*"


def test_req21_req22_suppressed_patients_and_all_their_rows_are_removed(spark):
    stage, _ = _stage(spark, k=2, suppression_limit=0.3)
    rec_levels = stage.solution.summary["levels"]
    assert rec_levels == [0, 0, 0] and stage.suppressed == 2
    out = _released(stage)
    assert sorted(out["pid"]) == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert k_anonymity(out.fillna("∅"), ["age_band", "sex", "area"]) == 2  # independent check (pycanon)
    receipts = stage.frames["receipts"]
    kept = sorted(r["receipt_key"] for r in receipts.where(~F.col(DROP_ROW)).collect())
    assert kept == ["r1", "r5", "r6"]  # p7's two claims and p8's one are gone; the pid-less row is not
    flagged = receipts.where(F.col("__removed_by_kanon")).count()  # apply_table counts this flag as it writes
    assert flagged == 3
    record = stage.record([{"table": "patients", "rows": len(out)}], {"receipts": {"rows_in": 6, "rows_removed_by": {"kanon": 3}}})
    assert record["suppressed_rows"] == {"patients": 2, "receipts": 3}
    assert record["levels"] == {"age_band": 0, "sex": 0, "area": 0} and record["k"] == 2
    m = record["metrics"]
    assert (m["patients_before"], m["patients_released"], m["suppressed_share"]) == (8, 6, 0.25)
    assert (m["prosecutor_risk_max_before"], m["prosecutor_risk_max_after"]) == (1.0, 0.5)
    assert m["share_below_k_before"] == 0.25 and m["sample_uniques_before"] == 2 and m["sample_uniques_after"] == 0
    assert m["loss"] == pytest.approx(0.25) and m["average_class_size"] == 2.0 and m["discernibility"] == 3 * 2**2 + 2 * 8
    stage.free()


def test_req21_without_suppression_the_patients_are_generalized_until_k_holds(spark):
    stage, _ = _stage(spark, k=2, suppression_limit=0.0)
    assert stage.suppressed == 0 and "__removed_by_kanon" not in stage.frames["receipts"].columns  # nothing to remove
    levels = stage.solution.summary["levels"]
    assert levels[0] == 3  # p7's unknown age joins the others only at `*`
    out = _released(stage)
    assert len(out) == 8 and k_anonymity(out.fillna("∅"), ["age_band", "sex", "area"]) >= 2
    assert set(out["age_band"]) == {"*"}
    with pytest.raises(RuntimeError, match="must add up"):
        stage.record([{"table": "patients", "rows": 7}])
    stage.free()


def test_req21_unknown_values_stay_null_and_form_their_own_class(spark):
    twins = [(f"q{i}", None, None, AT, None, None, None) for i in range(3)]
    stage, _ = _stage(spark, patients=PATIENTS[:6] + twins, k=2, suppression_limit=0.0)
    out = _released(stage)
    assert stage.solution.summary["levels"] == [0, 0, 0] and stage.suppressed == 0
    nulls = out[out["pid"].str.startswith("q")]
    assert nulls[["age_band", "sex", "area"]].isna().all().all() and len(nulls) == 3
    stage.free()


def test_req21_missing_hierarchy_is_a_config_error_before_spark_work(tmp_path, monkeypatch):
    """The anonymize plan reads the quasi-identifiers' hierarchies: without one, exit 2 naming it."""
    hierarchies = tmp_path / "hierarchies"
    shutil.copytree(REPO / "conf" / "hierarchies", hierarchies)
    (hierarchies / "patients_hierarchy_sex.csv").unlink()
    text = (REPO / "conf" / "policies" / "anonymized.yaml").read_text(encoding="utf-8")
    assert "\nhierarchies: conf/hierarchies\n" in text
    policy = tmp_path / "anonymized.yaml"
    policy.write_text(text.replace("\nhierarchies: conf/hierarchies\n", f"\nhierarchies: {hierarchies}\n"), encoding="utf-8")
    monkeypatch.setenv("TOKUMEI_KEY_DEMO", "a-test-only-key-not-a-secret-0123456789")
    conf = REPO / "conf" / "pipeline.yaml"
    with pytest.raises(ConfigError, match=r"params\.quasi_identifiers: .*no hierarchy for quasi-identifier 'sex'"):
        plan(load_pipeline(conf), str(conf), "anonymized", str(policy), None, str(REPO / "conf" / "recipients.yaml"))


def test_req21_value_missing_from_a_hierarchy_names_it(spark):
    odd = [*PATIENTS[:-1], ("p9", "9", dt.date(1950, 5, 1), AT, "01", None, None)]
    with pytest.raises(InputError, match=r"table patients: .*patients_hierarchy_sex.csv: column 'sex': value '9'"):
        _stage(spark, patients=odd, k=2)


def test_req21_no_generalization_within_the_limit_refuses_the_release(spark):
    with pytest.raises(RefusedError, match="k=100"):
        _stage(spark, k=100, suppression_limit=0.0)



def test_req21_distinct_l_diversity_where_the_policy_configures_it(spark):
    policy, path = _policy()
    params = SimpleNamespace(**{**policy.params.__dict__, "quasi_identifiers": ("age_band", "sex"), "k": 2,
                                "suppression_limit": 0.3, "l": 2, "sensitive": "area"})
    frames = {PATIENT_FACTS: local_frame(spark, PATIENTS, FACTS)}
    stage = kanon_stage(frames, replace(policy, params=params), Context({}, "none"), qi_hierarchies(policy, params.quasi_identifiers))
    out = _released(stage).fillna("∅")
    record = stage.record([{"table": "patients", "rows": len(out)}])
    assert (record["l"], record["sensitive"]) == (2, "area") and record["quasi_identifiers"] == ["age_band", "sex"]
    assert k_anonymity(out, ["age_band", "sex"]) >= 2 and l_diversity(out, ["age_band", "sex"], ["area"]) >= 2
    stage.free()


def test_req21_a_carrier_column_is_recoded_with_the_patients_hierarchy_at_the_chosen_level(spark):
    """receipts.pref_code carries `area`: at level 1 the 都道府県 becomes its 地方; a code outside the
    hierarchy is released as `*`, never as itself; null stays null."""
    from transforms.kanon.hierarchy import parse_hierarchy
    from transforms.release.kanon import recode_carriers, released_labels

    area = parse_hierarchy("area", area_rows(["01", "13", "27"]), "test")
    df = local_frame(spark, [("13", "x"), ("01", "y"), ("99", "z"), (None, "w")], "pref_code string, other string")
    out, obs = recode_carriers(df, {"pref_code": released_labels(area, 1)}, "receipts")
    assert [tuple(r) for r in out.collect()] == [("関東", "x"), ("北海道", "y"), ("*", "z"), (None, "w")]
    assert obs.get == {"pref_code": 3}
    same, _ = recode_carriers(df, {"pref_code": released_labels(area, 0)}, "receipts")
    assert [r[0] for r in same.collect()] == ["13", "01", "*", None]
