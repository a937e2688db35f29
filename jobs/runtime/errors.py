"""Exit codes of the contract (DESIGN.md): 0 done, 1 refused, 2 bad input or config."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from functools import wraps

from jobs.runtime.config import ConfigError
from jobs.runtime.session import JavaMissingError

EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT = 0, 1, 2

log = logging.getLogger("tokumei")


class InputError(Exception):
    """Bad input data or arguments; the message names the file, table, column or line."""


class RefusedError(Exception):
    """The run was refused: validation failed, the policy was violated, a release exists."""


def entrypoint(fn: Callable[[Sequence[str] | None], int]) -> Callable[..., int]:
    """Map tokumei's exceptions to the contract's exit codes with a one-line message on stderr."""

    @wraps(fn)
    def wrapper(argv: Sequence[str] | None = None) -> int:
        _configure_logging()
        try:
            return fn(argv)
        except (ConfigError, InputError, JavaMissingError) as exc:
            print(f"tokumei: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except RefusedError as exc:
            print(f"tokumei: refused: {exc}", file=sys.stderr)
            return EXIT_REFUSED

    return wrapper


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "great_expectations", "openlineage"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
