"""The commands that write take their locks before they read the warehouse (jobs/runtime/lock.py, issue 19
item 5), without Spark: every writer refuses while another run holds its lock, `tokumei run` takes each
lock once (its stages re-enter them), erase holds the locks of the staged candidates it removes."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest
from helpers.locks import live_holder

from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import RefusedError
from jobs.runtime.warehouse import Warehouse

KEY = "unit-test-key-not-a-secret-0123456789abcdef"


def _argv(command: str, wh: Path, tmp_path: Path) -> list[str]:
    inputs = tmp_path / "input"
    inputs.mkdir(exist_ok=True)
    return {
        "ingest": ["--input", str(inputs), "--warehouse", str(wh)],
        "publish": ["--warehouse", str(wh), "--release-id", "r1"],
        "run": ["--input", str(inputs), "--warehouse", str(wh), "--release-id", "r1"],
        "erase": ["--warehouse", str(wh), "--institution", "0110149914", "--reason", "test", "--operator", "t"],
    }[command]


@pytest.mark.parametrize(("command", "lock"), [("ingest", "bronze"), ("erase", "bronze"), ("run", "bronze"),
                                               ("publish", "release-r1"), ("run", "release-r1")])
def test_every_writer_refuses_before_spark_while_another_run_holds_its_lock(tmp_path, monkeypatch, capsys, command, lock):
    monkeypatch.setenv("TOKUMEI_KEY_DEMO", KEY)
    wh = tmp_path / "wh"
    path = wh / "_locks" / f"{lock}.lock"
    main = importlib.import_module(f"jobs.{command}").main
    argv = _argv(command, wh, tmp_path)
    with live_holder(path, "tokumei ingest --input /data/2026-04") as who:
        before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
        assert main(argv) == 1  # the unit tier's guard fails the test if Spark starts
        err = capsys.readouterr().err
        assert err.startswith("tokumei: refused: ") and f"pid {who.pid}" in err and str(path) in err
        assert "tokumei ingest --input /data/2026-04" in err
        assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_run_takes_each_lock_once_and_its_stages_enter_them_again(tmp_path, monkeypatch, capsys):
    """`tokumei run` holds both locks; the real stage wrappers (ingest's `execute`, `publish`) re-enter them
    instead of refusing their own run. The stages' insides are stand-ins: no Spark in this tier."""
    from jobs import run
    from jobs.stages.ingest import pipeline
    from jobs.stages.release import publish

    monkeypatch.setenv("TOKUMEI_KEY_DEMO", KEY)
    wh, seen = tmp_path / "wh", {}
    (tmp_path / "input").mkdir()
    command = f"tokumei run --release-id r1 --input {tmp_path / 'input'}"

    def held(stage: str) -> None:
        locks = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in (wh / "_locks").iterdir()}
        seen[stage] = {name: (lock["command"], lock["pid"]) for name, lock in locks.items()}

    monkeypatch.setattr(pipeline, "_execute", lambda *a: held("ingest") or {})
    monkeypatch.setattr(publish, "_publish", lambda *a: held("publish") or {"outputs": []})
    monkeypatch.setattr(run, "get_spark", lambda settings: None)
    monkeypatch.setattr(run, "anonymize", lambda *a: None)
    monkeypatch.setattr(run, "validate", lambda *a, **k: {"success": True, "failed": []})
    assert run.main(["--input", str(tmp_path / "input"), "--warehouse", str(wh), "--release-id", "r1"]) == 0
    both = {"bronze.lock": (command, os.getpid()), "release-r1.lock": (command, os.getpid())}
    assert seen == {"ingest": both, "publish": both}
    assert not (wh / "_locks").exists()  # gone with the empty folders the run created


def _erase_with(monkeypatch, wh: Path, staged: list[str]) -> dict:
    """Run the erase stage with its Spark parts stood in; returns what the locks were while it deleted."""
    from jobs.stages.erase import run as erase_run

    seen: dict = {}

    def deleting(*args) -> dict:
        seen.update({p.name: json.loads(p.read_text(encoding="utf-8"))["command"] for p in (wh / "_locks").iterdir()})
        return {"deleted": True}

    monkeypatch.setattr(erase_run, "staged_holding", lambda *a: staged)
    monkeypatch.setattr(erase_run, "published_holding", lambda *a: [])
    monkeypatch.setattr(erase_run, "_erase", deleting)
    assert erase_run.erase(None, load_pipeline(), Warehouse(str(wh)), None, "t", "test", "conf/layouts") == {"deleted": True}
    return seen


def test_erase_holds_the_lock_of_every_staged_candidate_it_removes(tmp_path, monkeypatch):
    wh = tmp_path / "wh"
    seen = _erase_with(monkeypatch, wh, ["r1", "r2"])
    assert seen == {"bronze.lock": "erase stage", "release-r1.lock": "erase stage (removes staging/r1)",
                    "release-r2.lock": "erase stage (removes staging/r2)"}
    assert not (wh / "_locks").exists()  # gone with the empty folders the run created


def test_erase_refuses_before_deleting_while_a_publish_of_a_staged_candidate_runs(tmp_path, monkeypatch):
    wh = tmp_path / "wh"
    with live_holder(wh / "_locks" / "release-r2.lock", "tokumei publish --release-id r2", "r2") as publishing:
        with pytest.raises(RefusedError, match=f"pid {publishing.pid}"):
            _erase_with(monkeypatch, wh, ["r1", "r2"])
        assert sorted(p.name for p in (wh / "_locks").iterdir()) == ["release-r2.lock"]  # r1 and bronze released
