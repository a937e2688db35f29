"""`python -m jobs.masters`: reference files built from the 支払基金 基本マスター (../shared/reference/masters).

    --out FILE             the diagnosis hierarchy: every 傷病名コード -> ICD-10 -> category -> chapter
    --remap-catalog FILE   the generator's 傷病名 catalog rewritten in place onto real 傷病名コード

Both are committed under conf/hierarchies/ (see its README.md); run from the repository root.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from jobs.runtime.errors import InputError, entrypoint
from jobs.stages.masters import catalog_text, hierarchy_text, read_catalog, read_disease_master, remap_catalog


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jobs.masters", description=__doc__.split("\n\n")[0])
    p.add_argument("--disease-master", required=True, type=Path,
                   help="傷病名マスター (e.g. ../shared/reference/masters/b_20240601.txt, CP932)")
    p.add_argument("--out", type=Path, help="write the diagnosis hierarchy CSV here")
    p.add_argument("--remap-catalog", type=Path, help="rewrite this 傷病名 catalog onto master codes")
    return p


def _write(path: Path, text: str) -> None:
    """A committed reference file: plain UTF-8, LF, the permissions of any file of the checkout."""
    path.write_text(text, encoding="utf-8", newline="")


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.out is None and args.remap_catalog is None:
        raise InputError("nothing to do: give --out, --remap-catalog or both")
    master = read_disease_master(args.disease_master)
    source = args.disease_master.name
    unclassified = sum(1 for d in master if not d.icd10)
    abolished = sum(1 for d in master if d.abolished)
    print(f"python -m jobs.masters: {args.disease_master}: {len(master)} codes, "
          f"{len(master) - unclassified} with an ICD-10, {unclassified} without, {abolished} abolished")
    if args.out is not None:
        _write(args.out, hierarchy_text(master, source))
        print(f"  wrote {args.out}")
    if args.remap_catalog is not None:
        header, rows = read_catalog(args.remap_catalog)
        remapped = remap_catalog(rows, master, str(args.remap_catalog))
        _write(args.remap_catalog, catalog_text(header, remapped, source))
        counts = Counter(r.how for r in remapped)
        print(f"  remapped {args.remap_catalog}: {len(remapped)} rows; "
              + ", ".join(f"{n} {how}" for how, n in counts.most_common()))
        for r in remapped:
            if r.how not in ("kept", "name"):
                print(f"    {r.old_code} {r.old_name} {r.old_icd10} -> {r.row['disease_code']} {r.row['name']} "
                      f"{r.row['icd10']} ({r.how})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
