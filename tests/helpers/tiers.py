"""The test tiers and the guard that keeps the unit tier free of Spark (wired up in tests/conftest.py).

A test's tier is the folder it sits in under tests/: unit (no Spark at all: no `spark` fixture, no
JVM), spark (tiny literal DataFrames on the one shared session), e2e (whole stages and commands),
perf (the benchmark harness and the ARX benchmark).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

TIERS = ("unit", "spark", "e2e", "perf")  # also the order in which they run: cheapest first
TESTS = Path(__file__).resolve().parents[1]


def tier_of(path: Path, tests: Path = TESTS) -> str | None:
    """The tier folder `path` sits in under `tests`, or None outside every tier."""
    try:
        top = Path(path).resolve().relative_to(tests).parts[0]
    except (ValueError, IndexError):
        return None
    return top if top in TIERS else None


class SparkGuard:
    """While active, any attempt to get a SparkSession or to launch a JVM raises and is recorded.

    Recording matters as much as raising: a job's entry point may turn the error into an exit code
    that the test expects for another reason, so `violations()` is checked after the test whatever
    its outcome. A JVM that appears anyway (started by some other route) is reported too.
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._saved: list[tuple[Any, str, Any]] = []
        self._jvm_before = False

    def _refuse(self, what: str):
        def refuse(*_args: Any, **_kwargs: Any) -> Any:
            self.attempts.append(what)
            raise RuntimeError(f"a unit test must not use Spark: it called {what} (move it to tests/spark)")

        return refuse

    def __enter__(self) -> SparkGuard:
        from pyspark import context
        from pyspark.sql import session

        self._jvm_before = context.SparkContext._gateway is not None
        targets = [
            (context, "launch_gateway", self._refuse("pyspark launch_gateway (a JVM start)")),
            (session.SparkSession.Builder, "getOrCreate", self._refuse("SparkSession.builder.getOrCreate")),
            (session.SparkSession, "getActiveSession", staticmethod(self._refuse("SparkSession.getActiveSession"))),
            (session.SparkSession, "active", staticmethod(self._refuse("SparkSession.active"))),
        ]
        for owner, name, replacement in targets:
            self._saved.append((owner, name, owner.__dict__[name]))
            setattr(owner, name, replacement)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    def violations(self) -> list[str]:
        from pyspark import context

        found = list(self.attempts)
        if not self._jvm_before and context.SparkContext._gateway is not None:
            found.append("a JVM was started")
        return found
