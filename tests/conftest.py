"""One SparkSession for the whole test run (STYLE.md: chispa's session-scoped fixture)."""

from __future__ import annotations

import os

import pytest

from jobs.session import SparkSettings, get_spark

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark():
    session = get_spark(
        SparkSettings(app_name="tokumei-tests", master="local[2]", shuffle_partitions=2, driver_memory="2g")
    )
    yield session
    session.stop()
