"""`tokumei generate`: synthetic UKE claim files, clinical extracts and the restricted truth.

    DIR/uke/<10-digit institution code>/<billing YYYYMM>/RECEIPTC.UKE   CP932, CRLF
                                                      /RECEIPTD.UKE   with --dpc
    DIR/uke/<10-digit pharmacy code>/<billing YYYYMM>/RECEIPTY.CYO      with --pharmacy
    DIR/uke/<10-digit dental clinic code>/<billing YYYYMM>/RECEIPTS.UKE with --dental
    DIR/clinical/patients/part-NNNNN.csv, DIR/clinical/labs/part-NNNNN.csv   UTF-8 with header
    DIR/_truth/<table>/part-NNNNN.snappy.parquet + README.txt            restricted test material

The same arguments give byte-identical trees: every draw is a hash of (seed, entity, purpose)
(synth/draws.py), partitions are fixed by the arguments, rows are sorted within them,
and Spark's part files are renamed and its _SUCCESS/.crc files removed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import synth
from jobs.runtime.args import add_conf
from jobs.runtime.config import load_pipeline, resolve_conf_path
from jobs.runtime.errors import InputError, entrypoint
from jobs.runtime.session import get_spark
from jobs.stages.generate import GENERATOR_CONF, generate, prepare_out, session_conf, tree_bytes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tokumei generate", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory (must be empty unless --overwrite)")
    p.add_argument("--patients", type=int, default=1000, help="number of people (default 1000)")
    p.add_argument("--months", type=int, default=3, help="service months (default 3); billing is the month after")
    p.add_argument("--institutions", type=int, default=None, help="default max(5, patients/200)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--era-dates", action="store_true", help="write 和暦 dates (GYYMMDD/GYYMM) instead of 西暦")
    p.add_argument("--pharmacy", action="store_true",
                   help="also write 調剤 claim files (RECEIPTY.CYO) for the prescriptions institutions send out")
    p.add_argument("--dpc", action="store_true",
                   help="bill the inpatient stays at DPC hospitals (200 beds or more) as DPC claim files "
                        "(RECEIPTD.UKE, beside the hospital's RECEIPTC.UKE) instead of 医科 receipts")
    p.add_argument("--dental", action="store_true",
                   help="also write 歯科 claim files (RECEIPTS.UKE) of dental clinics, for a quarter of the "
                        "person-months with an outpatient 医科 receipt, with the same insurance identity")
    p.add_argument("--start-month", default="2025-01", help="first service month YYYY-MM (default 2025-01)")
    add_conf(p, "pipeline config (Spark settings)")
    p.add_argument("--catalogs", default="conf/hierarchies", help="directory of the reference CSVs")
    p.add_argument("--overwrite", action="store_true", help="replace uke/, clinical/ and _truth/ in --out")
    return p


def _params(args: argparse.Namespace) -> synth.Params:
    match = re.fullmatch(r"(\d{4})-(\d{2})", args.start_month)
    if not match or not 1 <= int(match.group(2)) <= 12 or not 1990 <= int(match.group(1)) <= 2090:
        raise InputError(f"--start-month {args.start_month!r}: expected YYYY-MM between 1990-01 and 2090-12")
    institutions = args.institutions if args.institutions is not None else max(5, args.patients // 200)
    checks = [("--patients", args.patients, 1, 100_000_000), ("--months", args.months, 1, 120),
              ("--institutions", institutions, 1, synth.MAX_INSTITUTIONS)]
    for flag, value, lo, hi in checks:
        if not lo <= value <= hi:
            raise InputError(f"{flag} {value}: must be between {lo} and {hi}")
    start = dt.date(int(match.group(1)), int(match.group(2)), 1)
    return synth.Params(args.patients, args.months, institutions, args.seed, start, args.era_dates, args.pharmacy,
                        args.dpc, args.dental)














# The generator's wide projections compile to methods above HotSpot's 8 KB JIT limit (and one above
# the 64 KB class-file limit, whose compile fails), so whole-stage code runs interpreted: measured
# 1.4-1.7x slower for people, pairs and receipts than Spark's per-operator code.






@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    params = _params(args)
    cfg = load_pipeline(args.conf)
    try:
        catalogs = synth.load_catalogs(resolve_conf_path(args.catalogs))
    except synth.CatalogError as exc:
        raise InputError(str(exc)) from exc
    out = Path(args.out)
    prepare_out(out, args.overwrite)
    spark = get_spark(cfg.spark)
    t0 = time.monotonic()
    with session_conf(spark, GENERATOR_CONF):
        counts = generate(spark, params, catalogs, out)
    seconds = time.monotonic() - t0
    print(f"tokumei generate: {out}: {params.patients} patients x {params.months} months, "
          f"{params.institutions} institutions, seed {params.seed}{' (和暦)' if params.era_dates else ''}")
    print(f"  {counts['files']} UKE files, {counts['receipts']} receipts, {counts['lines']} lines; "
          f"{tree_bytes(out / 'uke')} bytes UKE, {tree_bytes(out)} bytes in total; {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
