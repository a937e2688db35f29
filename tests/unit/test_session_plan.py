"""How get_spark() gets its session (issue 19 item 4), without a JVM: the SparkSession class it calls is
replaced by a recorder, so a master, jar or Java check on the Spark Connect path fails the test."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from jobs.runtime import session
from jobs.runtime.session import is_connect, session_plan

REMOTE = "sc://127.0.0.1:15002"


@pytest.mark.parametrize(("active", "environ", "plan"), [
    (True, {"SPARK_REMOTE": REMOTE}, "active"),  # Databricks Connect, a notebook
    (True, {}, "active"),
    (False, {"SPARK_REMOTE": REMOTE}, "remote"),
    (False, {"SPARK_REMOTE": ""}, "local"),
    (False, {"MASTER": "local[2]"}, "local"),
    (False, {"PYSPARK_GATEWAY_PORT": "41234"}, "submitted"),  # spark-submit: a JVM, but no session yet
    (False, {"PYSPARK_GATEWAY_PORT": "41234", "SPARK_REMOTE": REMOTE}, "remote"),
])
def test_session_plan(active, environ, plan):
    assert session_plan(active, environ) == plan


class _Conf:
    def __init__(self, refuse: bool = False, value: str | None = None) -> None:
        self.values: dict[str, str | None] = {"spark.sql.legacy.javaCharsets": value}
        self.refuse = refuse

    def set(self, key: str, value: str) -> None:
        if self.refuse:
            raise RuntimeError("[CANNOT_MODIFY_CONFIG] Cannot modify the value of the Spark config")
        self.values[key] = value

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)


class _Session:
    def __init__(self, conf: _Conf | None = None) -> None:
        self.conf = conf or _Conf()


class _Recorder:
    """Stands in for pyspark's SparkSession in jobs.runtime.session: records every builder call."""

    def __init__(self, active: _Session | None) -> None:
        self.active = active
        self.calls: list[tuple[Any, ...]] = []
        self.made = _Session()

    def getActiveSession(self) -> _Session | None:  # noqa: N802 (pyspark's name)
        return self.active

    @property
    def builder(self) -> _Recorder:
        return self

    def __getattr__(self, name: str) -> Any:  # master, config, appName, remote, getOrCreate
        def call(*args: Any) -> Any:
            self.calls.append((name, *args))
            return self.made if name == "getOrCreate" else self
        return call


@pytest.fixture
def no_java(monkeypatch):
    def refuse() -> None:
        raise AssertionError("a Spark Connect client must not need Java")
    monkeypatch.setattr(session, "check_java", refuse)


def test_with_spark_remote_get_spark_connects_and_forces_no_master_jars_or_memory(monkeypatch, no_java):
    fake = _Recorder(active=None)
    monkeypatch.setattr(session, "SparkSession", fake)
    monkeypatch.setenv("SPARK_REMOTE", REMOTE)
    spark = session.get_spark(session.SparkSettings(master="local[2]", driver_memory="8g"))
    assert spark is fake.made
    assert fake.calls == [("remote", REMOTE), ("getOrCreate",)]
    # the runtime settings, and the driver defaults the server has no value of its own for
    assert spark.conf.values == {"spark.sql.legacy.javaCharsets": "true", **session.DRIVER_DEFAULTS}


def test_an_active_session_is_returned_untouched_but_for_the_runtime_settings(monkeypatch, no_java):
    active = _Session()
    fake = _Recorder(active=active)
    monkeypatch.setattr(session, "SparkSession", fake)
    monkeypatch.setenv("SPARK_REMOTE", REMOTE)
    assert session.get_spark() is active
    assert fake.calls == []
    assert active.conf.values == {"spark.sql.legacy.javaCharsets": "true"}


def test_a_refused_runtime_setting_is_logged_not_fatal(monkeypatch, no_java, caplog):
    fake = _Recorder(active=_Session(_Conf(refuse=True, value="false")))
    monkeypatch.setattr(session, "SparkSession", fake)
    with caplog.at_level(logging.WARNING, logger="tokumei.session"):
        session.get_spark()
    assert [r.getMessage() for r in caplog.records] == [
        "could not set spark.sql.legacy.javaCharsets=true on this session (RuntimeError; it is false): "
        "CP932 input may be refused"]


def test_a_refused_setting_already_in_force_is_not_reported(monkeypatch, no_java, caplog):
    fake = _Recorder(active=_Session(_Conf(refuse=True, value="true")))
    monkeypatch.setattr(session, "SparkSession", fake)
    with caplog.at_level(logging.WARNING, logger="tokumei.session"):
        session.get_spark()
    assert caplog.records == []


def test_without_spark_remote_and_no_session_the_local_build_checks_java_first(monkeypatch):
    fake = _Recorder(active=None)
    monkeypatch.setattr(session, "SparkSession", fake)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)

    def missing() -> None:
        raise session.JavaMissingError("Java not found")
    monkeypatch.setattr(session, "check_java", missing)
    with pytest.raises(session.JavaMissingError):
        session.get_spark()
    assert fake.calls == []


def test_is_connect_tells_spark_connect_sessions_by_their_class():
    def instance(module: str) -> Any:
        return type("SparkSession", (), {"__module__": module})()

    assert is_connect(instance("pyspark.sql.connect.session"))
    assert not is_connect(instance("pyspark.sql.session"))
    assert not is_connect(instance("pyspark.sql.classic.session"))


class _SubmittedConf:
    """Stands in for pyspark.SparkConf under spark-submit: the settings of its command line."""

    given: list[tuple[str, str]] = []

    def getAll(self) -> list[tuple[str, str]]:  # noqa: N802 (pyspark's name)
        return list(self.given)


def test_under_spark_submit_the_session_takes_its_master_and_gets_only_delta_added(monkeypatch, no_java):
    """Issue 19 item 6, tried on a standalone cluster: `builder.master("local[*]")` overrode
    `spark-submit --master spark://...`, and the whole job ran inside the driver."""
    import pyspark

    fake = _Recorder(active=None)
    monkeypatch.setattr(session, "SparkSession", fake)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "41234")
    monkeypatch.setattr(_SubmittedConf, "given", [("spark.master", "spark://127.0.0.1:7077"),
                                                  ("spark.jars.packages", "io.delta:delta-spark_4.1_2.13:4.4.0")])
    monkeypatch.setattr(pyspark, "SparkConf", _SubmittedConf)
    spark = session.get_spark(session.SparkSettings(master="local[2]", driver_memory="8g"))
    assert spark is fake.made
    assert fake.calls == [("config", "spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension"),
                          ("config", "spark.sql.catalog.spark_catalog",
                           "org.apache.spark.sql.delta.catalog.DeltaCatalog"),
                          ("config", "spark.python.sql.dataFrameDebugging.enabled", "false"),
                          ("getOrCreate",)]
    assert spark.conf.values == {"spark.sql.legacy.javaCharsets": "true"}


def test_delta_settings_given_to_spark_submit_are_kept_as_given():
    given = {"spark.master": "yarn", "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension,com.example.X"}
    assert session.submitted_conf(given) == {
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.python.sql.dataFrameDebugging.enabled": "false"}
    assert session.submitted_conf({}) == {**session.DELTA_CONF, **session.DRIVER_DEFAULTS}


def test_an_operators_own_driver_setting_is_kept():
    """spark-submit --conf spark.python.sql.dataFrameDebugging.enabled=true (to debug a job) wins over our default."""
    given = {"spark.python.sql.dataFrameDebugging.enabled": "true"}
    assert "spark.python.sql.dataFrameDebugging.enabled" not in session.submitted_conf(given)
