"""`make bench-shapes`: ingest against the plain script and a text-to-Delta copy on two input shapes
(issue 18 item 3): many small files (`tokumei generate`, reference 50,000 patients x 6 months = 1,500
UKE files) and a few large ones (the real fixture repeated by `make_big_input`, reference 10,000,000
lines in 4 files).

Each shape is benched by `python -m bench.ingest_bench` in a fresh process, so the driver JVM's peak
memory (VmHWM, a peak since the JVM started) is that shape's alone; generate runs in its own process
too. Per shape: ingest lines/s, the plain script with 1 and with os.cpu_count() processes
(bench/script_baseline.py), the ratios of ingest's seconds to each and to the text copy, and the peak
RSS of the driver JVM and of the Python driver. One table row per shape is printed and the run is
appended to bench/results/<date>.json. Inputs stay under DIR/<shape>/input (`--reuse-input` keeps
them for the next run); warehouses are removed after each shape.

    python -m bench.ingest_shapes --dir build/bench-shapes --small-patients 50000 --small-months 6 \\
        --big-lines 10000000 --big-files 4 [--reuse-input] [--driver-memory 4g] [--fixture FILE]

`--scales 1,4,16` benches the scaling series instead (issue 18 item 4): at scale s, 4 x s files of
`--scale-lines-per-file` lines each (the fixture repeated, as the big shape), so the data grows the way a
producer's does, by more files of the same size; each scale in a fresh process, its input removed after.
The figures to read are seconds and driver memory against the scale: cost linear (16x the data in at
most 17x the time) and driver memory flat.

    python -m bench.ingest_shapes --dir build/bench-scaling --scales 1,4,16 --scale-lines-per-file 250000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.ingest_bench import make_big_input
from bench.run import save
from jobs.stages.release.manifest import code_version

REPO = Path(__file__).resolve().parents[1]


def _python(*args: str) -> None:
    """`python -m ...` from the repository root; its output goes to ours, a failure stops the run."""
    done = subprocess.run([sys.executable, "-m", *args], cwd=REPO, check=False)
    if done.returncode:
        raise SystemExit(f"python -m {' '.join(args)} failed with exit code {done.returncode}")


def make_small(root: Path, patients: int, months: int) -> Path:
    """The many-small-files shape: `tokumei generate` (seed 3); the UKE folder of its output."""
    shutil.rmtree(root, ignore_errors=True)
    _python("jobs.generate", "--out", str(root), "--patients", str(patients), "--months", str(months), "--seed", "3")
    return root / "uke"


def bench_shape(name: str, input_dir: Path, work: Path, driver_memory: str) -> dict[str, Any]:
    """bench_ingest on `input_dir` in a fresh process, into a fresh warehouse under `work` (removed after)."""
    warehouse, out = work / "warehouse", work / "result.json"
    shutil.rmtree(warehouse, ignore_errors=True)
    try:
        _python("bench.ingest_bench", "--input", str(input_dir), "--warehouse", str(warehouse),
                "--driver-memory", driver_memory, "--json-out", str(out))
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(warehouse, ignore_errors=True)
        out.unlink(missing_ok=True)
    return {"shape": name, **result}


def shapes(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.dir).resolve()
    small_in, big_in = root / "small" / "input", root / "big" / "input"
    made: dict[str, Any] = {}
    if not (args.reuse_input and (small_in / "uke").is_dir()):
        make_small(small_in, args.small_patients, args.small_months)
    if not (args.reuse_input and big_in.is_dir()):
        shutil.rmtree(big_in, ignore_errors=True)
        made = make_big_input(str(big_in), args.big_lines, args.big_files, args.fixture)
    runs = [bench_shape("small", small_in / "uke", root / "small", args.driver_memory),
            bench_shape("big", big_in, root / "big", args.driver_memory)]
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bench": "ingest_shapes",
        "code_version": code_version(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "scale": {"small_patients": args.small_patients, "small_months": args.small_months, "small_seed": 3,
                  "big_lines": args.big_lines, "big_files": args.big_files, "big_made": made,
                  "driver_memory": args.driver_memory},
        "shapes": runs,
    }


def scaling(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.dir).resolve()
    runs = []
    for scale in (int(x) for x in args.scales.split(",")):
        input_dir = root / f"x{scale}" / "input"
        shutil.rmtree(input_dir, ignore_errors=True)
        files = args.scale_files * scale
        made = make_big_input(str(input_dir), args.scale_lines_per_file * files, files, args.fixture)
        try:
            runs.append({**bench_shape(f"x{scale}", input_dir, root / f"x{scale}", args.driver_memory),
                         "scale": scale, "made": made})
        finally:
            shutil.rmtree(root / f"x{scale}", ignore_errors=True)
    base = runs[0]
    for run in runs:  # cost per unit of data, against the first scale's
        run["seconds_vs_first"] = round(run["seconds"] / base["seconds"], 2)
        run["scale_vs_first"] = run["scale"] / base["scale"]
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bench": "ingest_scaling",
        "code_version": code_version(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "scale": {"scales": args.scales, "files_per_scale": args.scale_files,
                  "lines_per_file": args.scale_lines_per_file, "driver_memory": args.driver_memory},
        "shapes": runs,
    }


COLUMNS = [("shape", "shape", "<6"), ("lines", "lines", ">11"), ("files", "files", ">6"),
           ("ingest s", "seconds", ">9"), ("lines/s", "lines_per_s", ">8"),
           ("script 1p s", "script_1p_seconds", ">12"), ("script Np s", "script_np_seconds", ">12"),
           ("N", "script_processes", ">3"), ("x 1p", "ratio_to_script_1p", ">7"),
           ("x Np", "ratio_to_script_np", ">7"), ("x copy", "ratio", ">7"),
           ("JVM MB", "driver_peak_rss_mb", ">7"), ("py MB", "python_peak_rss_mb", ">6"),
           ("s vs first", "seconds_vs_first", ">10")]


def table(result: dict[str, Any]) -> str:
    rows = [" ".join(f"{head:{fmt}}" for head, _, fmt in COLUMNS)]
    for run in result["shapes"]:
        rows.append(" ".join(f"{'-' if run.get(key) is None else run[key]:{fmt}}" for _, key, fmt in COLUMNS))
    rows.append("x 1p, x Np, x copy: ingest seconds / the plain script's with 1 and N processes / a plain "
                "text-to-Delta copy's; JVM MB: the driver JVM's peak RSS (VmHWM), py MB: the Python driver's")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ingest_shapes", description=__doc__.splitlines()[0])
    p.add_argument("--dir", default="build/bench-shapes", help="inputs and warehouses (default: %(default)s)")
    p.add_argument("--small-patients", type=int, default=50_000)
    p.add_argument("--small-months", type=int, default=6)
    p.add_argument("--big-lines", type=int, default=10_000_000)
    p.add_argument("--big-files", type=int, default=4)
    p.add_argument("--fixture", type=Path, help="UKE file repeated for the big shape (default: ../shared's fixture)")
    p.add_argument("--driver-memory", default="4g")
    p.add_argument("--reuse-input", action="store_true", help="keep DIR/*/input from an earlier run with the same sizes")
    p.add_argument("--scales", help="run the scaling series instead, e.g. 1,4,16 (multiples of the first scale's data)")
    p.add_argument("--scale-files", type=int, default=4, help="files at scale 1 (default: %(default)s)")
    p.add_argument("--scale-lines-per-file", type=int, default=250_000, help="default: %(default)s")
    args = p.parse_args(argv)
    result = scaling(args) if args.scales else shapes(args)
    print(table(result))
    print(f"written to {save(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
