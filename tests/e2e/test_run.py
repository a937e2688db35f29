"""`tokumei run` end to end on the real UKE file written outside this project (issue 2 acceptance), with
a small generated set beside it (the `uke_run` fixture).

The file holds 75 receipts of a handful of patients, the generated set 30 receipts of 40 people: the
shipped (k, k^m) rule cannot hold on them (no item combination is shared by 10 patients), so the
shipped policy refuses the release, and the run that publishes uses the shipped policy without
params.km (k-anonymity over the demographics only)."""

import json

import pytest
from deltalake import DeltaTable
from helpers.pipeline import uke_run_receipts

from jobs import cli


@pytest.mark.slow
def test_req22_the_shipped_policy_refuses_a_release_it_cannot_make_km_anonymous(uke_run):
    """Too few patients for (k=10, m=2): refused with nothing staged or published under that id."""
    wh = uke_run.parents[1]
    assert not (wh / "releases" / "fixture-km").exists()
    assert not (wh / "staging" / "fixture-km" / "anonymize.json").exists()


@pytest.mark.slow
def test_req4_req11_req14_real_uke_file_runs_to_a_published_release(uke_run, uke_run_generated):
    manifest = json.loads((uke_run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["release_id"] == "fixture-1"
    receipts = DeltaTable(str(uke_run / "tables" / "receipts")).to_pyarrow_table()
    # every RE of the fixture (uke_format.md sample) and of the generated files
    assert receipts.num_rows == uke_run_receipts(uke_run_generated) == 75 + 30
    assert not {"name", "kana_name", "birth_date", "card_number", "chart_no"} & set(receipts.column_names)
    pids = [p for p in receipts.column("pid").to_pylist()]
    assert all(p and len(p) == 32 and set(p) <= set("0123456789abcdef") for p in pids)
    diagnoses = DeltaTable(str(uke_run / "tables" / "diagnoses")).to_pyarrow_table()
    assert set(diagnoses.column("pid").to_pylist()) <= set(pids)


@pytest.mark.slow
def test_publishing_the_same_release_id_again_is_refused(uke_run, capsys, monkeypatch):
    monkeypatch.delenv("TOKUMEI_KEY_DEMO", raising=False)  # refused before any key is looked up
    code = cli.main(["run", "--input", str(uke_run), "--warehouse", str(uke_run.parents[1]),
                     "--release-id", "fixture-1"])
    assert code == 1
    assert "already published" in capsys.readouterr().err
