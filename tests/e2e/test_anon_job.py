import json
import shutil
from pathlib import Path

import pytest
from helpers.bronze import TRUTH_BIRTHS, TRUTH_STRINGS
from helpers.policy_conf import write_test_conf
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.anonymize import main

KEY = "a-test-only-key-Ω-not-a-secret-0123456789"


_LEFT: dict[str, set[str]] = {}  # what the staged runs left cached


@pytest.fixture(scope="module")
def staged(spark, tmp_path_factory, bronze_warehouse):
    """A copy of the literal bronze warehouse (tests/conftest.py), staged once per profile (the runs are
    the slow part)."""
    tmp = tmp_path_factory.mktemp("anon")
    shutil.copytree(bronze_warehouse, tmp / "wh")
    paths = write_test_conf(tmp / "conf", km=False)  # 5 patients: the rare rule on diagnoses, (k, k^m) in test_km_release
    mp = pytest.MonkeyPatch()
    mp.setenv("TOKUMEI_KEY_TESTKEY", KEY)
    mp.setenv("TOKUMEI_KEY_RECIPIENT_KEY", KEY + "-recipient")
    registry = tmp / "recipients.yaml"
    registry.write_text("recipients:\n  univ:\n    name: 架空大学\n    type: I\n    certification_id: C-1\n"
                        "    valid_until: 2099-01-01\n    key_id: recipient-key\n", encoding="utf-8")
    wh = str(tmp / "wh")
    cached = _persisted(spark)
    assert main(["--warehouse", wh, "--release-id", "r-anon", "--profile", "anonymized", "--conf", str(paths["conf"])]) == 0
    assert main(["--warehouse", wh, "--release-id", "r-pseudo", "--profile", "pseudonymized", "--recipient", "univ",
                 "--recipients", str(registry), "--conf", str(paths["conf"])]) == 0
    _LEFT["rdds"] = _persisted(spark) - cached
    yield tmp / "wh", paths
    mp.undo()


def _persisted(spark) -> set[str]:
    """The RDDs persisted in the session, except Delta's own caches of table state (Delta keeps and
    replaces those itself; they come with any read of a Delta table)."""
    rdds = spark.sparkContext._jsc.getPersistentRDDs()
    return {f"{i}: {rdds.get(i).name()}" for i in rdds.keySet()
            if not str(rdds.get(i).name()).startswith("Delta Table State")}


def _tables(spark, wh: Path, rid: str):
    root = wh / "staging" / rid / "tables"
    return {p.name: spark.read.format("delta").load(str(p)) for p in sorted(root.iterdir())}


