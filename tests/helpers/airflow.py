"""The DAG `tokumei_release` under Airflow 3 (`airflow dags test`, SQLite) for tests/e2e/test_airflow.py: its
app folder, Spark client settings and environment, one DAG run and the states of its tasks.

Airflow runs from its own venv (Makefile `airflow-venv`; its Spark provider's pyspark-client would shadow the
real pyspark in tokumei's venv): `airflow_cli()` finds it where the Makefile puts it, or takes
$TOKUMEI_AIRFLOW. The tasks run `spark-submit` of Spark in tokumei's venv (SPARK_HOME, PATH) with the built
zip and its launcher, as docs/operations.md section 4 tells an operator to set a worker up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.policies import anonymized_policy
from helpers.session import SHORT_JVM_CONF, TEST_CONF
from helpers.shared import REPO
from tools.dist import build

DAG_ID = "tokumei_release"
STAGES = ("ingest", "anonymize", "validate", "publish")
AIRFLOW_ENV = "TOKUMEI_AIRFLOW"
AIRFLOW_PINS = (".ci/airflow-requirements.txt", ".ci/airflow-constraints.txt")


def airflow_cli() -> Path:
    """$TOKUMEI_AIRFLOW, else the `airflow` of the venv `make airflow-venv` made for these pins
    (~/.cache/tokumei/airflow-<first 12 hex of the sha256 of the pin files' content>)."""
    if os.environ.get(AIRFLOW_ENV):
        return Path(os.environ[AIRFLOW_ENV])
    digest = hashlib.sha256(b"".join((REPO / pin).read_bytes() for pin in AIRFLOW_PINS)).hexdigest()[:12]
    return Path.home() / ".cache" / "tokumei" / f"airflow-{digest}" / "bin" / "airflow"


class Failed(AssertionError):
    """A DAG run that did not go as expected, with the lines of its log that say why."""


def app_dir(work: Path) -> Path:
    """What the Variable tokumei_app_dir names on a worker: dist/ from `make dist` and conf/, whose
    pipeline.yaml takes the anonymized policy without params.km; and the Spark client's conf dir."""
    app = work / "app"
    spark_conf_dir(work)
    build(app / "dist")
    shutil.copytree(REPO / "conf", app / "conf")
    policy = anonymized_policy(work, None)
    pipeline = app / "conf" / "pipeline.yaml"
    text = pipeline.read_text(encoding="utf-8")
    shipped = "  anonymized: conf/policies/anonymized.yaml\n"
    if shipped not in text:
        raise Failed(f"{pipeline}: no line {shipped.strip()!r} to point at the test policy")
    pipeline.write_text(text.replace(shipped, f"  anonymized: {policy}\n"), encoding="utf-8")
    return app


# Spark's own log at WARN: at INFO every line of seven spark-submits also passes through Airflow's logging.
LOG4J2 = """rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""


def spark_conf_dir(work: Path) -> Path:
    """The local Spark client's conf dir (what an operator sets up once per worker): spark-defaults.conf
    with the Delta jars from tokumei's Ivy cache, the settings jobs/runtime/session.py gives a local
    session (a submitted one takes spark-submit's instead) and the test session's (tests/helpers/session.py)."""
    ivy = Path(os.environ.get("TOKUMEI_IVY_DIR") or Path.home() / ".cache" / "tokumei" / "ivy").expanduser()
    conf = {
        "spark.jars.ivy": str(ivy),
        "spark.driver.memory": "2g",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
        "spark.sql.session.timeZone": "UTC",
        **TEST_CONF,
        **SHORT_JVM_CONF,  # the driver JVM with the JIT's C1 tier only
    }
    out = work / "spark-conf"
    out.mkdir()
    (out / "spark-defaults.conf").write_text("".join(f"{k} {v}\n" for k, v in conf.items()), encoding="utf-8")
    (out / "log4j2.properties").write_text(LOG4J2, encoding="utf-8")
    return out


def airflow_env(work: Path, app: Path, key: str, master: str, python: Path) -> dict[str, str]:
    """The environment of the `airflow` commands of one DAG run: what a worker's tasks inherit. `master`
    is the `spark_default` connection's (spark-submit --master), `python` runs the driver and the
    executors' Python workers, `key` is the demo key (never printed)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise Failed(f"{sys.executable} has no pyspark: run the tests with tokumei's venv")
    spark_home = Path(spec.origin).parent  # the pip pyspark is a full Spark: bin/spark-submit, jars/
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SPARK_", "PYSPARK_", "TOKUMEI_KEY_"))}
    env.update({
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_VAR_TOKUMEI_APP_DIR": str(app),
        "AIRFLOW_VAR_TOKUMEI_PY_FILES": str(app / "dist" / "tokumei.zip"),
        # conn_type spark with the master as host: spark-submit --master local[2]
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps({"conn_type": "spark", "host": master}),
        # The provider runs `spark-submit` from PATH: Spark's own bin, not tokumei's venv bin (whose python
        # would shadow Airflow's); the driver runs tokumei's Python.
        "SPARK_HOME": str(spark_home),
        "PATH": f"{spark_home / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "PYSPARK_PYTHON": str(python),
        "SPARK_CONF_DIR": str(work / "spark-conf"),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "TOKUMEI_KEY_DEMO": key,  # keys.provider env, key id demo (conf/pipeline.yaml)
        "AIRFLOW_HOME": str(work / "airflow_home"),
    })
    return env


def airflow(cli: str, args: list[str], env: dict[str, str], log: Path) -> int:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ airflow {' '.join(args)}\n")
        out.flush()
        return subprocess.run([cli, *args], env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT).returncode


def airflow_json(cli: str, args: list[str], env: dict[str, str]) -> list[dict]:
    done = subprocess.run([cli, *args, "-o", "json"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise Failed(f"airflow {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    # the JSON is one line; warnings (graphviz missing) may come before it on stdout
    return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("[")))


@dataclass(frozen=True)
class Run:
    release_id: str
    logical_date: str
    input: Path
    folder: Path  # the warehouse, the log and spark-submit's working directory

    @property
    def warehouse(self) -> Path:
        return self.folder / "wh"

    @property
    def log(self) -> Path:
        return self.folder / "airflow.log"


def run_dag(cli: str, env: dict[str, str], run: Run, mark_success: str | None = None) -> dict[str, str]:
    """`airflow dags test` of the DAG with this run's params; the state of each task of the run. Tasks whose
    id matches the regex `mark_success` are not run but marked successful (`--mark-success-pattern`)."""
    run.folder.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    params = {"input": str(run.input), "warehouse": str(run.warehouse), "release_id": run.release_id,
              "profile": "anonymized", "recipient": ""}
    skip = ["--mark-success-pattern", mark_success] if mark_success else []
    code = airflow(cli, ["dags", "test", DAG_ID, run.logical_date, "-c", json.dumps(params), *skip], env, run.log)
    runs = [r for r in airflow_json(cli, ["dags", "list-runs", DAG_ID], env) if r["logical_date"].startswith(run.logical_date)]
    expect(f"{run.release_id}: expected one run of {DAG_ID} at {run.logical_date}, found {runs}", len(runs) == 1, run.log)
    tasks = airflow_json(cli, ["tasks", "states-for-dag-run", DAG_ID, runs[0]["run_id"]], env)
    states = {t["task_id"]: t["state"] for t in tasks}
    print(f"airflow: {run.release_id}: dags test exited {code} after {time.monotonic() - start:.0f} s; "
          f"run {runs[0]['state']}; tasks {states}; log {run.log}", flush=True)
    return states


def expect(what: str, ok: bool, log: Path) -> None:
    if not ok:
        raise Failed(f"{what}; see {log}{cause(log)}")


# What a failed task's spark-submit printed that says why: CI shows the failure's message, not the log it names.
CAUSES = ("Error", "Exception", "Traceback", "exited", "Cannot execute")


def cause(log: Path, most: int = 25) -> str:
    if not log.is_file():
        return ""
    lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
             if any(word in line for word in CAUSES) and "WARN" not in line]
    return "".join(f"\n  | {line[:400]}" for line in lines[-most:])


def check_refused(run: Run, states: dict[str, str]) -> None:
    rid, wh, log = run.release_id, run.warehouse, run.log
    expected = {"ingest": "success", "anonymize": "success", "validate": "failed", "publish": "upstream_failed"}
    expect(f"{rid}: validate should fail and publish never start, got {states}", states == expected, log)
    summary_path = wh / "staging" / rid / "validation" / "summary.json"
    expect(f"{rid}: {summary_path} is missing", summary_path.is_file(), log)
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    found = [f for f in summary["failed"] if f.startswith("receipts: expect_no_identifier_values") and "ward_class: mynumber" in f]
    expect(f"{rid}: validation should fail on the マイナンバー in receipts.ward_class alone, got {summary['failed']}",
           summary["success"] is False and found == summary["failed"], log)
    expect(f"{rid}: {wh / 'releases' / rid} exists", not (wh / "releases" / rid).exists(), log)
