"""The machinery of the test tiers (tests/helpers/tiers.py, tests/helpers/shared.py): the folder is the
tier, a unit test cannot get a SparkSession, and ../shared is found without an absolute path."""

import pytest
from helpers.shared import find_shared
from helpers.tiers import TESTS, SparkGuard, tier_of


def test_the_folder_under_tests_is_the_tier():
    assert tier_of(TESTS / "unit" / "test_x.py") == "unit"
    assert tier_of(TESTS / "e2e" / "sub" / "test_x.py") == "e2e"
    assert tier_of(TESTS / "helpers" / "bronze.py") is None
    assert tier_of(TESTS / "test_flat.py") is None
    assert tier_of(TESTS.parent / "jobs" / "run.py") is None


def test_spark_guard_refuses_and_records_every_way_to_a_session():
    from pyspark.sql import SparkSession

    from jobs.runtime.session import get_spark

    originals = {name: SparkSession.__dict__[name] for name in ("getActiveSession", "active")}
    with SparkGuard() as guard:
        with pytest.raises(RuntimeError, match="must not use Spark"):
            get_spark()  # what every job calls
        with pytest.raises(RuntimeError, match="must not use Spark"):
            SparkSession.builder.master("local[1]").getOrCreate()
        with pytest.raises(RuntimeError, match="must not use Spark"):
            SparkSession.active()
    assert guard.violations() == ["SparkSession.getActiveSession", "SparkSession.builder.getOrCreate",
                                  "SparkSession.active"]
    assert {name: SparkSession.__dict__[name] for name in originals} == originals  # restored after the block
    assert SparkGuard().violations() == []


def test_shared_dir_is_the_env_variable_or_the_first_ancestor_with_shared_design(tmp_path):
    checkout = tmp_path / "a" / "b" / "repo"
    checkout.mkdir(parents=True)
    assert find_shared(checkout, {}) is None
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "DESIGN.md").write_text("x", encoding="utf-8")
    assert find_shared(checkout, {}) == tmp_path / "shared"
    (tmp_path / "a" / "shared").mkdir()  # nearer, but not the shared folder: no DESIGN.md
    assert find_shared(checkout, {}) == tmp_path / "shared"
    (tmp_path / "a" / "shared" / "DESIGN.md").write_text("x", encoding="utf-8")
    assert find_shared(checkout, {}) == tmp_path / "a" / "shared"
    assert find_shared(checkout, {"TOKUMEI_SHARED": str(tmp_path / "elsewhere")}) == tmp_path / "elsewhere"


def test_this_checkout_finds_shared(shared_dir):
    assert (shared_dir / "DESIGN.md").is_file() and (shared_dir / "fixtures" / "uke").is_dir()
