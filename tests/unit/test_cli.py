"""The console script: help everywhere, exit code 2 with file and key for config errors.

These run `python -m jobs.cli` in a subprocess, as a user would; config errors are caught before
Spark starts, so they take a second each.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.cli import COMMANDS, module_of

GOOD = "keys:\n  key_id: demo\n"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobs.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_top_level_help_lists_every_command():
    result = _cli("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command):
    result = _cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert f"tokumei {command}" in result.stdout


def test_unknown_command_exits_2():
    result = _cli("anonymise")
    assert result.returncode == 2 and "unknown command 'anonymise'" in result.stderr


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (GOOD + "spark:\n  shuffle_partitons: 2\n", "spark.shuffle_partitons", "unknown key"),
        ("spark:\n  shuffle_partitions: 2\n", "keys", "required key is missing"),
        ("keys:\n  key_id: demo\n  env_prefix: 5\n", "keys.env_prefix", "expected str"),
    ],
)
def test_config_errors_exit_2_naming_file_and_key(tmp_path, text, key, words):
    conf = tmp_path / "pipeline.yaml"
    conf.write_text(text, encoding="utf-8")
    result = _cli("publish", "--warehouse", str(tmp_path / "wh"), "--release-id", "r1", "--conf", str(conf))
    assert result.returncode == 2
    assert str(conf) in result.stderr and key in result.stderr and words in result.stderr


def test_missing_config_file_exits_2_naming_it(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = _cli("validate", "--warehouse", str(tmp_path / "wh"), "--release-id", "r1", "--conf", str(missing))
    assert result.returncode == 2 and f"{missing}: file not found" in result.stderr


SHARED_OPTIONS = ("--conf", "--warehouse", "--release-id", "--profile", "--recipient", "--policy", "--recipients",
                  "--layouts", "--no-docs", "--break-lock")


@pytest.mark.parametrize("option", SHARED_OPTIONS)
def test_shared_options_are_defined_once_in_jobs_runtime_args(option):
    root = Path(__file__).resolve().parents[2]
    defined = sorted(str(p.relative_to(root)) for p in (root / "jobs").rglob("*.py")
                     if f'add_argument("{option}"' in p.read_text(encoding="utf-8"))
    # jobs/demo.py's --release-id is optional with a default ("demo"): a different option.
    assert defined == (["jobs/demo.py", "jobs/runtime/args.py"] if option == "--release-id" else ["jobs/runtime/args.py"])


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - {"requirements"}))  # it reads no pipeline config
def test_every_command_reads_conf_pipeline_yaml_by_default(command):
    parser = importlib.import_module(module_of(command)).build_parser()
    assert parser.get_default("conf") == "conf/pipeline.yaml"
