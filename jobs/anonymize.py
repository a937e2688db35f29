"""`tokumei anonymize`: apply a policy profile to the bronze tables and write the staged release.

Reads every bronze table at a pinned Delta version, links patients into one keyed `pid` (the same
in every table of the release), applies each table's rules, builds the release table `patients`
(one row per pid) and writes `WH/staging/<RID>/tables/<table>` (Delta); the record
`WH/staging/<RID>/anonymize.json` is written last. Exit codes: 2 for a bad policy, config, key id or
recipient id (nothing is written); 1 when the run is refused (pseudonymized without a certified
recipient, release id already published, k not reachable within the suppression limit).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jobs.runtime.args import add_extraction_date, add_parallel, add_release_options
from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import entrypoint
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse, check_release_id
from jobs.stages.release.anonymize import anonymize
from jobs.stages.release.plan import plan, refuse_published


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokumei anonymize", description=__doc__.splitlines()[0])
    add_release_options(p, "id of the staged release to write", profile_required=True)
    add_parallel(p)
    add_extraction_date(p)
    return p


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = load_pipeline(args.conf)
    check_release_id(args.release_id)
    wh = Warehouse(args.warehouse)
    refuse_published(wh, args.release_id)
    p = plan(cfg, args.conf, args.profile, args.policy, args.recipient, args.recipients)
    spark = get_spark(cfg.spark)
    record = anonymize(spark, cfg, wh, args.release_id, p, args.extraction_date, args.parallel)
    print(f"staged {args.release_id} ({p.policy.regime}): {len(record['outputs'])} tables, "
          f"{record['counts']['patients']} patients; record {wh.staging(args.release_id, 'anonymize.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