def _record(wh: Path, rid: str):
    return json.loads((wh / "staging" / rid / "anonymize.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_req4_req11_req14_no_identifier_value_in_any_string_column(spark, staged):
    wh, _ = staged
    for rid in ("r-anon", "r-pseudo"):
        for name, df in _tables(spark, wh, rid).items():
            strings = [f.name for f in df.schema.fields if isinstance(f.dataType, T.StringType)]
            dates = [f.name for f in df.schema.fields if isinstance(f.dataType, T.DateType)]
            for row in df.collect():
                for c in strings:
                    v = row[c]
                    # Short values (記号 "ab", 番号 "23") are compared whole: as substrings they occur in any hex pid.
                    leaked = [t for t in TRUTH_STRINGS if v is not None and (t == v or (len(t) >= 5 and t in v))]
                    assert not leaked, (rid, name, c, v, leaked)
                for c in dates:
                    assert row[c] not in TRUTH_BIRTHS, (rid, name, c)


@pytest.mark.slow
def test_req15_same_pid_in_every_table_and_clinical_link(spark, staged):
    wh, _ = staged
    t = _tables(spark, wh, "r-anon")
    receipts = t["receipts"].select("receipt_id", "pid").collect()
    assert len({r["pid"] for r in receipts}) == 4  # 山田's two receipts share one pid; rE is its own
    claim_pids = {r["pid"] for r in receipts}
    for name in ("insurances", "eligibility", "diagnoses", "drugs", "comments", "symptom_details"):
        assert {r["pid"] for r in t[name].select("pid").collect()} <= claim_pids, name
        assert {r[0] for r in t[name].select("receipt_id").collect()} <= {r["receipt_id"] for r in receipts}
    labs = {r["pid"] for r in t["labs"].collect()}
    yamada = t["diagnoses"].where(F.col("disease_code") == "IV").select("pid").collect()  # 山田 and 佐藤
    assert labs & {r["pid"] for r in yamada}  # H001 (clinical 山田, hiragana kana) links to his claims
    assert t["patients"].count() == 5 and set(labs) <= {r["pid"] for r in t["patients"].collect()}
    pseudo = {r["pid"] for r in _tables(spark, wh, "r-pseudo")["receipts"].collect()}
    assert pseudo.isdisjoint(claim_pids)  # the recipient's own key: unlinkable to the other release


@pytest.mark.slow
def test_req17_no_age_90_or_over_visible_and_bands_at_service(spark, staged):
    wh, _ = staged
    t = _tables(spark, wh, "r-anon")
    bands = {r["age_band"] for r in t["receipts"].collect()}
    assert bands == {"60-64", "90+", "45-49", None}
    patients = {(r["age_band"], r["sex"], r["area"]) for r in t["patients"].collect()}
    assert ("90+", "2", "13") in patients and ("60-64", "1", "13") in patients and ("35-39", "1", "14") in patients
    assert "birth_date" not in t["patients"].columns and "age" not in t["receipts"].columns


@pytest.mark.slow
def test_req18_req37_req38_req41_no_code_below_threshold_and_rare_kept_in_pseudonymized(spark, staged):
    wh, _ = staged
    t = _tables(spark, wh, "r-anon")
    for table, col in (("diagnoses", "disease_code"), ("drugs", "drug_code")):
        held = t[table].where(F.col(col).isNotNull()).groupBy(col).agg(F.countDistinct("pid").alias("n")).collect()
        assert held and min(r["n"] for r in held) >= 2, (table, held)
    dx = {(r["disease_code"], r["disease_code_level"]) for r in t["diagnoses"].collect()}
    assert dx == {("8833421", "code"), ("IV", "icd10_chapter"), (None, "suppressed")}
    drug = {r["drug_code"]: r["points"] for r in t["drugs"].collect()}
    assert drug == {"611200001": 24, None: None} or drug.get(None, "x") is None  # a masked drug's 点数 is blanked
    pseudo = _tables(spark, wh, "r-pseudo")
    assert {r["disease_code"] for r in pseudo["diagnoses"].collect()} >= {"0000999", "2500015"}
    assert {r["admission_date"] for r in pseudo["receipts"].collect()} >= {__import__("datetime").date(2025, 1, 3)}
    assert "phone" not in pseudo["patients"].columns and {r["postal3"] for r in pseudo["patients"].collect()} == {"100", None}


@pytest.mark.slow
def test_req1_req2_req15_staged_record_has_key_id_fingerprint_and_counts_never_the_key(staged):
    wh, _ = staged
    text = (wh / "staging" / "r-anon" / "anonymize.json").read_text(encoding="utf-8")
    assert KEY not in text
    rec = _record(wh, "r-anon")
    assert rec["regime"] == "匿名加工医療情報" and rec["key"]["key_id"] == "testkey" and len(rec["key"]["fingerprint"]) == 16
    assert {o["table"] for o in rec["outputs"]} == {"receipts", "insurances", "eligibility", "diagnoses", "drugs", "comments",
                                                     "symptom_details", "labs", "patients"}
    name = rec["tables"]["receipts"]["columns"]["name"]
    assert (name["method"], name["cells"], name["removed"]) == ("drop", 4, 4)
    dx = rec["tables"]["diagnoses"]["columns"]["disease_code"]
    assert (dx["cells"], dx["generalized"], dx["suppressed"]) == (6, 2, 1)
    assert rec["tables"]["insurances"]["columns"]["points"]["generalized"] == 1  # 900,000点 capped
    assert rec["counts"]["patients"] == 5 and rec["linkage"]["unlinked"] == 1
    assert rec["labels"]["patients"]["age_band"].startswith("年齢（5歳階級")
    assert rec["processing_steps"]["5_dataset_properties"]["status"] == "applied"
    pseudo = _record(wh, "r-pseudo")
    assert pseudo["recipient"]["certification_id"] == "C-1" and pseudo["key"]["key_id"] == "recipient-key"
    assert pseudo["processing_steps"]["4_unique_descriptions"]["status"] == "not_applicable"


def test_release_tables_keep_file_statistics_except_on_pseudonyms(staged):
    """Data skipping statistics (min/max per file) on every released column but pid and the
    pseudonyms: random values skip nothing and cost a fifth of the write."""
    wh, _ = staged
    log = wh / "staging" / "r-anon" / "tables" / "diagnoses" / "_delta_log" / "00000000000000000000.json"
    actions = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    stats = [json.loads(a["add"]["stats"]) for a in actions if "add" in a]
    config = next(a["metaData"]["configuration"] for a in actions if "metaData" in a)
    assert "pid" not in config["delta.dataSkippingStatsColumns"].split(",")
    assert stats and all(s["numRecords"] > 0 for s in stats)
    columns = set().union(*(s["nullCount"] for s in stats))
    assert "disease_code" in columns and not columns & {"pid", "receipt_id"}


def test_a_run_releases_what_it_cached(staged):
    """The run keeps its pid maps and removal lists in one RunCache: afterwards no RDD it persisted is
    left in the session and its scratch files are gone, so a session that runs several releases
    (a test suite, a notebook) does not fill up."""
    wh, _ = staged
    assert _LEFT["rdds"] == set()
    scratch = wh / "bronze" / "_scratch"
    assert not scratch.exists() or not any(p.name.startswith("anonymize-") for p in scratch.iterdir())


def test_table_bytes_come_from_the_delta_log(spark, tmp_path):
    """Join strategies read table sizes from the Delta log (no JVM internals, so Spark Connect works)."""
    from jobs.runtime.delta_io import table_bytes

    path = str(tmp_path / "t")
    spark.createDataFrame([(i, "東京都") for i in range(100)], "n int, s string").write.format("delta").save(path)
    files = sum(f.stat().st_size for f in (tmp_path / "t").glob("*.parquet"))
    assert table_bytes(spark, path) == files > 0
