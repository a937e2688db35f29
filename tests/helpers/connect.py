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

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.processes import (
    SPARK_HOME,
    accepts,
    conf_args,
    delta_package,
    free_port,
    spark_env,
    start,
    stop,
    wait_until,
)
from helpers.session import SUBMIT_CONF

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def server_command(port: int, ivy_dir: Path) -> list[str]:
    conf = {**SUBMIT_CONF, "spark.jars.ivy": str(ivy_dir),
            "spark.connect.grpc.binding.address": "127.0.0.1", "spark.connect.grpc.binding.port": str(port)}
    return [str(SPARK_HOME / "bin" / "spark-submit"), "--class", SERVER_CLASS, "--name", "tokumei-connect-test",
            "--master", "local[2]", "--driver-memory", "3g", "--packages", delta_package(),
            *conf_args(conf), "spark-internal"]


@contextmanager
def connect_server(log: Path, ivy_dir: Path, timeout: float = 300.0) -> Iterator[str]:
    """Start a server on a free loopback port, yield its `sc://` URL once it accepts, stop it after."""
    port = free_port()
    server = start(server_command(port, ivy_dir), log, spark_env())
    try:
        wait_until(accepts(port), server, f"the Spark Connect server on port {port}", timeout, log)
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop(server)
