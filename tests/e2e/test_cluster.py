"""`tokumei run` from the built zip on a Spark standalone cluster gives the release the local session gives
(issue 19 item 1).

A master and two workers of one core each are started on loopback from the installed pyspark
(tests/helpers/cluster.py). `python -m tools.dist` builds the zip and its launcher, and
`spark-submit --master spark://... --py-files tokumei.zip tokumei_submit.py run ...` runs the whole
pipeline in client mode, as docs/operations.md section 1a tells an operator to. The driver and the
executors' Python workers run a Python that has the venv's libraries but cannot import the checkout
(the venv's own Python can, through its editable install), from a folder outside the checkout with no
PYTHONPATH: the code can only come from the zip. The local side is the `uke_run` fixture: same input,
arguments and key; the comparison is the Spark Connect test's (helpers/releases.py).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers.cluster import python_without_checkout, standalone_cluster
from helpers.pipeline import REPO, UKE_RUN_KEY, UKE_RUN_RID, uke_run_args, uke_run_input, uke_run_receipts
from helpers.policies import anonymized_policy
from helpers.processes import SPARK_HOME, conf_args, delta_package, ivy_dir, run, spark_env
from helpers.releases import assert_same_release, table_rows
from helpers.session import SUBMIT_CONF

WORKERS = 2


@dataclass(frozen=True)
class ClusterRun:
    release: Path
    driver_log: Path  # spark-submit's stdout: the Python driver's output, tokumei's log among it
    folder: Path  # the cluster's logs and the workers' work folders
    python: Path
    env: dict[str, str] = field(repr=False)  # the driver's environment (never in a report)


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory, uke_sample, uke_run_generated) -> ClusterRun:
    tmp = tmp_path_factory.mktemp("cluster")
    assert not tmp.is_relative_to(REPO)
    dist = subprocess.run([sys.executable, "-m", "tools.dist", "--out", str(tmp / "dist")], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert dist.returncode == 0, f"python -m tools.dist failed:\n{dist.stderr[-4000:]}"
    python = python_without_checkout(tmp / "python")
    uke_run_input(tmp / "in", uke_sample, uke_run_generated)
    args = [*uke_run_args(tmp / "in", tmp / "wh", anonymized_policy(tmp, None)),
            "--conf", str(REPO / "conf" / "pipeline.yaml")]  # conf/ is read from the filesystem, not the zip
    env = {name: value for name, value in spark_env(str(python), TOKUMEI_KEY_DEMO=UKE_RUN_KEY,
                                                     SPARK_LOCAL_DIRS=str(tmp / "driver-local")).items()
           if name not in ("PYTHONPATH", "PYSPARK_DRIVER_PYTHON")}
    with standalone_cluster(tmp / "cluster", python, workers=WORKERS) as url:
        submit = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", url, "--name", "tokumei-cluster-test",
                  "--driver-memory", "2g", "--packages", delta_package(),
                  *conf_args({**SUBMIT_CONF, "spark.jars.ivy": str(ivy_dir())}),
                  "--py-files", str(tmp / "dist" / "tokumei.zip"), str(tmp / "dist" / "tokumei_submit.py"), *args]
        code = run(submit, tmp / "run.out", tmp / "spark.log", env, cwd=tmp, timeout=1200)
    assert code == 0, f"spark-submit ... tokumei_submit.py run exited {code} ({tmp / 'run.out'}):\n{_why(tmp / 'run.out')}"
    return ClusterRun(tmp / "wh" / "releases" / UKE_RUN_RID, tmp / "run.out", tmp / "cluster", python, env)


def _why(driver_log: Path) -> str:
    """The lines of a failed driver's output that say what failed: a Python traceback's start, tokumei's
    refusal or error, and each exception's headline (the Java stack frames between them are left out)."""
    lines = driver_log.read_text(encoding="utf-8", errors="replace").splitlines()
    said = [line for line in lines if line.startswith(("Traceback", "tokumei:", "Caused by:"))
            or (not line[:1].isspace() and ("Error" in line or "Exception" in line))]
    return "\n".join(said[:20] or lines[-40:])


@pytest.mark.slow
def test_tokumei_run_from_the_zip_on_a_standalone_cluster_publishes_the_local_release(
        cluster_run, uke_run, uke_run_generated):
    assert_same_release(uke_run, cluster_run.release)
    # every RE of the fixture and of the generated files
    assert len(table_rows(cluster_run.release / "tables" / "receipts")) == uke_run_receipts(uke_run_generated)


@pytest.mark.slow
def test_the_cluster_run_used_the_zip_and_both_workers(cluster_run):
    # The driver's Python, in the driver's environment and folder, cannot import the checkout ...
    probe = subprocess.run([str(cluster_run.python), "-c", "import jobs"], env=cluster_run.env,
                           cwd=cluster_run.driver_log.parent, capture_output=True, text=True, timeout=60)
    assert "No module named 'jobs'" in probe.stderr
    # ... so the modules that logged are the relocated ones from the zip (`expectations.gx_suite` in the checkout)
    assert "INFO tokumei.expectations.gx_suite: validated receipts: ok" in cluster_run.driver_log.read_text("utf-8")
    # Each worker ran an executor, and each executor ran tasks: the work was done on the cluster.
    for n in range(WORKERS):
        logs = list((cluster_run.folder / f"worker-{n}").glob("app-*/*/stderr"))
        assert any("Finished task" in log.read_text("utf-8", errors="replace") for log in logs), f"worker-{n}"
