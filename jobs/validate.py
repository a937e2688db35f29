"""`tokumei validate`: run the Great Expectations suites built from the policy on a staged release.

Writes `WH/staging/<RID>/validation/` (one JSON result per table, `summary.json`, GX Data Docs
HTML) and exits 1 when any expectation fails: nothing reaches `releases/` without passing here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jobs.runtime.args import add_conf, add_no_docs, add_release_id, add_warehouse
from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import RefusedError, entrypoint
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokumei validate", description=__doc__.splitlines()[0])
    add_warehouse(p)
    add_release_id(p, "the staged release to validate")
    add_conf(p)
    add_no_docs(p)
    return p


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # here, not at import: Great Expectations takes 2 of the 3.6 s `tokumei validate --help` took with it
    from jobs.stages.release.validate import staged_record, validate

    cfg = load_pipeline(args.conf)
    wh = Warehouse(args.warehouse)
    staged_record(wh, args.release_id)  # fail fast, before Spark starts
    spark = get_spark(cfg.spark)
    summary = validate(spark, cfg, wh, args.release_id, docs=not args.no_docs)
    where = wh.staging(args.release_id, "validation")
    if not summary["success"]:
        raise RefusedError(f"validation failed ({len(summary['failed'])} expectations): {'; '.join(summary['failed'][:5])}; see {where}")
    print(f"validated {args.release_id}: {summary['expectations']} expectations passed; results in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
