"""`tokumei run`: ingest, anonymize, validate and publish in one Spark session.

Every check that can fail without data (config, policy, keys, recipient, an already published
release id) runs before Spark starts. A failed validation stops before publish (exit 1): the last
good releases stay untouched and no half release becomes visible. The run holds the warehouse's bronze
lock and the release id's lock from before it reads the warehouse to its end, taken once: the stages
it calls take them again without effect (jobs/runtime/lock.py). A second run, ingest or publish that
needs one of them refuses at once (exit 1).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from jobs.runtime.args import (
    add_allow_unrecognized,
    add_break_lock,
    add_extraction_date,
    add_layouts,
    add_no_docs,
    add_parallel,
    add_release_options,
)
from jobs.runtime.config import PipelineConfig, load_pipeline
from jobs.runtime.errors import RefusedError, entrypoint
from jobs.runtime.lock import release_lock, warehouse_lock
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse, check_release_id
from jobs.stages.ingest.pipeline import run_ingest
from jobs.stages.release.anonymize import anonymize
from jobs.stages.release.placeholders import check_producer
from jobs.stages.release.plan import plan, refuse_published
from jobs.stages.release.publish import publish
from jobs.stages.release.validate import validate

log = logging.getLogger("tokumei.run")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokumei run", description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True, help="directory searched recursively for UKE files and clinical CSVs")
    add_release_options(p, "id of the release to publish (letters, digits, . _ -)", profile_required=False)
    add_layouts(p)
    add_allow_unrecognized(p)
    add_parallel(p)
    add_no_docs(p)
    add_extraction_date(p)
    add_break_lock(p)
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The four stages under the run's locks; returns {stage: seconds, ..., "manifest": manifest}."""
    cfg = load_pipeline(args.conf)
    check_release_id(args.release_id)
    wh = Warehouse(args.warehouse)
    command = f"tokumei run --release-id {args.release_id} --input {args.input}"
    with warehouse_lock(wh, command, break_lock=args.break_lock), \
            release_lock(wh, args.release_id, command, break_lock=args.break_lock):
        return _stages(cfg, wh, args)


def _stages(cfg: PipelineConfig, wh: Warehouse, args: argparse.Namespace) -> dict[str, Any]:
    refuse_published(wh, args.release_id)
    check_producer(cfg.producer, args.conf)
    p = plan(cfg, args.conf, args.profile, args.policy, args.recipient, args.recipients)
    spark = get_spark(cfg.spark)
    times: dict[str, Any] = {}
    t = time.perf_counter()
    times["ingest_summary"] = run_ingest(spark, args.input, args.warehouse, cfg.ingest, args.layouts, p.link, cfg.receipt,
                                         allow_unrecognized=args.allow_unrecognized)
    times["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    anonymize(spark, cfg, wh, args.release_id, p, args.extraction_date, args.parallel)
    times["anonymize"] = time.perf_counter() - t
    t = time.perf_counter()
    summary = validate(spark, cfg, wh, args.release_id, docs=not args.no_docs)
    times["validate"] = time.perf_counter() - t
    if not summary["success"]:
        where = wh.staging(args.release_id, "validation")
        raise RefusedError(f"validation failed, nothing published: {'; '.join(summary['failed'][:5])}; see {where}")
    t = time.perf_counter()
    times["manifest"] = publish(spark, cfg, wh, args.release_id, args.recipients)
    times["publish"] = time.perf_counter() - t
    return times


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = run(args)
    wh = Warehouse(args.warehouse)
    secs = ", ".join(f"{s} {out[s]:.1f}s" for s in ("ingest", "anonymize", "validate", "publish"))
    print(f"published {args.release_id}: {wh.release(args.release_id)} ({secs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
