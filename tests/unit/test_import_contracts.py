"""The house's rules hold on the whole source, and the checks find a violation when one is planted
(issue 15: import contracts in CI; transforms without I/O, sessions or cache lifetimes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers.architecture import PACKAGES, import_violations, purity_violations, room

ROOT = Path(__file__).resolve().parents[2]


def test_no_import_crosses_a_forbidden_line_and_no_circle():
    assert import_violations(ROOT) == []


def test_transforms_open_no_file_build_no_session_own_no_cache_and_no_code_reaches_into_the_jvm():
    assert purity_violations(ROOT) == []


@pytest.fixture
def tree(tmp_path):
    """A copy of the code packages to plant violations in."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _plant(tree: Path, module: str, source: str) -> None:
    path = tree / Path(*module.split(".")).with_suffix(".py")
    path.write_text(source, encoding="utf-8")


@pytest.mark.parametrize("module, source, found", [
    ("transforms.release.bad", "from jobs.runtime.config import load_pipeline\n", "transforms.release may not import jobs.runtime.config"),
    ("transforms.kanon.bad", "from transforms.policy import Policy\n", "transforms.kanon may not import transforms.policy"),
    ("transforms.columns.bad", "def f():\n    from transforms.release import rare\n", "transforms.columns may not import transforms.release.rare"),
    ("expectations.bad", "import jobs.runtime.session\n", "expectations may not import jobs.runtime.session"),
    ("jobs.runtime.bad", "from jobs.stages.release.plan import plan\n", "jobs.runtime may not import jobs.stages.release.plan"),
    ("synth.bad", "from jobs import generate\n", "synth may not import jobs.generate"),
])
def test_a_planted_forbidden_import_is_found(tree, module, source, found):
    _plant(tree, module, source)
    assert any(found in v for v in import_violations(tree)), import_violations(tree)


def test_a_planted_import_circle_is_found_even_behind_a_function_local_import(tree):
    _plant(tree, "transforms.policy.a", "from transforms.policy.b import x\ny = 1\n")
    _plant(tree, "transforms.policy.b", "x = 1\ndef f():\n    from transforms.policy.a import y\n")
    assert "import circle: transforms.policy.a -> transforms.policy.b" in import_violations(tree)


@pytest.mark.parametrize("source, found", [
    ("def f(p):\n    return open(p).read()\n", "open() opens a file"),
    ("def f(p):\n    return p.read_text()\n", "read_text() reads a file"),
    ("def f(spark, p):\n    return spark.read.parquet(p)\n", "parquet() reads or writes Parquet"),
    ("def f(df, p):\n    df.write.format('delta').save(p)\n", "save() writes a table"),
    ("from pyspark.sql import SparkSession\nS = SparkSession.builder.getOrCreate()\n", "creates a session"),
    ("def f(df):\n    return df.persist()\n", "persist() owns a cache"),
    ("def f(df):\n    df.unpersist()\n", "unpersist() owns a cache"),
    ("def f(df):\n    return df.localCheckpoint()\n", "localCheckpoint() owns a cache"),
    ("def f(df):\n    return df._jdf.queryExecution()\n", "reaches into JVM internals (_jdf)"),
])
def test_a_planted_impurity_in_transforms_is_found(tree, source, found):
    _plant(tree, "transforms.columns.bad", source)
    assert any(found in v for v in purity_violations(tree)), purity_violations(tree)


def test_jobs_may_keep_frames_but_not_reach_into_the_jvm(tree):
    _plant(tree, "jobs.runtime.bad", "def f(df):\n    return df.persist()\n")
    assert purity_violations(tree) == []
    _plant(tree, "jobs.runtime.bad", "def f(spark):\n    return spark.sparkContext._jsc.getPersistentRDDs()\n")
    assert [v for v in purity_violations(tree) if "_jsc" in v] == ["jobs/runtime/bad.py:2: reaches into JVM internals (_jsc)"]


def test_every_module_of_the_code_packages_lives_in_a_room():
    from helpers.architecture import modules

    assert [m for m in modules(ROOT) if room(m) is None] == []
