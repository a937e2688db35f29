"""The plain-script baseline of ingest (issue 18 item 3): what a user writes in an afternoon instead.

Per file: read the bytes, decode CP932 (errors replaced), drop the optional trailing 0x1A EOF mark,
split lines, split each line at commas; the receipt ordinal of a line is the number of RE lines seen
so far in its file. Rows (file path, line, receipt, fields as list<string>) are collected per record type
and written with pyarrow, one Parquet file per record type per worker: OUT/<record type>/part-<worker>.parquet.
With N processes the files are split across N spawned worker processes, each writing its own files.

It does none of what ingest does besides: no typed columns, no layouts, no rejects, no sha256 or
ledger, no opt-out, no Delta. Ingest's ratio to it is what those, and Spark, cost on one machine.
Buffers are written as a row group every ROW_GROUP rows, so memory stays bounded on large files.
Spawned workers re-import the caller's main module: from `python -m bench.ingest_bench` that is about
0.6 s of imports (pyspark), paid once per run and counted in `seconds`.

    python -m bench.script_baseline --input DIR --out DIR [--processes N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SUFFIXES = (".UKE", ".CYO")  # 医科, DPC, 歯科: .UKE; 調剤: .CYO
ROW_GROUP = 100_000
SCHEMA = pa.schema([("file", pa.string()), ("line", pa.int64()), ("receipt", pa.int64()),
                    ("fields", pa.list_(pa.string()))])


def find_files(input_dir: Path) -> list[Path]:
    """*.UKE and *.CYO files under `input_dir`, recursively; hidden and `_` folders skipped, as ingest does."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(input_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        out += [Path(dirpath) / f for f in sorted(filenames) if f.upper().endswith(SUFFIXES)]
    return out


class _Writers:
    """One Parquet file per record type for one worker, written a row group at a time."""

    def __init__(self, out_dir: Path, worker: int) -> None:
        self.out_dir, self.worker = out_dir, worker
        self.rows: dict[str, list[list[Any]]] = {}
        self.writers: dict[str, pq.ParquetWriter] = {}

    def add(self, record: str, file: str, line: int, receipt: int, fields: list[str]) -> None:
        cols = self.rows.get(record)
        if cols is None:
            cols = self.rows[record] = [[], [], [], []]
        cols[0].append(file)
        cols[1].append(line)
        cols[2].append(receipt)
        cols[3].append(fields)
        if len(cols[0]) >= ROW_GROUP:
            self.flush(record)

    def flush(self, record: str) -> None:
        cols = self.rows.pop(record, None)
        if not cols or not cols[0]:
            return
        if record not in self.writers:
            folder = self.out_dir / record
            folder.mkdir(parents=True, exist_ok=True)
            self.writers[record] = pq.ParquetWriter(folder / f"part-{self.worker:03d}.parquet", SCHEMA)
        self.writers[record].write_table(pa.Table.from_arrays([pa.array(c, type=t) for c, t in
                                                               zip(cols, SCHEMA.types, strict=True)], schema=SCHEMA))

    def close(self) -> None:
        for record in list(self.rows):
            self.flush(record)
        for writer in self.writers.values():
            writer.close()


def _work(files: Sequence[str], out_dir: str, worker: int) -> int:
    """Parse `files` and write their Parquet files; the number of lines read."""
    writers = _Writers(Path(out_dir), worker)
    lines = 0
    for path in files:
        data = Path(path).read_bytes()
        if data.endswith(b"\x1a"):
            data = data[:-1]
        receipt = 0
        for number, line in enumerate(data.decode("cp932", errors="replace").splitlines(), start=1):
            if not line:
                continue
            fields = line.split(",")
            if fields[0] == "RE":
                receipt += 1
            writers.add(fields[0], path, number, receipt, fields)
            lines += 1
    writers.close()
    return lines


def _split(files: Sequence[Path], n: int) -> list[list[str]]:
    """`files` in `n` groups of about equal bytes: largest first, each to the lightest group."""
    groups: list[list[str]] = [[] for _ in range(n)]
    load = [0] * n
    for f in sorted(files, key=lambda f: f.stat().st_size, reverse=True):
        i = load.index(min(load))
        groups[i].append(str(f))
        load[i] += f.stat().st_size
    return [g for g in groups if g]


def run_script(files: Sequence[Path], out_dir: Path, processes: int = 1) -> dict[str, Any]:
    """Parse `files` into OUT/<record type>/part-<worker>.parquet with `processes` workers (1: in this
    process). Returns files, lines, seconds, lines_per_s, processes."""
    start = time.perf_counter()
    groups = _split(files, max(1, processes))
    if len(groups) <= 1:
        lines = sum(_work(g, str(out_dir), i) for i, g in enumerate(groups))
    else:
        # spawn, not fork: the caller may hold a JVM gateway and threads, which fork does not copy safely
        with multiprocessing.get_context("spawn").Pool(len(groups)) as pool:
            lines = sum(pool.starmap(_work, [(g, str(out_dir), i) for i, g in enumerate(groups)]))
    seconds = time.perf_counter() - start
    return {"files": len(files), "lines": lines, "seconds": round(seconds, 3),
            "lines_per_s": round(lines / seconds) if seconds > 0 else None, "processes": max(1, processes)}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.script_baseline", description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True, type=Path, help="folder of UKE files (*.UKE, *.CYO, recursively)")
    p.add_argument("--out", required=True, type=Path, help="folder for the Parquet files")
    p.add_argument("--processes", type=int, default=1)
    args = p.parse_args(argv)
    files = find_files(args.input)
    if not files:
        p.error(f"no *.UKE or *.CYO files under {args.input}")
    print(json.dumps(run_script(files, args.out, args.processes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
