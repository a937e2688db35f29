"""The one place a SparkSession is created.

Locally (tests, `make demo`, a plain `python -m jobs...`) we build a `local[*]` session with Delta
configured and the Delta jars resolved through Ivy into a stable directory, so later runs and CI
reuse them. When a session is already active (Databricks, a Spark Connect session the caller made), it
is reused as is; under spark-submit (which starts the JVM, not a session, before our code runs) the
session is built from spark-submit's own --master, --packages and --conf: no master, jar or memory
settings are forced on a cluster someone else configured. With `SPARK_REMOTE` set (Spark Connect:
Databricks serverless, shared access mode, Databricks Connect, `start-connect-server.sh`) we connect
to that server and set nothing but the runtime settings below; the client needs no Java.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pyspark.sql import SparkSession

from jobs.runtime.errors import JavaMissingError

log = logging.getLogger("tokumei.session")

MIN_JAVA = 17
DEFAULT_IVY_DIR = Path.home() / ".cache" / "tokumei" / "ivy"


@dataclass(frozen=True)
class SparkSettings:
    app_name: str = "tokumei"
    master: str = "local[*]"
    shuffle_partitions: int = 8
    driver_memory: str = "4g"
    ivy_dir: str | None = None
    ui: bool = False
    extra_conf: dict[str, str] = field(default_factory=dict)


def java_major_version(java: str | None = None) -> int:
    """The major version of the Java that Spark will start, or raise JavaMissingError."""
    java = java or _java_binary()
    if java is None:
        raise JavaMissingError(
            "Java not found: tokumei runs Apache Spark 4, which needs Java 17 or later. "
            "Install OpenJDK 17 (apt-get install openjdk-17-jre-headless) or set JAVA_HOME."
        )
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except OSError as exc:
        raise JavaMissingError(f"Java at {java} could not be started: {exc}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise JavaMissingError(f"could not read the Java version from `{java} -version`: {out.strip()!r}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> None:
    major = java_major_version()
    if major < MIN_JAVA:
        raise JavaMissingError(
            f"Java {major} found; tokumei needs Java {MIN_JAVA} or later (Spark 4). "
            "Install OpenJDK 17 or point JAVA_HOME at one."
        )


def _java_binary() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


SessionPlan = Literal["active", "remote", "submitted", "local"]


def session_plan(active: bool, environ: Mapping[str, str] | None = None) -> SessionPlan:
    """How get_spark() gets its session: reuse the active one (classic or Spark Connect), connect to
    the Spark Connect server named by SPARK_REMOTE, build one from spark-submit's settings, or build a
    local Delta-enabled JVM session."""
    if active:
        return "active"
    environ = os.environ if environ is None else environ
    if environ.get("SPARK_REMOTE"):
        return "remote"
    return "submitted" if launched_by_spark_submit(environ) else "local"


def launched_by_spark_submit(environ: Mapping[str, str] | None = None) -> bool:
    """spark-submit (and Airflow's SparkSubmitOperator) start the JVM first and hand its address to
    Python in PYSPARK_GATEWAY_PORT; a plain `python -m jobs...` starts its own JVM and has none."""
    return bool((os.environ if environ is None else environ).get("PYSPARK_GATEWAY_PORT"))


def is_connect(spark: SparkSession) -> bool:
    """A Spark Connect session (pyspark's or Databricks Connect's): no SparkContext, no JVM in this process."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def get_spark(settings: SparkSettings | None = None) -> SparkSession:
    """Return the active session, a Spark Connect session (SPARK_REMOTE), spark-submit's (its --master and
    --conf), or build a local Delta-enabled one."""
    active = SparkSession.getActiveSession()
    plan = session_plan(active is not None)
    if plan == "local":
        return _local_session(settings or SparkSettings())
    if plan == "submitted":
        return _submitted_session()
    # No master, jars, Ivy or driver memory for a remote session: the server has its own (pyspark refuses
    # a master next to SPARK_REMOTE: CANNOT_CONFIGURE_SPARK_CONNECT_MASTER).
    if active is not None:  # someone else's session (a notebook's, Databricks'): only what the jobs need
        _apply_runtime_conf(active)
        return active
    spark = SparkSession.builder.remote(os.environ["SPARK_REMOTE"]).getOrCreate()
    _apply_runtime_conf(spark)
    _apply_driver_defaults(spark)
    return spark


def _local_session(settings: SparkSettings) -> SparkSession:
    check_java()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers (createDataFrame of local rows) run this interpreter, not whatever `python3` is on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    ivy_dir = Path(settings.ivy_dir or os.environ.get("TOKUMEI_IVY_DIR") or DEFAULT_IVY_DIR).expanduser()
    ivy_dir.mkdir(parents=True, exist_ok=True)

    from delta import configure_spark_with_delta_pip

    builder = (
        SparkSession.builder.master(settings.master)
        .appName(settings.app_name)
        .config("spark.jars.ivy", str(ivy_dir))
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.ui.enabled", str(settings.ui).lower())
        .config("spark.ui.showConsoleProgress", "false")
        # Delta reconstructs table state with this many tasks; the default 50 is for clusters.
        .config("spark.databricks.delta.snapshotPartitions", "2")
        # VACUUM lists a table's files with this many tasks (Spark's default 10000 is for clusters): at the
        # default, one VACUUM of a 1,000-row table took 23-40 s on 2 cores, at 2 tasks 2.4-4.3 s.
        .config("spark.sql.sources.parallelPartitionDiscovery.parallelism", str(settings.shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
    )
    for key, value in {**DELTA_CONF, **_RUNTIME_CONF, **DRIVER_DEFAULTS, **settings.extra_conf}.items():
        builder = builder.config(key, value)
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    if not is_connect(spark):  # SPARK_API_MODE=connect builds a Connect session even here: no SparkContext
        spark.sparkContext.setLogLevel("ERROR")
    return spark


# Delta's session settings: static, so they must be in place before the session exists.
DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


# PySpark 4 records the Python call site of every DataFrame and Column function it is given, for the "DataFrame
# query context" of an error: each call tries (and fails) to import IPython and makes several py4j round trips.
# tokumei builds its plans from thousands of such calls and names the table and column in its own errors: one
# `tokumei generate` of 40 patients made 105,834 py4j calls and took 36-43 s with it, 33,474 calls and 25 s
# without (2 cores). Under spark-submit and Spark Connect a default only (the operator's --conf or the server's
# value is kept); a local session always has it off (docs/operations.md).
DRIVER_DEFAULTS = {
    "spark.python.sql.dataFrameDebugging.enabled": "false",
}


def submitted_conf(given: Mapping[str, str]) -> dict[str, str]:
    """What we add to spark-submit's settings: Delta's and our driver defaults, where the command line gave
    none. Never a master: `builder.master("local[*]")` would silently run the whole job in the driver,
    ignoring --master."""
    return {key: value for key, value in {**DELTA_CONF, **DRIVER_DEFAULTS}.items() if key not in given}


def _submitted_session() -> SparkSession:
    from pyspark import SparkConf  # spark-submit's settings, read from the JVM it started

    builder = SparkSession.builder
    for key, value in submitted_conf(dict(SparkConf().getAll())).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    _apply_runtime_conf(spark)
    return spark


# Settings every tokumei job needs whoever created the session: CP932 needs the legacy charset
# switch in Spark 4 (reference/stack.md), and dates must not shift with the driver's time zone.
_RUNTIME_CONF = {
    "spark.sql.legacy.javaCharsets": "true",
}


def _apply_runtime_conf(spark: SparkSession) -> None:
    """Set what every job needs; a server that refuses a setting (Databricks serverless allows only some)
    is told once in the log, and the job goes on: a value already in force needs no setting."""
    for key, value in _RUNTIME_CONF.items():
        try:
            spark.conf.set(key, value)
        except Exception as exc:  # e.g. CANNOT_MODIFY_CONFIG / CONFIG_NOT_AVAILABLE under Spark Connect
            current = _conf_value(spark, key)
            if current != value:
                log.warning("could not set %s=%s on this session (%s; it is %s): CP932 input may be refused",
                            key, value, type(exc).__name__, current)


def _apply_driver_defaults(spark: SparkSession) -> None:
    """DRIVER_DEFAULTS on a remote session where its server has none of its own; one it refuses stays unset."""
    for key, value in DRIVER_DEFAULTS.items():
        if _conf_value(spark, key) is None:
            try:
                spark.conf.set(key, value)
            except Exception as exc:  # a server that allows only some settings
                log.debug("left %s unset on this session (%s)", key, type(exc).__name__)


def _conf_value(spark: SparkSession, key: str) -> str | None:
    try:
        return spark.conf.get(key, None)
    except Exception:  # a server that hides the setting
        return None
