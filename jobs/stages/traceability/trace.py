"""Each requirement with the tests that cite it, or why it has none; and what is wrong with that.

A requirement is `tested` (a test cites it), `not_software_checkable` (a reason is stated),
`pending` (its test is being built) or `missing`: software-checkable, and nothing checks it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jobs.runtime.errors import InputError
from jobs.stages.traceability.catalog import Catalog, Requirement
from jobs.stages.traceability.citations import Citation
from jobs.stages.traceability.untested import Untested

TESTED, NOT_CHECKABLE, PENDING, MISSING = "tested", "not_software_checkable", "pending", "missing"
STATUSES = (TESTED, NOT_CHECKABLE, PENDING, MISSING)
UNTESTED_FILE = "docs/requirements_untested.yaml"


@dataclass(frozen=True)
class Row:
    requirement: Requirement
    status: str
    tests: tuple[Citation, ...] = ()
    note: str = ""  # the reason (not_software_checkable) or who builds the test (pending)


@dataclass(frozen=True)
class Trace:
    catalog: Catalog
    rows: tuple[Row, ...]
    problems: tuple[str, ...]  # empty when every requirement is tested, explained or pending

    def count(self, status: str) -> int:
        return sum(row.status == status for row in self.rows)


def build_trace(catalog: Catalog, citations: Iterable[Citation], untested: Untested) -> Trace:
    by_number: dict[int, list[Citation]] = {n: [] for n in catalog.numbers()}
    for c in citations:
        for n in c.numbers:
            if n not in by_number:
                raise InputError(f"{c.path}:{c.line}: {c.test} cites requirement {n}, which the reference does not "
                                 f"have (1-{len(catalog.requirements)}): rename the test")
            by_number[n].append(c)
    rows, problems = [], []
    for req in catalog.requirements:
        tests, n = tuple(by_number[req.number]), req.number
        if tests:
            rows.append(Row(req, TESTED, tests))
            if n in untested.reasons:
                problems.append(f"requirement {n} has tests ({tests[0].node}) but {UNTESTED_FILE} says it is not "
                                "software-checkable: remove its reason")
            if n in untested.pending:
                problems.append(f"requirement {n} has tests now ({tests[0].node}): remove it from pending in {UNTESTED_FILE}")
        elif n in untested.reasons:
            rows.append(Row(req, NOT_CHECKABLE, note=untested.reasons[n]))
        elif n in untested.pending:
            rows.append(Row(req, PENDING, note=untested.pending[n]))
        else:
            rows.append(Row(req, MISSING))
            problems.append(f"requirement {n} ({req.title}) is software-checkable and no test cites it: name a test "
                            f"test_req{n}_..., or give the reason it cannot be checked in {UNTESTED_FILE}")
    return Trace(catalog, tuple(rows), tuple(problems))
