"""`tokumei erase`: the deletion duty (消去義務, requirement 46; deletion on request, 44).

Deletes a patient, source files or an institution from every bronze, identity and staging table
(Delta DELETE), VACUUMs with `erase.vacuum_retention_hours` so time travel cannot bring the rows back,
and appends a row to the erasure record (WH/records/erasure). `--expired` applies `retention.days`.
Published releases are never changed: the command lists those that held the subject, so that their
recipients can be notified. Erase holds the warehouse's bronze lock (WH/_locks/bronze.lock) like ingest,
and the lock of each staged candidate it removes: it refuses at once (exit 1) while another writer runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from jobs.runtime.args import add_break_lock, add_conf, add_layouts, add_warehouse
from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import InputError, entrypoint
from jobs.runtime.keys import load_key_checked
from jobs.runtime.lock import warehouse_lock
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse
from jobs.stages.erase import erase, erase_expired
from jobs.stages.erase.subject import file_subject, institution_subject, patient_subject


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tokumei erase",
        description="Erase a patient, source files or an institution from bronze and staging (Delta DELETE + "
        "VACUUM) and record it; published releases are listed, never changed. --expired applies retention.days.",
    )
    add_warehouse(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--patients", metavar="CSV", help="CSV with the opt-out registry's identity columns "
                      "(insurer_no, card_symbol, card_number, branch_no, birth_date, sex, kana_name), one row a person")
    what.add_argument("--file", action="append", metavar="SHA256|PATH", help="a source file by sha256 or by path "
                      "as ingested (repeatable)")
    what.add_argument("--institution", metavar="CODE", help="10-digit 医療機関コード (都道府県 2 + 点数表 1 + コード 7)")
    what.add_argument("--expired", action="store_true", help="apply retention.days of the pipeline config")
    p.add_argument("--reason", required=True, help="why (recorded in the erasure record), e.g. 停止の求め 2026-0001")
    p.add_argument("--operator", default=None, help="who runs it (default: $USER)")
    add_conf(p)
    add_layouts(p)
    add_break_lock(p)
    return p


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.reason = args.reason.strip()
    if not args.reason:
        raise InputError("--reason is empty: say why the data are erased (it is recorded)")
    args.operator = (args.operator or os.environ.get("USER") or "").strip()
    if not args.operator:
        raise InputError("--operator is missing and $USER is not set: say who runs the erase (it is recorded)")
    return args


def _mode(args: argparse.Namespace) -> str:
    """How the lock file names the run: the mode only (which patients or files are erased stays out of it)."""
    return next(f"--{m}" for m in ("patients", "file", "institution", "expired") if getattr(args, m))


def notice(summary: dict[str, Any]) -> str:
    """What the operator reads: what was deleted, and which published releases held the subject."""
    lines = [f"消去しました（{summary['description']}）。", "削除した行数: " + (", ".join(
        f"{t} {n}" for t, n in sorted(summary["rows_deleted"].items()) if n) or "なし")]
    if summary["staging_removed"]:
        lines.append("ステージング候補を削除しました: " + ", ".join(summary["staging_removed"])
                     + "。必要なら tokumei anonymize で作り直してください。")
    releases = summary["releases"]
    if releases:
        lines.append("公開済みのリリースは変更していません。次のリリースに対象が含まれていました: " + ", ".join(
            f"{r['release_id']}（{r['evidence']}）" for r in releases))
        lines.append("これらの提供先に通知し、提供済みデータの削除を求めてください（要件44）。")
    else:
        lines.append("対象を含む公開済みのリリースはありません。")
    lines.append("受領記録は法定記録のため変更していません（消去記録に記載）。")
    return "\n".join(lines)


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = load_pipeline(args.conf)
    wh = Warehouse(args.warehouse)
    key = load_key_checked(cfg.keys, cfg.keys.key_id, args.conf) if args.patients else None
    with warehouse_lock(wh, f"tokumei erase {_mode(args)}", break_lock=args.break_lock):
        spark = get_spark(cfg.spark)
        if args.expired:
            summary = erase_expired(spark, cfg, wh, args.operator, args.reason, args.layouts, args.break_lock)
        else:
            if args.patients:
                assert key is not None
                subject = patient_subject(spark, wh, args.patients, key)
            elif args.file:
                subject = file_subject(spark, wh, args.file)
            else:
                subject = institution_subject(spark, wh, args.institution)
            summary = erase(spark, cfg, wh, subject, args.operator, args.reason, args.layouts, break_lock=args.break_lock)
    print(notice(summary))
    print(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(None))
