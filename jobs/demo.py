"""`make demo`: generate a small synthetic data set, run the whole pipeline, print where things are.

Synthetic data only: the pseudonym key comes from $TOKUMEI_KEY_DEMO, which the Makefile sets to a
throwaway value. Never point the demo at real data.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from jobs import generate, run
from jobs.runtime.args import add_conf
from jobs.runtime.errors import entrypoint
from jobs.runtime.warehouse import Warehouse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jobs.demo", description=__doc__.splitlines()[0])
    p.add_argument("--dir", default="build/demo", help="where the data and the warehouse go (default: %(default)s)")
    p.add_argument("--patients", type=int, default=2000)
    p.add_argument("--months", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--release-id", default="demo")
    add_conf(p)
    return p


@entrypoint
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = Path(args.dir)
    data, wh = root / "input", root / "warehouse"
    shutil.rmtree(data, ignore_errors=True)  # the demo's synthetic input is regenerated every time
    code = generate.main(["--out", str(data), "--patients", str(args.patients), "--months", str(args.months),
                   "--seed", str(args.seed), "--conf", args.conf])
    if code:
        return code
    code = run.main(["--input", str(data), "--warehouse", str(wh), "--release-id", args.release_id,
                     "--conf", args.conf])
    if code:
        return code
    release = Warehouse(str(wh)).local_path(Warehouse(str(wh)).release(args.release_id)).resolve()
    print()
    print(f"release:  {release}")
    print(f"manifest: {release / 'manifest.json'}")
    print(f"report:   {release / 'report.html'}")
    print(f"notices:  {release / 'notices'} (作成時公表・第三者提供時公表・明示)")
    print(f"tables:   {', '.join(sorted(p.name for p in (release / 'tables').iterdir()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
