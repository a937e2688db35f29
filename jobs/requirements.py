"""`tokumei requirements`: write docs/requirements.md, each legal requirement with its tests.

The requirements are those of ../shared/reference/legal_requirements.md; a test cites one by its
name (`test_reqNN_...`); docs/requirements_untested.yaml says why a requirement cannot be checked by
software, or that its test is being built. Exit 1 when a software-checkable requirement has no test
(the page is written all the same, with the requirement marked), or with --check when the page is
not what the sources give.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from jobs.runtime.errors import RefusedError, entrypoint
from jobs.runtime.shared import REPO
from jobs.stages.traceability import NOT_CHECKABLE, PENDING, TESTED, render
from jobs.stages.traceability.sources import PAGE, Sources, trace_sources


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokumei requirements", description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, help="the legal requirements reference "
                   "(default: reference/legal_requirements.md in ../shared or $TOKUMEI_SHARED)")
    p.add_argument("--out", type=Path, default=REPO / PAGE, help=f"page to write (default: {PAGE} of this repository)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if the page is out of date")
    return p


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    trace = trace_sources(Sources.of_repository(reference=args.reference))
    page = render(trace)
    refusals: list[str] = []
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
        if current != page:
            refusals.append(f"{args.out} is out of date with the tests and the reference: run make requirements")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(page, encoding="utf-8")
    if trace.problems:
        refusals.append(f"{len(trace.problems)} requirements lack a test or a reason (see {args.out}): "
                        + "; ".join(trace.problems))
    if refusals:
        raise RefusedError("; ".join(refusals))
    tested, explained = trace.count(TESTED), trace.count(NOT_CHECKABLE)
    print(f"{'checked' if args.check else 'wrote'} {args.out}: {tested} requirements tested, {explained} not "
          f"software-checkable, {trace.count(PENDING)} pending ({tested + explained} of {len(trace.rows)} with a "
          "test or a reason)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
