"""A local Spark Connect server started from the installed pyspark (tests/e2e/test_spark_connect.py).

The server is `spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer` (what
`sbin/start-connect-server.sh` runs; pip's pyspark ships the server jar but not the sbin scripts) with
Delta's SQL extension and catalog from `io.delta:delta-spark_<spark>_2.13`. It has no Delta Connect
plugin: `io.delta:delta-connect-server_4.1_2.13:4.4.0` (nor any other delta-connect-server or
delta-connect-common version) is not served by the Maven registry this project can reach, and the jobs
need none (jobs/runtime/delta_io.py runs Delta operations as SQL).

It runs in its own process group, and `connect_server` stops that group, whatever the test did.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import pyspark

from helpers.session import TEST_CONF

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
# The settings the test session uses (tests/conftest.py, jobs/runtime/session.py), so that both sides
# of a comparison run with the same ones.
SERVER_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "2",
    **TEST_CONF,
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.ui.enabled": "false",
}


def delta_package() -> str:
    """The Delta jar of the installed delta-spark for the installed Spark (as delta.configure_spark_with_delta_pip)."""
    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{metadata.version('delta-spark')}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(port: int, ivy_dir: Path) -> list[str]:
    spark_home = Path(pyspark.__file__).parent
    conf = {**SERVER_CONF, "spark.jars.ivy": str(ivy_dir),
            "spark.connect.grpc.binding.address": "127.0.0.1", "spark.connect.grpc.binding.port": str(port)}
    return [str(spark_home / "bin" / "spark-submit"), "--class", SERVER_CLASS, "--name", "tokumei-connect-test",
            "--master", "local[2]", "--driver-memory", "3g", "--packages", delta_package(),
            *[arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")], "spark-internal"]


@contextmanager
def connect_server(log: Path, ivy_dir: Path, timeout: float = 300.0) -> Iterator[str]:
    """Start a server on a free loopback port, yield its `sc://` URL once it accepts, stop it after."""
    port = free_port()
    env = {**os.environ, "SPARK_HOME": str(Path(pyspark.__file__).parent), "PYSPARK_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1"}
    with log.open("wb") as out:
        server = subprocess.Popen(server_command(port, ivy_dir), stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        _wait_until_accepting(server, port, timeout, log)
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop(server)


def stop(server: subprocess.Popen[bytes]) -> None:
    """End the server's process group (spark-submit and the JVM it became), TERM first, then KILL."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 30)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            break
        try:
            server.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def _wait_until_accepting(server: subprocess.Popen[bytes], port: int, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Spark Connect server exited with {server.returncode}:\n{_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"the Spark Connect server did not accept on port {port} in {timeout:.0f} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
