"""The one SparkSession of the test run (STYLE.md: chispa's session-scoped fixture), `../shared`
(`shared_dir`), and the tiers: a test's marker is its folder (unit, spark, e2e, perf; helpers/tiers.py),
the tiers run cheapest first, and a unit test that touches Spark fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.session import SESSION_JVM_CONF, TEST_CONF
from helpers.shared import ENV, find_shared
from helpers.tiers import TIERS, SparkGuard, tier_of

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark():
    from jobs.runtime.session import SparkSettings, get_spark

    session = get_spark(
        SparkSettings(app_name="tokumei-tests", master="local[2]", shuffle_partitions=2, driver_memory="4g",
                      extra_conf={**TEST_CONF, **SESSION_JVM_CONF})
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def bronze_warehouse(spark, tmp_path_factory) -> Path:
    """helpers/bronze.py's literal bronze warehouse, written once per run. Read-only: a test that writes
    to a warehouse (identities, a staged release) copies it first (shutil.copytree; Delta paths are relative)."""
    from helpers.bronze import write_bronze

    wh = tmp_path_factory.mktemp("bronze") / "wh"
    write_bronze(spark, wh)
    return wh


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared: the real UKE fixture and the ARX benchmark data. Missing data fails, never skips."""
    found = find_shared()
    if found is None or not found.is_dir():
        pytest.fail(f"../shared not found ({found or 'no ancestor of the checkout has shared/DESIGN.md'}): "
                    f"set {ENV} to the shared reference folder", pytrace=False)
    return found


@pytest.fixture(scope="session")
def uke_sample(shared_dir) -> Path:
    """The real UKE file written outside this project (../shared/fixtures/uke; uke_format.md sample):
    636 lines, 75 receipts, CP932 with CRLF."""
    path = shared_dir / "fixtures" / "uke" / "RECEIPTC_GAIRAI_SAMPLE.UKE"
    if not path.is_file():
        pytest.fail(f"{path} is missing from the shared folder (set {ENV} to the one that has it)", pytrace=False)
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item.path)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
    # unit first: its Spark guard can then also see a JVM start, since no other tier has started one yet
    order = {tier: n for n, tier in enumerate(TIERS)}
    items.sort(key=lambda item: order.get(tier_of(item.path) or "", len(TIERS)))


def _unit_guard(item: pytest.Item):
    """The phase of a unit test runs under a SparkGuard; then any attempt to use Spark fails it."""
    guard = SparkGuard()
    with guard:
        try:
            return (yield)
        finally:
            if found := guard.violations():
                pytest.fail(f"{item.nodeid}: a unit test must not use Spark ({'; '.join(found)}); "
                            "move it to tests/spark", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    tier = tier_of(item.path)
    if tier is None:
        pytest.fail(f"{item.nodeid}: every test lives in one of tests/{{{','.join(TIERS)}}}", pytrace=False)
    if tier != "unit":
        return (yield)
    if "spark" in getattr(item, "fixturenames", ()):
        pytest.fail(f"{item.nodeid}: a unit test must not use the spark fixture (directly or through "
                    "another fixture); move it to tests/spark", pytrace=False)
    return (yield from _unit_guard(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    if tier_of(item.path) != "unit":
        return (yield)
    return (yield from _unit_guard(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    if tier_of(item.path) != "unit":
        return (yield)
    return (yield from _unit_guard(item))


@pytest.fixture
def cache(spark, tmp_path):
    """What a job gives the transforms to keep frames in (jobs/runtime/cache.py), freed after the test."""
    from jobs.runtime.cache import RunCache

    with RunCache(tmp_path / "_cache") as kept:
        yield kept
