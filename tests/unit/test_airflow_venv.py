"""tests/e2e/test_airflow.py finds Airflow where `make airflow-venv` installs it (tests/helpers/airflow.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers.airflow import airflow_cli
from helpers.shared import REPO


def test_the_airflow_command_is_the_one_make_installs_or_tokumei_airflow(tmp_path, monkeypatch):
    monkeypatch.delenv("TOKUMEI_AIRFLOW", raising=False)
    made = subprocess.run(["make", "-s", "--no-print-directory", "print-airflow-venv"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert airflow_cli() == Path(made.stdout.strip()) / "bin" / "airflow"
    monkeypatch.setenv("TOKUMEI_AIRFLOW", str(tmp_path / "airflow"))
    assert airflow_cli() == tmp_path / "airflow"
