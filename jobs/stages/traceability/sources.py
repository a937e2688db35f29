"""Where the traceability page's sources are: the reference in ../shared, the tests and the reasons
file of this repository. Defaults are found from the repository this code runs in, not the cwd."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobs.runtime.errors import InputError
from jobs.runtime.shared import ENV, REPO, find_shared
from jobs.stages.traceability.catalog import read_catalog
from jobs.stages.traceability.citations import find_citations
from jobs.stages.traceability.trace import UNTESTED_FILE, Trace, build_trace
from jobs.stages.traceability.untested import read_untested

PAGE = "docs/requirements.md"


@dataclass(frozen=True)
class Sources:
    reference: Path
    tests: Path
    untested: Path
    root: Path  # test paths on the page are relative to it

    @classmethod
    def of_repository(cls, root: Path = REPO, reference: Path | None = None) -> Sources:
        if reference is None:
            shared = find_shared(root)
            if shared is None:
                raise InputError(f"no shared folder beside {root} (an ancestor with shared/DESIGN.md): set {ENV} "
                                 "to it or pass --reference")
            reference = shared / "reference" / "legal_requirements.md"
        return cls(reference, root / "tests", root / UNTESTED_FILE, root)


def trace_sources(sources: Sources) -> Trace:
    catalog = read_catalog(sources.reference)
    untested = read_untested(sources.untested, catalog.numbers())
    return build_trace(catalog, find_citations(sources.tests, sources.root), untested)
