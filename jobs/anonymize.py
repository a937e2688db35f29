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
import datetime as dt
import sys
from collections.abc import Sequence

from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import entrypoint
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse, check_release_id
from jobs.stages.release.anonymize import anonymize
from jobs.stages.release.plan import plan, refuse_published
from jobs.stages.release.recipients import DEFAULT_REGISTRY


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokumei anonymize", description=__doc__.splitlines()[0])
    p.add_argument("--warehouse", required=True, help="warehouse root (local path or URI)")
    p.add_argument("--release-id", required=True, help="id of the staged release to write")
    p.add_argument("--profile", required=True, choices=("anonymized", "pseudonymized"),
                   help="anonymized = 匿名加工医療情報; pseudonymized = 仮名加工医療情報 (needs --recipient)")
    p.add_argument("--recipient", help="recipient id in the registry (required for pseudonymized)")
    p.add_argument("--conf", default="conf/pipeline.yaml", help="pipeline config (default: %(default)s)")
    p.add_argument("--policy", help="policy YAML (default: the profile's entry in the pipeline config)")
    p.add_argument("--recipients", default=DEFAULT_REGISTRY, help="recipient registry (default: %(default)s)")
    add_parallel(p)
    add_extraction_date(p)
    return p


def add_parallel(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parallel", type=int, help="tables written at the same time "
                                                "(default: tuning.parallel_tables in the pipeline config)")


def add_extraction_date(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extraction-date", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                   help="the day the release is extracted, for the waiting period after the notice "
                        "(requirement 43; default: today in Japan)")


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
