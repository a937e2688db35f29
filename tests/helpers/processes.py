"""Spark processes that e2e tests start from the installed pyspark (pip's pyspark ships `bin/spark-submit`
and `bin/spark-class` but not the `sbin/` scripts): a Spark Connect server (connect.py), a standalone
master and its workers (cluster.py), a spark-submit driver.

Each runs in its own process group (`start_new_session`), so `stop` ends exactly what the test started,
the JVM and its children (a worker's executors, an executor's Python workers) included, and never
another Spark process on the machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pyspark

from jobs.runtime.session import DEFAULT_IVY_DIR

SPARK_HOME = Path(pyspark.__file__).parent


def ivy_dir() -> Path:
    """Where the test session's Delta jars are (jobs/runtime/session.py): a process given it as
    `spark.jars.ivy` reuses them instead of downloading them again."""
    return Path(os.environ.get("TOKUMEI_IVY_DIR") or DEFAULT_IVY_DIR).expanduser()


def delta_package() -> str:
    """The Delta jar of the installed delta-spark for the installed Spark (as delta.configure_spark_with_delta_pip)."""
    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{metadata.version('delta-spark')}"


def spark_env(python: str = sys.executable, **extra: str) -> dict[str, str]:
    """This environment for a Spark process: pip's pyspark as SPARK_HOME, `python` for the Python
    workers (the venv's, which has tokumei's dependencies), loopback only."""
    return {**os.environ, "SPARK_HOME": str(SPARK_HOME), "PYSPARK_PYTHON": python, "SPARK_LOCAL_IP": "127.0.0.1",
            **extra}


def conf_args(conf: dict[str, str]) -> list[str]:
    """`--conf key=value` for each setting, as spark-submit takes them."""
    return [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list[str], log: Path, env: dict[str, str], cwd: Path | None = None,
          err: Path | None = None) -> subprocess.Popen[bytes]:
    """`command` in a new process group, stdout to `log`, stderr to `err` (or `log` too)."""
    with log.open("wb") as out, (err or Path(os.devnull)).open("wb") as errors:
        return subprocess.Popen(command, stdout=out, stderr=errors if err else subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=cwd, start_new_session=True)


def run(command: list[str], log: Path, err: Path, env: dict[str, str], cwd: Path, timeout: float) -> int:
    """`command` to its end in a new process group, which is stopped if it outlives `timeout` or the
    wait is interrupted; returns its exit code."""
    process = start(command, log, env, cwd, err)
    try:
        return process.wait(timeout=timeout)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """End the process's group (spark-submit or spark-class and the JVM it became, with its children:
    a worker's executors, their Python workers), TERM first, then KILL whatever is left after 30 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        if _group_ended(process, timeout=30):
            return


def _group_ended(process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    while time.monotonic() < deadline:  # the leader is gone; its children may still be exiting
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.5)
    return False


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, timeout: float,
               log: Path) -> None:
    """Poll `ready` until it holds; fail with the log's tail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail(log)}")
        if ready():
            return
        time.sleep(1)
    raise RuntimeError(f"{what} was not ready in {timeout:.0f} s:\n{tail(log)}")


def accepts(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    return ready


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
