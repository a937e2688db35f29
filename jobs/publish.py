"""`tokumei publish`: promote a validated staged release; the manifest is written last.

A release exists when, and only when, `WH/releases/<RID>/manifest.json` exists (DESIGN.md decision 6).
Publishing refuses an id that is already published, a staged release that was not validated or that
changed after validation, a 仮名 release whose recipient's certification is no longer valid
(requirement 39), and producer settings that would leave placeholder text in the notices. A failed
publish leaves no manifest, so no half release is ever visible; a later publish of the same id
cleans the leftovers first. Publish holds the release id's lock (WH/_locks/release-<RID>.lock) from
before it looks at the warehouse: a second publish of the id refuses at once (exit 1) and leftovers
are only removed by a run that holds the lock (jobs/runtime/lock.py; --break-lock after a killed run).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jobs.runtime.args import add_break_lock, add_conf, add_recipients, add_release_id, add_warehouse
from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import entrypoint
from jobs.runtime.lock import release_lock
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse
from jobs.stages.release.placeholders import check_producer
from jobs.stages.release.publish import check_publishable, current_registry, publish


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokumei publish", description=__doc__.splitlines()[0])
    add_warehouse(p)
    add_release_id(p, "the staged release to publish")
    add_conf(p)
    add_recipients(p, "recipient registry: a 仮名 release's certification is checked again (default: %(default)s)")
    add_break_lock(p)
    return p


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = load_pipeline(args.conf)
    wh = Warehouse(args.warehouse)
    check_producer(cfg.producer, args.conf)  # refuse before Spark starts
    with release_lock(wh, args.release_id, f"tokumei publish --release-id {args.release_id}", break_lock=args.break_lock):
        check_publishable(wh, args.release_id, current_registry(cfg), args.recipients)
        spark = get_spark(cfg.spark)
        manifest = publish(spark, cfg, wh, args.release_id, args.recipients)
    print(f"published {args.release_id}: {wh.release(args.release_id)} ({len(manifest['outputs'])} tables)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
