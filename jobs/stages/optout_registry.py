"""The 停止の求め registry (requirements 42, 45) as ingest and anonymize read it: one loader for both.

The registry lives in the restricted zone (`ingest.optout_registry` in conf/pipeline.yaml): a CSV with a
header or a Delta table, one row per stop request. Ingest withholds and purges the people it names;
anonymize applies it again as it is at that moment, so a request registered after the last ingest
still keeps the person out of the next release (42(b)). Both match on the normalized identity
strings of transforms/identity/optout.py.

Its *version* (sha256 of the CSV file, or the Delta table's version) and its row count go into the
release record; never an identity. Publish compares the version a staging was built with to the
registry's current one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from jobs.runtime.config import resolve_conf_path
from jobs.runtime.delta_io import is_delta, last_commit
from jobs.runtime.errors import InputError
from transforms.identity.optout import CONFIRMATION_COLUMN, identity_sources, with_registry_types

SETTING = "ingest.optout_registry"  # the one conf key that names the registry, for ingest and anonymize


@dataclass(frozen=True)
class OptoutRegistry:
    """The registry as loaded: its normalized identities (cached), how many requests, which version."""

    ids: DataFrame  # `identity`: every ID1 (with and without 枝番) and ID2 a request names
    rows: int  # stop requests in the registry
    version: str  # "sha256:<hex>" of the CSV file, or "delta:<version>" of the Delta table

    def record(self) -> dict[str, Any]:
        """What a release record says about the registry: never a path or an identity."""
        return {"version": self.version, "rows": self.rows}


def registry_version(location: str, spark: SparkSession | None = None) -> str | None:
    """The registry's version without reading its rows: sha256 of a CSV file, the latest version of a
    local Delta table from its log's file names; a remote Delta table needs `spark` (else None)."""
    path = resolve_conf_path(location)
    if path.is_file():
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return f"sha256:{digest.hexdigest()}"
    log_dir = path / "_delta_log"
    versions = [int(p.name[:20]) for p in log_dir.glob("*.json") if p.name[:20].isdigit()] if log_dir.is_dir() else []
    if versions:
        return f"delta:{max(versions)}"
    if spark is not None and is_delta(spark, str(path)):
        return f"delta:{last_commit(spark, str(path))['version']}"
    return None


def load_optout_registry(spark: SparkSession, location: str | None) -> OptoutRegistry | None:
    """The registry with its version and row count; None if not configured.

    A configured registry that is missing, or has rows that could never match, stops the run: a stop
    request must never be ignored quietly (requirement 42).
    """
    if not location:
        return None
    path = resolve_conf_path(location)
    version = registry_version(location, spark)
    if is_delta(spark, str(path)):
        raw = spark.read.format("delta").load(str(path))
    elif Path(path).is_file():
        raw = spark.read.option("header", True).option("encoding", "UTF-8").csv(str(path))
    else:
        raise InputError(f"{SETTING} {location}: no CSV file or Delta table there; fix the path in conf/pipeline.yaml")
    try:
        typed = with_registry_types(raw)
    except ValueError as exc:
        raise InputError(f"{SETTING} {location}: {exc}") from exc
    # One small pass over the registry (a row per request): the rows that can never match, and the total.
    counts = {r["_bad"]: int(r["count"]) for r in typed.groupBy("_bad").count().collect()}
    bad = {k: n for k, n in counts.items() if k is not None}
    if bad:
        raise InputError(f"{SETTING} {location}: rows that can never match or lack a "
                         f"written confirmation, by column: {bad}")
    _check_confirmations(typed, Path(path), location)
    assert version is not None  # a local file or a Delta table, both checked above
    ids = identity_sources(typed.drop("_bad", CONFIRMATION_COLUMN), []).cache()
    return OptoutRegistry(ids, sum(counts.values()), version)


def load_registry(spark: SparkSession, location: str | None) -> DataFrame | None:
    """The registry's normalized identities only (what ingest matches); None if not configured."""
    registry = load_optout_registry(spark, location)
    return registry.ids if registry is not None else None


def _check_confirmations(typed: DataFrame, registry: Path, location: str) -> None:
    """Every local confirmation document a registry row links must exist (requirement 45).

    Relative links resolve against the folder holding the registry (CSV file or Delta folder); URIs
    (`s3://...`) are taken as given. The registry holds one row per stop request: small enough to
    list in the driver.
    """
    base = registry.parent
    docs = {r[0] for r in typed.select(CONFIRMATION_COLUMN).distinct().collect()}
    missing = sorted(d for d in docs if "://" not in d and not (base / d).is_file())
    if missing:
        raise InputError(f"{SETTING} {location}: {len(missing)} confirmation document(s) "
                         f"not found (書面確認の控えが見つからない; requirement 45): {missing[:5]}")

