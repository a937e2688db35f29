"""A Spark standalone cluster on loopback, started from the installed pyspark (tests/e2e/test_airflow.py runs the DAG on it),
and a Python that has tokumei's dependencies but not the checkout.

The master and each worker are `bin/spark-class org.apache.spark.deploy.{master.Master,worker.Worker}` (what
`sbin/start-master.sh` and `start-worker.sh` run; pip's pyspark has no sbin), each in its own process group
on free ports, with its log and work folder under the test's folder; `standalone_cluster` stops exactly
those groups, whatever the test did.

`python_without_checkout`: the venv's Python imports `jobs`, `transforms`, ... from the checkout through
its editable install (`make venv`), whatever the working directory and PYTHONPATH. A job that runs
with it therefore cannot show that the built zip alone is enough; one that runs with this Python can:
it sees the venv's libraries (pyspark, delta, deltalake, Great Expectations, ...) but not the editable
install, so an import of the checkout's packages fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.processes import SPARK_HOME, accepts, free_port, spark_env, start, stop, wait_until
from helpers.session import JIT_OPTIONS

MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"


def python_without_checkout(dest: Path) -> Path:
    """A venv at `dest` whose site-packages adds the libraries of this Python by a path line in a .pth
    file: the folders join sys.path, but their own .pth files (the editable install's finder among them)
    are not run. Returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True, timeout=120)
    python = dest / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    libraries = dict.fromkeys(sysconfig.get_paths()[kind] for kind in ("purelib", "platlib"))
    (Path(site) / "venv_libraries.pth").write_text("".join(f"{path}\n" for path in libraries), encoding="utf-8")
    return python


def _alive_workers(web_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/json/", timeout=5) as response:
            return int(json.load(response)["aliveworkers"])
    except (OSError, ValueError, KeyError):
        return 0


@contextmanager
def standalone_cluster(folder: Path, python: Path, workers: int = 2, timeout: float = 300.0) -> Iterator[str]:
    """A master and `workers` workers of one core each, their executors' Python workers running `python`;
    yields the master's `spark://` URL once every worker has registered, stops them all after."""
    conf_dir = folder / "spark-conf"  # empty: no spark-defaults.conf or log4j2 settings from elsewhere
    conf_dir.mkdir(parents=True)
    # the executors' scratch (shuffle and spill files) under `folder` too, not in /tmp
    env = spark_env(str(python), SPARK_CONF_DIR=str(conf_dir), SPARK_LOCAL_DIRS=str(folder / "local"),
                    SPARK_DAEMON_JAVA_OPTS=JIT_OPTIONS)  # the master and the workers
    port, web_port = free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    started: list[subprocess.Popen[bytes]] = []
    try:
        master_log = folder / "master.log"
        started.append(start([spark_class, MASTER, "--host", "127.0.0.1", "--port", str(port),
                              "--webui-port", str(web_port)], master_log, env))
        wait_until(accepts(port), started[0], f"the master on port {port}", timeout, master_log)
        for n in range(workers):
            (folder / f"worker-{n}").mkdir()
            started.append(start([spark_class, WORKER, url, "--host", "127.0.0.1", "--port", str(free_port()),
                                  "--webui-port", str(free_port()), "--cores", "1", "--memory", "1g",
                                  "--work-dir", str(folder / f"worker-{n}")], folder / f"worker-{n}.log", env))
        wait_until(lambda: _alive_workers(web_port) == workers, started[0],
                   f"{workers} workers registered with the master", timeout, master_log)
        yield url
    finally:
        for process in reversed(started):
            stop(process)
