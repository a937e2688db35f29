"""One SparkSession for the whole test run (STYLE.md: chispa's session-scoped fixture), and one
`tokumei generate` output per argument tuple (`generated`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from jobs.runtime.session import SparkSettings, get_spark

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark():
    session = get_spark(
        SparkSettings(app_name="tokumei-tests", master="local[2]", shuffle_partitions=2, driver_memory="4g")
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def generated(spark, tmp_path_factory) -> Callable[..., Path]:
    """`generated(patients, months, seed, era=False, start_month=None) -> Path`: the output directory
    of `tokumei generate` with these arguments, generated once per test run and shared by every
    test that asks for the same arguments. Read-only: copy it before changing anything in it."""
    from jobs.generate import main  # here, not at import: collecting tests must not need the generator

    root = tmp_path_factory.mktemp("generated")
    cache: dict[tuple[int, int, int, bool, str | None], Path] = {}

    def make(patients: int, months: int, seed: int, era: bool = False, start_month: str | None = None) -> Path:
        key = (patients, months, seed, era, start_month)
        if key not in cache:
            out = root / "_".join(str(part) for part in key if part not in (None, False))
            args = ["--out", str(out), "--patients", str(patients), "--months", str(months), "--seed", str(seed)]
            args += ["--era-dates"] if era else []
            args += ["--start-month", start_month] if start_month else []
            assert main(args) == 0, f"tokumei generate {' '.join(args)} failed"
            cache[key] = out
        return cache[key]

    return make


@pytest.fixture
def cache(spark, tmp_path):
    """What a job gives the transforms to keep frames in (jobs/runtime/cache.py), freed after the test."""
    from jobs.runtime.cache import RunCache

    with RunCache(tmp_path / "_cache") as kept:
        yield kept
