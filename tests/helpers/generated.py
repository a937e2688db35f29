"""A generated claim set in both date systems, ingested once into one warehouse: the round trips of
tests/e2e/test_generate_pharmacy.py, test_generate_dpc.py and test_generate_dental.py."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from helpers.keys import TEST_KEY
from jobs.generate import main as generate
from jobs.runtime.warehouse import Warehouse
from jobs.stages.ingest.pipeline import run_ingest

# Folder under the set's root -> extra `tokumei generate` arguments.
SYSTEMS = {"seireki": [], "wareki": ["--era-dates"]}


def generated_and_ingested(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, name: str,
                           args: Sequence[str]) -> tuple[Path, Warehouse]:
    """`tokumei generate ARGS` once per date system under ROOT/<system>, then one ingest of ROOT."""
    root = tmp_path_factory.mktemp(f"generated_{name}")
    for system, extra in SYSTEMS.items():
        command = ["--out", str(root / system), *args, *extra]
        assert generate(command) == 0, command
    wh = Warehouse(str(tmp_path_factory.mktemp(f"wh_generated_{name}") / "wh"))
    run_ingest(spark, str(root), wh.root, key=TEST_KEY)
    return root, wh
