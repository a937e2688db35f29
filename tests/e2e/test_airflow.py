"""dags/tokumei_release.py under Airflow 3 (`airflow dags test`, SQLite), each stage a spark-submit of the
built zip and its launcher, twice (tests/helpers/airflow.py):

1. on a Spark standalone cluster (a master and two one-core workers on loopback, tests/helpers/cluster.py)
   with the `uke_run` input, release id and key: every task succeeds and the release is the one the local
   session published (`uke_run`; issue 19 item 1: the zip on a cluster gives the local release). The
   driver and the executors' Python workers run a Python that has the venv's libraries but cannot import
   the checkout, from folders outside it with no PYTHONPATH: the code can only come from the zip.
2. with `--master local[2]` on a copy of the `uke_run` warehouse whose staged release has a マイナンバー planted in
   病棟区分 (ward_class), a column the policy keeps, its ingest and anonymize tasks marked successful without
   running (`--mark-success-pattern`; what they would stage is the first run's business): validate fails on
   it (docs/operations.md section 3, case 1), publish is upstream_failed and the release does not exist.
   (That ingest and anonymize carry such a value through to staging, and validate names it, is
   tests/e2e/test_validate_identifiers.py's.)

Both use the shipped anonymized policy without params.km, as `uke_run` does. Airflow runs from its own venv
(`make airflow-venv`; `make test` builds it first): a missing one fails here, naming the command to run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.airflow import (
    STAGES,
    Run,
    airflow,
    airflow_cli,
    airflow_env,
    app_dir,
    check_refused,
    expect,
    run_dag,
)
from helpers.cluster import python_without_checkout, standalone_cluster
from helpers.pipeline import REPO, UKE_RUN_KEY, UKE_RUN_RID, uke_run_input, uke_run_receipts
from helpers.releases import assert_same_release, plant_mynumber, table_rows

WORKERS = 2


@dataclass(frozen=True)
class Airflow:
    cli: str
    work: Path
    app: Path


@dataclass(frozen=True)
class ClusterRun:
    run: Run
    states: dict[str, str]
    cluster: Path  # the cluster's logs and the workers' work folders
    python: Path
    env: dict[str, str] = field(repr=False)  # the tasks' environment (never in a report)


@pytest.fixture(scope="module")
def dag(tmp_path_factory) -> Airflow:
    """Airflow's database (SQLite, migrated once) and the app folder both runs submit from."""
    cli = airflow_cli()
    if not cli.is_file():
        pytest.fail(f"Airflow is not installed at {cli}: run `make airflow-venv` (or set TOKUMEI_AIRFLOW to the "
                    "airflow command of a venv with .ci/airflow-requirements.txt)", pytrace=False)
    work = tmp_path_factory.mktemp("airflow")
    assert not work.is_relative_to(REPO)
    app = app_dir(work)
    log = work / "airflow-db-migrate.log"
    env = airflow_env(work, app, UKE_RUN_KEY, "local[2]", Path(sys.executable))
    expect("airflow db migrate failed", airflow(str(cli), ["db", "migrate"], env, log) == 0, log)
    return Airflow(str(cli), work, app)


@pytest.fixture(scope="module")
def cluster_run(dag, uke_sample, uke_run_generated) -> ClusterRun:
    run = Run(UKE_RUN_RID, "2026-01-01", uke_run_input(dag.work / "input" / "ok", uke_sample, uke_run_generated),
              dag.work / "airflow-ok")
    python = python_without_checkout(dag.work / "python")
    with standalone_cluster(dag.work / "cluster", python, workers=WORKERS) as url:
        env = {k: v for k, v in airflow_env(dag.work, dag.app, UKE_RUN_KEY, url, python).items()
               if k not in ("PYTHONPATH", "PYSPARK_DRIVER_PYTHON")}
        states = run_dag(dag.cli, env, run)
    return ClusterRun(run, states, dag.work / "cluster", python, env)


@pytest.mark.slow
def test_the_dag_on_a_standalone_cluster_publishes_the_local_release_from_the_zip(cluster_run, uke_run, uke_run_generated):
    run = cluster_run.run
    expect(f"every stage should succeed, got {cluster_run.states}", cluster_run.states == dict.fromkeys(STAGES, "success"),
           run.log)
    release = run.warehouse / "releases" / UKE_RUN_RID
    assert_same_release(uke_run, release)
    # every RE of the fixture and of the generated files
    assert len(table_rows(release / "tables" / "receipts")) == uke_run_receipts(uke_run_generated)
    assert (release / "validation" / "summary.json").is_file()


@pytest.mark.slow
def test_the_cluster_run_used_the_zip_and_both_workers(cluster_run):
    # The tasks' Python, in their environment and folder, cannot import the checkout ...
    probe = subprocess.run([str(cluster_run.python), "-c", "import jobs"], env=cluster_run.env,
                           cwd=cluster_run.run.folder, capture_output=True, text=True, timeout=60)
    assert "No module named 'jobs'" in probe.stderr
    # ... so the modules that logged are the relocated ones from the zip (`expectations.gx_suite` in the checkout)
    assert "tokumei.expectations.gx_suite: validated receipts: ok" in cluster_run.run.log.read_text("utf-8")
    # Each worker ran an executor, and each executor ran tasks: the work was done on the cluster.
    for n in range(WORKERS):
        logs = list((cluster_run.cluster / f"worker-{n}").glob("app-*/*/stderr"))
        assert any("Finished task" in log.read_text("utf-8", errors="replace") for log in logs), f"worker-{n}"


@pytest.mark.slow
def test_a_failed_validation_stops_the_dag_before_publish(spark, dag, uke_run):
    run = Run(UKE_RUN_RID, "2026-01-02", dag.work / "input" / "none", dag.work / "airflow-refused")
    run.input.mkdir(parents=True)  # ingest does not run
    shutil.copytree(uke_run.parents[1], run.warehouse)
    shutil.rmtree(run.warehouse / "releases" / UKE_RUN_RID)
    shutil.rmtree(run.warehouse / "staging" / UKE_RUN_RID / "validation")  # the DAG's validate writes it again
    plant_mynumber(spark, run.warehouse, UKE_RUN_RID)
    env = airflow_env(dag.work, dag.app, UKE_RUN_KEY, "local[2]", Path(sys.executable))
    check_refused(run, run_dag(dag.cli, env, run, mark_success="^(ingest|anonymize)$"))
