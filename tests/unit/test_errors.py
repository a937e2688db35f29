"""One errors module: every job error is a TokumeiError, and `entrypoint` turns it into the exit code of
the contract (0 done, 1 refused, 2 bad input or config) with a one-line message on stderr."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from jobs.runtime import config, session
from jobs.runtime.errors import (
    ConfigError,
    InputError,
    JavaMissingError,
    RefusedError,
    TokumeiError,
    entrypoint,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (ConfigError("conf/p.yaml", "spark.ui", "expected bool"), 2, "tokumei: error: conf/p.yaml: spark.ui: expected bool"),
        (ConfigError("conf/p.yaml", "", "file not found"), 2, "tokumei: error: conf/p.yaml: file not found"),
        (InputError("labs.csv: 患者番号 missing"), 2, "tokumei: error: labs.csv: 患者番号 missing"),
        (JavaMissingError("Java 11 found"), 2, "tokumei: error: Java 11 found"),
        (RefusedError("release r1 is already published"), 1, "tokumei: refused: release r1 is already published"),
    ],
)
def test_entrypoint_maps_each_error_to_its_exit_code_and_message(capsys, error, code, line):
    @entrypoint
    def job(argv):
        raise error

    assert job([]) == code == error.exit_code
    assert capsys.readouterr().err == line + "\n"


def test_entrypoint_returns_what_the_job_returns_and_lets_other_exceptions_through(capsys):
    assert entrypoint(lambda argv: 0)([]) == 0
    with pytest.raises(KeyError):
        entrypoint(lambda argv: {}["x"])([])
    assert capsys.readouterr().err == ""


def test_every_job_error_is_a_tokumei_error_and_config_and_session_raise_the_same_classes():
    assert all(issubclass(e, TokumeiError) for e in (ConfigError, InputError, JavaMissingError, RefusedError))
    assert config.ConfigError is ConfigError and session.JavaMissingError is JavaMissingError
    err = ConfigError(Path("conf/p.yaml"), "keys.key_id", "required key is missing")
    assert (err.file, err.key) == ("conf/p.yaml", "keys.key_id")


def test_the_errors_module_imports_no_job_code():
    tree = ast.parse((ROOT / "jobs" / "runtime" / "errors.py").read_text(encoding="utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m == "jobs" or m.startswith("jobs.")]
