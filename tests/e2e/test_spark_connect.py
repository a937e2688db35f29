"""`tokumei run` through Spark Connect (issue 19 item 4: Databricks serverless, shared access mode and
Databricks Connect run the jobs this way) gives the release the local session gives.

A local Spark Connect server is started from the installed pyspark (tests/helpers/connect.py); the
client is `python -m jobs.cli run` in a subprocess with SPARK_REMOTE set, because a Connect session
cannot share this process with the test session (creating one switches pyspark's functions to Connect
for the whole process). The client gets no Java at all (JAVA_HOME and PATH lead to none): a release can
only come from the server. The local side is the `uke_run` fixture: same file, arguments and key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable
from helpers.connect import connect_server
from helpers.pipeline import REPO, UKE_RUN_KEY, UKE_RUN_RID, uke_run_args
from helpers.policies import anonymized_policy

from jobs.runtime.session import DEFAULT_IVY_DIR

# Manifest entries that must not differ between the two runs (the others hold paths, times, bronze paths).
SAME_IN_MANIFEST = ("release_regime", "key", "period", "outputs", "counts", "optout", "privacy", "validation")


@pytest.fixture(scope="module")
def connect_release(tmp_path_factory, uke_sample) -> Path:
    tmp = tmp_path_factory.mktemp("connect")
    (tmp / "in").mkdir()
    (tmp / "in" / uke_sample.name).write_bytes(uke_sample.read_bytes())
    ivy = Path(os.environ.get("TOKUMEI_IVY_DIR") or DEFAULT_IVY_DIR).expanduser()
    env = {**os.environ, "TOKUMEI_KEY_DEMO": UKE_RUN_KEY, "PYTHONPATH": str(REPO),
           "JAVA_HOME": str(tmp / "no-java"), "PATH": str(Path(sys.executable).parent)}
    with connect_server(tmp / "server.log", ivy) as url:
        client = subprocess.run(
            [sys.executable, "-m", "jobs.cli", *uke_run_args(tmp / "in", tmp / "wh", anonymized_policy(tmp, None))],
            cwd=REPO, env={**env, "SPARK_REMOTE": url}, capture_output=True, text=True, timeout=1200)
    assert client.returncode == 0, f"tokumei run through {url} exited {client.returncode}:\n{client.stderr[-4000:]}"
    return tmp / "wh" / "releases" / UKE_RUN_RID


def _rows(table: Path) -> list[tuple]:
    frame = DeltaTable(str(table)).to_pandas()
    return sorted(tuple(map(str, row)) for row in frame[sorted(frame.columns)].itertuples(index=False))


@pytest.mark.slow
def test_tokumei_run_through_spark_connect_publishes_the_local_release(connect_release, uke_run):
    remote = connect_release
    tables = sorted(p.name for p in (uke_run / "tables").iterdir())
    assert sorted(p.name for p in (remote / "tables").iterdir()) == tables
    assert "receipts" in tables and "patients" in tables
    for table in tables:  # same rows, pseudonyms included (keyed by the same key and release id)
        local_rows, remote_rows = _rows(uke_run / "tables" / table), _rows(remote / "tables" / table)
        assert (table, len(remote_rows)) == (table, len(local_rows))
        assert remote_rows == local_rows, table
    local, connect = (json.loads((r / "manifest.json").read_text(encoding="utf-8")) for r in (uke_run, remote))
    assert {k: connect[k] for k in SAME_IN_MANIFEST} == {k: local[k] for k in SAME_IN_MANIFEST}
    assert connect["validation"]["success"] is True
    assert len(_rows(remote / "tables" / "receipts")) == 75  # every RE of the fixture
