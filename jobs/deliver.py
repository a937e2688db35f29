"""`tokumei deliver`: deliver a published release to one recipient and append its 提供記録.

Refused (exit 1) before Spark starts when the release's 作成時公表 and 第三者提供時公表 are not recorded
as published (`tokumei notices publish`) or the lead time after the 第三者提供時公表 has not passed
(requirements 30, 31), when the recipient has no contract id (32), when a 仮名加工医療情報 recipient's
certification is missing or not valid on the delivery day (39), or when the release was keyed for
another recipient (15). Otherwise it writes the 明示 for the recipient beside the release and appends
one row to the provision ledger `WH/releases/_provisions` (requirement 49).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jobs.runtime.args import (
    add_conf,
    add_recipient,
    add_recipients,
    add_release_id,
    add_warehouse,
    parse_date,
)
from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import InputError, entrypoint
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse
from jobs.stages.release.deliver import deliver, plan_delivery
from jobs.stages.release.placeholders import check_producer
from jobs.stages.release.plan import today_jst


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokumei deliver", description=__doc__.splitlines()[0])
    add_warehouse(p)
    add_release_id(p, "the published release to deliver")
    add_recipient(p, "recipient id in the registry", required=True)
    p.add_argument("--date", type=parse_date, metavar="YYYY-MM-DD",
                   help="the day of the delivery (default: today in Japan; not in the future)")
    add_recipients(p)
    add_conf(p)
    return p


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = load_pipeline(args.conf)
    check_producer(cfg.producer, args.conf)
    wh = Warehouse(args.warehouse)
    today = today_jst()
    day = args.date or today
    if day > today:
        raise InputError(f"--date {day}: 提供日が未来の日付です（今日 {today}）。提供した日を指定してください")
    plan = plan_delivery(wh, args.release_id, args.recipient, args.recipients, day, cfg.producer.provision_lead_days)
    row = deliver(get_spark(cfg.spark), cfg, wh, plan)
    print(f"delivered {args.release_id} to {args.recipient}: 提供ID {row['delivery_id']}, "
          f"明示 {wh.root}/{row['explicit_notice']}, 提供記録 {wh.provisions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
