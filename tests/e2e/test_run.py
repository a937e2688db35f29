"""`tokumei run` end to end on the real UKE file written outside this project (issue 2 acceptance).

The file holds 75 receipts of a handful of patients: the shipped (k, k^m) rule cannot hold on it (no
item combination is shared by 10 patients), so the shipped policy refuses the release, and the run that
publishes uses the shipped policy without params.km (k-anonymity over the demographics only)."""

import json
import shutil

import pytest
from deltalake import DeltaTable
from helpers.policies import anonymized_policy

from jobs import cli


@pytest.fixture(scope="module")
def published(spark, tmp_path_factory, uke_sample):
    tmp = tmp_path_factory.mktemp("run")
    (tmp / "in").mkdir()
    shutil.copy(uke_sample, tmp / "in" / uke_sample.name)
    mp = pytest.MonkeyPatch()
    mp.setenv("TOKUMEI_KEY_DEMO", "run-test-key-not-a-secret-0123456789abcdef")
    run = ["run", "--input", str(tmp / "in"), "--warehouse", str(tmp / "wh"), "--no-docs"]
    try:
        refused = cli.main([*run, "--release-id", "fixture-km"])
        code = cli.main([*run, "--release-id", "fixture-1", "--policy", str(anonymized_policy(tmp, None))])
    finally:
        mp.undo()
    assert (refused, code) == (1, 0)
    return tmp / "wh" / "releases" / "fixture-1"


@pytest.mark.slow
def test_req22_the_shipped_policy_refuses_a_release_it_cannot_make_km_anonymous(published):
    """Too few patients for (k=10, m=2): refused with nothing staged or published under that id."""
    wh = published.parents[1]
    assert not (wh / "releases" / "fixture-km").exists()
    assert not (wh / "staging" / "fixture-km" / "anonymize.json").exists()


@pytest.mark.slow
def test_req4_req11_req14_real_uke_file_runs_to_a_published_release(published):
    manifest = json.loads((published / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["release_id"] == "fixture-1"
    receipts = DeltaTable(str(published / "tables" / "receipts")).to_pyarrow_table()
    assert receipts.num_rows == 75  # every RE of the fixture (uke_format.md sample)
    assert not {"name", "kana_name", "birth_date", "card_number", "chart_no"} & set(receipts.column_names)
    pids = [p for p in receipts.column("pid").to_pylist()]
    assert all(p and len(p) == 32 and set(p) <= set("0123456789abcdef") for p in pids)
    diagnoses = DeltaTable(str(published / "tables" / "diagnoses")).to_pyarrow_table()
    assert set(diagnoses.column("pid").to_pylist()) <= set(pids)


@pytest.mark.slow
def test_publishing_the_same_release_id_again_is_refused(published, capsys, monkeypatch):
    monkeypatch.delenv("TOKUMEI_KEY_DEMO", raising=False)  # refused before any key is looked up
    code = cli.main(["run", "--input", str(published), "--warehouse", str(published.parents[1]),
                     "--release-id", "fixture-1"])
    assert code == 1
    assert "already published" in capsys.readouterr().err
