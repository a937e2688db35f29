"""Two `tokumei ingest` into one warehouse (issue 19 item 5): the issue's case, a new warehouse where both
runs used to fail with DELTA_PROTOCOL_CHANGED. One ingests; the other refuses at once naming it and
touches nothing.

One module fixture starts the two as two OS processes: this one runs `jobs.ingest.main` (held after it
took the lock, before it asks for its Spark session) while `python -m jobs.ingest` starts against the
same warehouse; only this process runs Spark."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from deltalake import DeltaTable
from helpers.keys import TEST_KEY_TEXT
from helpers.locks import live_holder

import jobs.ingest

REPO = Path(__file__).resolve().parents[2]
GOOD = Path(__file__).parent / "data" / "uke_good"


@pytest.fixture(scope="module")
def two_ingests(spark, tmp_path_factory, uke_sample) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("two_ingests")
    (tmp / "in").mkdir()
    shutil.copy(uke_sample, tmp / "in" / uke_sample.name)
    argv = ["--input", str(tmp / "in"), "--warehouse", str(tmp / "wh")]
    inside, go_on, codes = threading.Event(), threading.Event(), {}
    session = jobs.ingest.get_spark

    def held_open(*args, **kwargs):
        inside.set()
        assert go_on.wait(300)
        return session(*args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setenv("TOKUMEI_KEY_DEMO", TEST_KEY_TEXT)  # both processes: the key is checked before the lock
    mp.setattr(jobs.ingest, "get_spark", held_open)
    first = threading.Thread(target=lambda: codes.update(first=jobs.ingest.main(argv)))
    first.start()
    try:
        assert inside.wait(60), "the first ingest did not take its lock"
        second = subprocess.run([sys.executable, "-m", "jobs.ingest", *argv], cwd=REPO, capture_output=True,
                                text=True, timeout=300)
    finally:
        go_on.set()
        first.join(900)
        mp.undo()
    return SimpleNamespace(wh=tmp / "wh", input=tmp / "in", codes=codes, second=second)


def test_two_ingests_into_a_new_warehouse_one_ingests_the_other_refuses_naming_it(two_ingests):
    lock = two_ingests.wh / "_locks" / "bronze.lock"
    second = two_ingests.second
    assert two_ingests.codes == {"first": 0}
    assert second.returncode == 1, second.stderr
    for part in ("tokumei: refused:", f"tokumei ingest --input {two_ingests.input}", f"pid {os.getpid()}", str(lock)):
        assert part in second.stderr, part
    assert "Traceback" not in second.stderr and "DELTA_" not in second.stderr
    assert DeltaTable(str(two_ingests.wh / "bronze" / "_files")).to_pyarrow_table().num_rows == 1
    assert DeltaTable(str(two_ingests.wh / "bronze" / "receipts")).to_pyarrow_table().num_rows == 75  # every RE
    assert not lock.exists()


def test_an_ingest_refused_by_a_running_one_touches_nothing(two_ingests, tmp_path, monkeypatch, capsys):
    wh = tmp_path / "wh"
    shutil.copytree(two_ingests.wh, wh)
    monkeypatch.setenv("TOKUMEI_KEY_DEMO", TEST_KEY_TEXT)

    def files() -> dict[str, tuple[int, int]]:
        return {str(p.relative_to(wh)): (p.stat().st_size, p.stat().st_mtime_ns) for p in wh.rglob("*")}

    with live_holder(wh / "_locks" / "bronze.lock", "tokumei ingest --input /data/2026-04") as running:
        before = files()
        assert jobs.ingest.main(["--input", str(GOOD), "--warehouse", str(wh)]) == 1  # new files: it would write
        assert files() == before
    err = capsys.readouterr().err
    assert "tokumei ingest --input /data/2026-04" in err and f"pid {running.pid}" in err and "何も変更していません" in err
