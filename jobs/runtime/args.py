"""The command-line options several commands share, defined once.

Their names, defaults and help are part of the interface: the Airflow DAG (dags/tokumei_stages.py)
and the Databricks bundle (databricks.yml) pass them, and `tokumei <command> --help` shows them.
Options only one command has stay in that command's `build_parser`.
"""

from __future__ import annotations

import argparse
import datetime as dt

from jobs.runtime.config import DEFAULT_LAYOUTS, DEFAULT_PIPELINE, DEFAULT_REGISTRY

PROFILES = ("anonymized", "pseudonymized")


def add_conf(p: argparse.ArgumentParser, help: str = "pipeline config (default: %(default)s)") -> None:
    p.add_argument("--conf", default=str(DEFAULT_PIPELINE), help=help)


def add_warehouse(p: argparse.ArgumentParser, help: str = "warehouse root (local path or URI)") -> None:
    p.add_argument("--warehouse", required=True, help=help)


def add_release_id(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--release-id", required=True, help=help)


def add_profile(p: argparse.ArgumentParser, *, required: bool) -> None:
    """Required (anonymize), or `anonymized` by default (run)."""
    default = "" if required else " (default)"
    p.add_argument("--profile", required=required, default=None if required else PROFILES[0], choices=PROFILES,
                   help=f"anonymized = 匿名加工医療情報{default}; pseudonymized = 仮名加工医療情報 (needs --recipient)")


def add_release_options(p: argparse.ArgumentParser, release_id_help: str, *, profile_required: bool) -> None:
    """What anonymize and run both take, in this order: the warehouse, the release id, the profile and
    its recipient, the pipeline config, the policy and the recipient registry."""
    add_warehouse(p)
    add_release_id(p, release_id_help)
    add_profile(p, required=profile_required)
    add_recipient(p, "recipient id in the registry (required for pseudonymized)")
    add_conf(p)
    p.add_argument("--policy", help="policy YAML (default: the profile's entry in the pipeline config)")
    add_recipients(p)


def add_recipient(p: argparse.ArgumentParser, help: str, *, required: bool = False) -> None:
    p.add_argument("--recipient", required=required, help=help)


def add_recipients(p: argparse.ArgumentParser, help: str = "recipient registry (default: %(default)s)") -> None:
    p.add_argument("--recipients", default=DEFAULT_REGISTRY, help=help)


def add_break_lock(p: argparse.ArgumentParser) -> None:
    p.add_argument("--break-lock", action="store_true",
                   help="break a lock left by a run that is no longer running (WH/_locks/; a holder alive on this "
                        "host is never broken, one on another host only after you checked it ended)")


def add_layouts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layouts", default=DEFAULT_LAYOUTS, help="clinical CSV layouts (default: %(default)s)")


def add_allow_unrecognized(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-unrecognized", action="store_true",
                   help="ingest the rest when --input holds files that are neither UKE nor a declared clinical "
                        "extract (default: refuse with exit 1 and name them)")


def add_no_docs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-docs", action="store_true", help="skip rendering GX Data Docs (HTML)")


def add_parallel(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parallel", type=int, help="tables written at the same time "
                                                "(default: tuning.parallel_tables in the pipeline config)")


def add_extraction_date(p: argparse.ArgumentParser) -> None:
    p.add_argument("--extraction-date", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                   help="the day the release is extracted, for the waiting period after the notice "
                        "(requirement 43; default: today in Japan)")


def parse_date(text: str) -> dt.date:
    """An argparse type: YYYY-MM-DD, or a usage error (exit 2) that says so."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use YYYY-MM-DD") from None
