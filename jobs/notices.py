"""`tokumei notices publish`: record that a release's 公表 were published (day, address, text's sha256).

The 作成時公表 and 第三者提供時公表 of a release (WH/releases/<RID>/notices/) are published by the
producer's own procedure, e.g. on its web site; this command records when and where, in
WH/releases/<RID>/notices/published.json (requirements 30, 31). `tokumei deliver` refuses until both
are recorded and `producer.provision_lead_days` have passed since the 第三者提供時公表. A notice is
recorded once; the day may not be in the future nor before the release was published.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from jobs.runtime.args import add_conf, add_release_id, add_warehouse, parse_date
from jobs.runtime.config import DEFAULT_PIPELINE, load_pipeline
from jobs.runtime.errors import entrypoint
from jobs.runtime.warehouse import Warehouse
from jobs.stages.release.notices import PUBLISHED_NOTICES
from jobs.stages.release.plan import today_jst
from jobs.stages.release.publication import record_publication


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokumei notices", description=__doc__.splitlines()[0])
    p.set_defaults(conf=str(DEFAULT_PIPELINE))  # the option itself belongs to the subcommand
    sub = p.add_subparsers(dest="action", required=True, metavar="{publish}")
    pub = sub.add_parser("publish", prog="tokumei notices publish", help="record that the notices were published",
                         description="Record the day (and address) a release's 公表 were published.")
    add_warehouse(pub)
    add_release_id(pub, "the published release whose notices were published")
    pub.add_argument("--date", required=True, type=parse_date, metavar="YYYY-MM-DD",
                     help="the day the notices were published (not in the future)")
    pub.add_argument("--url", help="where they were published (recorded with the day)")
    pub.add_argument("--notice", action="append", choices=PUBLISHED_NOTICES,
                     help="the notice published (repeatable; default: both)")
    add_conf(pub, "pipeline config: producer.provision_lead_days (default: %(default)s)")
    return p


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    lead = load_pipeline(args.conf).producer.provision_lead_days
    wh = Warehouse(args.warehouse)
    notices = tuple(dict.fromkeys(args.notice or PUBLISHED_NOTICES))
    record = record_publication(wh, args.release_id, notices, args.date, args.url, today_jst())
    done = ", ".join(f"{n} {record[n]['published_on']}" for n in PUBLISHED_NOTICES if n in record)
    print(f"recorded for {args.release_id}: {done} ({wh.release(args.release_id, 'notices', 'published.json')})")
    if "第三者提供時公表" in record:
        first = dt.date.fromisoformat(record["第三者提供時公表"]["published_on"]) + dt.timedelta(days=lead)
        print(f"提供（tokumei deliver）は {first} 以降に行えます（公表から {lead} 日, producer.provision_lead_days）")
    return 0


if __name__ == "__main__":
    sys.exit(main())
