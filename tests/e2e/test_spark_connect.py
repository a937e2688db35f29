"""`tokumei run` through Spark Connect (issue 19 item 4: Databricks serverless, shared access mode and
Databricks Connect run the jobs this way) gives the release the local session gives.

A local Spark Connect server is started from the installed pyspark (tests/helpers/connect.py); the
client is `python -m jobs.cli run` in a subprocess with SPARK_REMOTE set, because a Connect session
cannot share this process with the test session (creating one switches pyspark's functions to Connect
for the whole process). The client gets no Java at all (JAVA_HOME and PATH lead to none): a release can
only come from the server. The local side is the `uke_run` fixture: same input, arguments and key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.connect import connect_server
from helpers.pipeline import REPO, UKE_RUN_KEY, UKE_RUN_RID, uke_run_args, uke_run_input, uke_run_receipts
from helpers.policies import anonymized_policy
from helpers.processes import ivy_dir
from helpers.releases import assert_same_release, table_rows


@pytest.fixture(scope="module")
def connect_release(tmp_path_factory, uke_sample, uke_run_generated) -> Path:
    tmp = tmp_path_factory.mktemp("connect")
    uke_run_input(tmp / "in", uke_sample, uke_run_generated)
    env = {**os.environ, "TOKUMEI_KEY_DEMO": UKE_RUN_KEY, "PYTHONPATH": str(REPO),
           "JAVA_HOME": str(tmp / "no-java"), "PATH": str(Path(sys.executable).parent)}
    with connect_server(tmp / "server.log", ivy_dir()) as url:
        client = subprocess.run(
            [sys.executable, "-m", "jobs.cli", *uke_run_args(tmp / "in", tmp / "wh", anonymized_policy(tmp, None))],
            cwd=REPO, env={**env, "SPARK_REMOTE": url}, capture_output=True, text=True, timeout=1200)
    assert client.returncode == 0, f"tokumei run through {url} exited {client.returncode}:\n{client.stderr[-4000:]}"
    return tmp / "wh" / "releases" / UKE_RUN_RID


@pytest.mark.slow
def test_tokumei_run_through_spark_connect_publishes_the_local_release(connect_release, uke_run, uke_run_generated):
    assert_same_release(uke_run, connect_release)
    # every RE of the fixture and of the generated files
    assert len(table_rows(connect_release / "tables" / "receipts")) == uke_run_receipts(uke_run_generated)
