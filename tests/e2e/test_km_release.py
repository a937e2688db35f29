"""(k, k^m)-anonymity end to end (issue 16 acceptance; requirements 21-22, 規則34条5号): the shipped
anonymized policy, checked from outside on the staged release's own tables; the same check fails on
the release made without params.km; a violation planted after validation makes validate exit 1 and
publish refuse; the report shows the risk and the loss in Japanese, self-contained.

The same exhaustive check at 20,000 patients x 12 months: bench/km_bench.py (minutes, not in CI).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from helpers.pipeline import KEY, RID
from helpers.policies import anonymized_policy
from pyspark.sql import functions as F

from bench.km_exhaustive import release_items, singled_out
from jobs import anonymize, publish, validate

QI = ["age_band", "sex", "area"]


@pytest.fixture(scope="module")
def staged(spark, pipeline, tmp_path_factory):
    """A copy of the shared pipeline's warehouse (tests/e2e/conftest.py): its release `e2e` was staged with
    params.km at a suppression limit of 0.6 (a few hundred patients share few items; bench/km_bench.py runs
    the shipped limit at 20,000 patients), validated and published; `km-off` is the same bronze staged
    here without params.km."""
    tmp = tmp_path_factory.mktemp("km")
    wh = tmp / "wh"
    shutil.copytree(pipeline.warehouse, wh)
    mp = pytest.MonkeyPatch()
    mp.setenv("TOKUMEI_KEY_DEMO", KEY)
    assert anonymize.main(["--warehouse", str(wh), "--release-id", "km-off", "--profile", "anonymized",
                           "--policy", str(anonymized_policy(tmp, None)),
                           "--extraction-date", pipeline.extraction.isoformat(),
                           "--conf", str(pipeline.warehouse.parent / "pipeline.yaml")]) == 0
    yield wh
    mp.undo()


def _record(wh: Path, rid: str) -> dict:
    return json.loads((wh / "staging" / rid / "anonymize.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_req22_no_patient_is_singled_out_by_their_quasi_identifiers_and_any_two_items(spark, staged):
    record = _record(staged, RID)
    k, m = record["km"]["k"], record["km"]["m"]
    assert (k, m) == (10, 2) and record["km"]["item_rows_suppressed"] <= 0.6 * record["km"]["item_rows"]
    patients, items = release_items(spark, staged / "staging" / RID / "tables", QI)
    assert sum(map(len, items.values())) > 100  # the check looks at real items, not an empty table
    assert singled_out(patients, items, k, m) == {1: set(), 2: set()}
    # the same data released without (k, k^m): most patients are singled out by one item
    patients, items = release_items(spark, staged / "staging" / "km-off" / "tables", QI)
    exposed = singled_out(patients, items, k, m)
    assert len(exposed[1]) > 0.5 * len(patients) and exposed[2]
    # the record's own risk measurement agrees with the outside check
    assert record["risk"]["after"]["items_2"]["singled_out_share"] == 0.0
    assert record["risk"]["before"]["items_1"]["singled_out_share"] > 0.5


@pytest.mark.slow
def test_req22_every_month_column_is_released_at_the_items_period(spark, staged):
    """A join on receipt_id or pid must not give back a finer month than the items were released at."""
    record = _record(staged, RID)
    level = record["km"]["levels"]["time"]
    starts = {"month": set(range(1, 13)), "quarter": {1, 4, 7, 10}, "half": {1, 7}, "year": {1}}[level]
    released = {o["source"]: o["table"] for o in record["outputs"]}
    checked = []
    for table, columns in record["km"]["time_carriers"].items():
        if table not in released:  # a table of the policy this data has no rows for (e.g. 調剤 dispensings)
            continue
        df = spark.read.format("delta").load(str(staged / "staging" / RID / "tables" / released[table]))
        for col in columns:
            months = {r[0] for r in df.select(F.month(col)).where(F.col(col).isNotNull()).distinct().collect()}
            assert months <= starts, (table, col, level, months)
            checked.append(table)
    assert {"receipts", "diagnoses"} <= set(checked)


@pytest.mark.slow
def test_req22_a_violation_planted_after_anonymize_fails_validation_and_publish_refuses(spark, staged, monkeypatch):
    monkeypatch.setenv("TOKUMEI_KEY_DEMO", KEY)
    rid = "km-planted"
    shutil.copytree(staged / "staging" / RID, staged / "staging" / rid)
    record = _record(staged, rid)
    record["release_id"] = rid
    (staged / "staging" / rid / "anonymize.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    tables = staged / "staging" / rid / "tables"
    one = spark.read.format("delta").load(str(tables / "diagnoses")).limit(1)
    one.withColumn("disease_code", F.lit("Z99.9-planted")).write.format("delta").mode("append").save(str(tables / "diagnoses"))
    assert validate.main(["--warehouse", str(staged), "--release-id", rid, "--no-docs"]) == 1
    summary = json.loads((staged / "staging" / rid / "validation" / "summary.json").read_text(encoding="utf-8"))
    assert any("expect_item_combinations_held_by_at_least_k" in f for f in summary["failed"])
    assert publish.main(["--warehouse", str(staged), "--release-id", rid]) == 1
    assert not (staged / "releases" / rid / "manifest.json").exists()


@pytest.mark.slow
def test_req22_the_report_shows_risk_and_loss_before_and_after_in_japanese(staged):
    html = (staged / "releases" / RID / "report.html").read_text(encoding="utf-8")
    for label in ("攻撃者の知識に対する再識別リスク", "＋受診した月の集合", "＋傷病名の集合", "任意の2項目",
                  "項目列ごとの情報損失", "抑制した項目行の割合", "処理前", "処理後"):
        assert label in html, label
    assert html.count("<svg") >= 3 and "singled_out_share" not in html and "items_2" not in html
    assert not re.search(r"""(src|href)=['"]?https?:""", html)  # self-contained: nothing fetched
    manifest = json.loads((staged / "releases" / RID / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["risk"]["after"]["items_1"]["singled_out_share"] == 0.0 and manifest["km"]["levels"]
