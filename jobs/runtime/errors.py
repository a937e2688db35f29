"""The job errors and the exit codes of the contract (DESIGN.md): 0 done, 1 refused, 2 bad input or config.

Every error a job raises on purpose is a `TokumeiError` carrying its exit code; `entrypoint` turns it
into that code with a one-line message on stderr. This module imports nothing of the jobs, so config,
session and every stage can raise these errors without an import circle.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path

EXIT_REFUSED, EXIT_BAD_INPUT = 1, 2


class TokumeiError(Exception):
    """An error a job reports to its user: the exit code and a message naming what is wrong."""

    exit_code: int = EXIT_BAD_INPUT


class ConfigError(TokumeiError):
    """Bad config: the message names the file and the key path (`spark.shuffle_partitions`)."""

    def __init__(self, file: Path | str, key: str, message: str):
        self.file, self.key = str(file), key
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(where + message)


class InputError(TokumeiError):
    """Bad input data or arguments; the message names the file, table, column or line."""


class JavaMissingError(TokumeiError):
    """Java is absent or too old for Spark 4."""


class RefusedError(TokumeiError):
    """The run was refused: validation failed, the policy was violated, a release exists."""

    exit_code = EXIT_REFUSED


def entrypoint(fn: Callable[[Sequence[str] | None], int]) -> Callable[..., int]:
    """Map tokumei's exceptions to the contract's exit codes with a one-line message on stderr."""

    @wraps(fn)
    def wrapper(argv: Sequence[str] | None = None) -> int:
        _configure_logging()
        try:
            return fn(argv)
        except TokumeiError as exc:
            verdict = "refused" if exc.exit_code == EXIT_REFUSED else "error"
            print(f"tokumei: {verdict}: {exc}", file=sys.stderr)
            return exc.exit_code

    return wrapper


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "great_expectations", "openlineage"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
