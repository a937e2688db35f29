"""(k, k^m) at scale (issue 16 item 6 and acceptance): the stage's time against a plain copy of the
tables it reads, the driver JVM's peak memory, and the exhaustive outside check of the staged release.

    tokumei generate --out IN --patients 100000 --months 12 && tokumei ingest --input IN --warehouse WH
    TOKUMEI_KEY_DEMO=... python -m bench.km_bench --warehouse WH --release-id kmb --m 1 2 [--check]

For each m, the shipped anonymized policy with `params.km.m` set to m is staged once (`anonymize`);
`search_seconds` is the (k, k^m) search inside it (anonymize.json km.search_seconds), `copy_seconds`
a plain Delta copy of bronze diagnoses and receipts timed before and after (their mean), and
`peak_rss_mib` the highest resident memory of the Spark JVM sampled every 0.2 s during the run.
`--check` runs bench/km_exhaustive.py on the staged tables (every combination of at most m items of
every patient counted in plain Python) and, for contrast, on a release made without params.km.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.km_exhaustive import release_items, singled_out
from jobs.runtime.args import add_conf, add_release_id, add_warehouse
from jobs.runtime.config import DEFAULT_REGISTRY, load_pipeline
from jobs.runtime.session import get_spark
from jobs.runtime.warehouse import Warehouse
from jobs.stages.release.anonymize import anonymize
from jobs.stages.release.plan import plan

REPO = Path(__file__).resolve().parents[1]
QI = ["age_band", "sex", "area"]


class PeakRss:
    """The highest VmRSS of the Spark JVMs (children of this process) while the block runs."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()

    def _jvms(self) -> list[int]:
        me = str(os.getpid())
        out = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    stat = (d / "stat").read_text().split()
                    if stat[3] == me and "java" in (d / "cmdline").read_bytes().decode(errors="ignore"):
                        out.append(int(d.name))
                except OSError:
                    continue
        return out

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in self._jvms():
                try:
                    rss = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
                    self.peak_kib = max(self.peak_kib, int(rss.group(1)) if rss else 0)
                except OSError:
                    pass
            self._stop.wait(0.2)

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def policy_with(m: int | None, tmp: Path) -> Path:
    """The shipped anonymized policy with km.m = m, or without params.km (m None), paths absolute."""
    text = (REPO / "conf" / "policies" / "anonymized.yaml").read_text(encoding="utf-8")
    if m is None:
        km = re.search(r"\n  km:\n(    .*\n|      .*\n)+", text)
        assert km is not None
        text = text.replace(km.group(0), "\n").replace(
            "disease_code: keep", "disease_code: {method: rare, file: diseases.csv, key: disease_code, "
                                  "levels: [icd10, icd10_block, icd10_chapter]}")
    else:
        text = re.sub(r"(\n  km:\n    m: )\d+", rf"\g<1>{m}", text)
    text = text.replace("hierarchies: conf/hierarchies", f"hierarchies: {REPO / 'conf' / 'hierarchies'}")
    text = text.replace(": conf/layouts/", f": {REPO / 'conf' / 'layouts'}/")
    out = tmp / f"anonymized_km{m if m is not None else 'off'}.yaml"
    out.write_text(text, encoding="utf-8")
    return out


def bench(args: argparse.Namespace) -> dict[str, Any]:
    cfg = load_pipeline(args.conf)
    wh = Warehouse(args.warehouse)
    spark = get_spark(cfg.spark)
    tmp = Path(tempfile.mkdtemp(prefix="km-bench-"))
    copy_root = Path(wh.local_path(wh.staging(f"{args.release_id}-copy")))

    def copy() -> float:
        start = time.perf_counter()
        for t in ("diagnoses", "receipts"):
            spark.read.format("delta").load(wh.bronze(t)).write.format("delta").mode("overwrite").save(str(copy_root / t))
        return time.perf_counter() - start

    copy()  # warm
    out: dict[str, Any] = {"warehouse": args.warehouse, "runs": []}
    try:
        for m in args.m:
            p = plan(cfg, args.conf, "anonymized", str(policy_with(m, tmp)), None, DEFAULT_REGISTRY)
            rid = f"{args.release_id}-m{m}"
            before = copy()
            with PeakRss() as rss:
                start = time.perf_counter()
                record = anonymize(spark, cfg, wh, rid, p)
                wall = time.perf_counter() - start
            after = copy()
            km = record["km"]
            run: dict[str, Any] = {
                "m": m, "patients": record["counts"]["patients"], "item_rows": km["item_rows"],
                "levels": km["levels"], "item_rows_suppressed": km["item_rows_suppressed"],
                "suppressed_share": round(km["suppressed_share"], 4), "loss_ncp": round(km["loss_ncp"], 4),
                "qi_levels": record["kanon"]["levels"], "qi_raised_from": km.get("quasi_identifier_levels_raised_from"),
                "search_seconds": km["search_seconds"], "anonymize_seconds": round(wall, 1),
                "copy_seconds": round((before + after) / 2, 1),
                "search_over_copy": round(km["search_seconds"] / ((before + after) / 2), 2),
                "peak_rss_mib": rss.peak_kib // 1024, "risk": record["risk"],
            }
            if args.check:
                patients, items = release_items(spark, Path(wh.local_path(wh.staging(rid, "tables"))), QI)
                run["exhaustive_singled_out"] = {j: len(v) for j, v in singled_out(patients, items, km["k"], m).items()}
            out["runs"].append(run)
            print(json.dumps(run, ensure_ascii=False), flush=True)
        if args.check:
            p = plan(cfg, args.conf, "anonymized", str(policy_with(None, tmp)), None, DEFAULT_REGISTRY)
            anonymize(spark, cfg, wh, f"{args.release_id}-off", p)
            patients, items = release_items(spark, Path(wh.local_path(wh.staging(f"{args.release_id}-off", "tables"))), QI)
            out["without_km_singled_out"] = {j: len(v) for j, v in singled_out(patients, items, 10, max(args.m)).items()}
            out["without_km_patients"] = len(patients)
    finally:
        shutil.rmtree(copy_root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.km_bench", description=__doc__.splitlines()[0])
    add_warehouse(p)
    add_release_id(p, "prefix of the staged releases to write")
    add_conf(p)
    p.add_argument("--m", type=int, nargs="+", default=[1, 2], help="the m values to run (default: 1 2)")
    p.add_argument("--check", action="store_true", help="also run the exhaustive outside check (and without km)")
    print(json.dumps(bench(p.parse_args(argv)), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
