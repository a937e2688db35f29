"""Benchmark `tokumei kanon` on UCI Adult replicated x F with k = 5 F (issue 5 item 5; ANCHORS.md).

Replicating the 30,162 records F times and scaling k by F keeps the k=5 optimum, so every size must
give the levels and Loss of x1 and F times its suppressed count. The data sets are written to
--workdir (default /tmp/kanon_bench) and never committed.

Per run: wall time of the whole process, peak RSS of the process tree (Python driver + JVM, read
from /proc every 50 ms), and the Spark jobs that read the full input, counted from Spark's event
log (no listener in the job): a job reads the full input when its tasks' input bytes sum to at
least 90% of the file size.

    .venv/bin/python -m bench.kanon_bench --sizes 1,100,1000 --limits 0,0.05
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ARX = Path(__file__).resolve().parents[2] / "shared" / "bench" / "arx"
QI = "sex,age,race,marital-status,education,native-country,workclass,occupation"
REPO = Path(__file__).resolve().parents[1]


def replicate(times: int, workdir: Path) -> Path:
    """adult.csv with its records repeated `times` times (header once); reused when already there."""
    src = ARX / "adult.csv"
    if times == 1:
        return src
    out = workdir / f"adult_x{times}.csv"
    header, _, body = src.read_bytes().partition(b"\n")
    body = body if body.endswith(b"\n") else body + b"\n"
    size = len(header) + 1 + len(body) * times
    if out.is_file() and out.stat().st_size == size:
        return out
    with out.open("wb") as fh:
        fh.write(header + b"\n")
        for _ in range(times):
            fh.write(body)
    return out


def _tree_rss(root: int, cpu: dict[int, float]) -> int:
    """Sum of VmRSS (bytes) of `root` and all its descendants; records their CPU seconds in `cpu`."""
    children: dict[int, list[int]] = defaultdict(list)
    rss: dict[int, int] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
            stat = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        children[int(fields.get("PPid", "0").strip() or 0)].append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
        rss[-pid] = (int(stat[11]) + int(stat[12])) / ticks  # utime + stime
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        cpu[pid] = rss.get(-pid, cpu.get(pid, 0.0))
        stack.extend(children.get(pid, []))
    return total


def full_input_jobs(event_dir: Path, input_bytes: int) -> tuple[int, int]:
    """(jobs whose tasks read >= 90% of the input, all jobs) from the newest Spark event log."""
    log = max((p for p in event_dir.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime)
    stage_job: dict[int, int] = {}
    job_bytes: dict[int, int] = defaultdict(int)
    for line in log.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["Event"] == "SparkListenerJobStart":
            for stage in event["Stage IDs"]:
                stage_job[stage] = event["Job ID"]
            job_bytes[event["Job ID"]] += 0
        elif event["Event"] == "SparkListenerTaskEnd":
            read = event.get("Task Metrics", {}).get("Input Metrics", {}).get("Bytes Read", 0)
            job_bytes[stage_job.get(event["Stage ID"], -1)] += read
    return sum(1 for b in job_bytes.values() if b >= 0.9 * input_bytes), len(job_bytes)


def run_once(times: int, limit: float, workdir: Path, driver_memory: str, java_options: str = "") -> dict:
    data = replicate(times, workdir)
    events = workdir / "events"
    events.mkdir(parents=True, exist_ok=True)
    conf = workdir / "bench_pipeline.yaml"
    conf.write_text(
        "keys:\n  key_id: bench\nspark:\n  master: local[2]\n  shuffle_partitions: 8\n"
        f"  driver_memory: {driver_memory}\n  extra_conf:\n    spark.eventLog.enabled: 'true'\n"
        f"    spark.eventLog.dir: 'file://{events}'\n    spark.eventLog.rolling.enabled: 'false'\n"
        "    spark.eventLog.compress: 'false'\n"
        + (f"    spark.driver.extraJavaOptions: '{java_options}'\n" if java_options else ""),
        encoding="utf-8",
    )
    out, summary = workdir / f"out_x{times}_{limit}.csv", workdir / f"summary_x{times}_{limit}.json"
    cmd = [sys.executable, "-m", "jobs.cli", "kanon", "--input", str(data), "--hierarchies", str(ARX),
           "--qi", QI, "--k", str(5 * times), "--suppression-limit", str(limit), "--out", str(out),
           "--summary", str(summary), "--conf", str(conf)]
    started, peak, cpu = time.perf_counter(), 0, {}
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid, cpu))
        time.sleep(0.05)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"tokumei kanon failed ({proc.returncode}): {proc.stderr.read()[-2000:]}")
    s = json.loads(summary.read_text(encoding="utf-8"))
    scans, jobs = full_input_jobs(events, data.stat().st_size)
    out.unlink()
    return {"size": f"x{times}", "rows": s["records"], "k": 5 * times, "limit": limit, "levels": s["levels"],
            "loss": round(s["loss"], 5), "suppressed": s["suppressed"], "wall_s": round(wall, 1),
            "peak_rss_gib": round(peak / 2**30, 2), "cpu_s": round(sum(cpu.values()), 1), "search_s": s["search"]["seconds"], "phases": s["phase_seconds"],
            "full_input_jobs": scans, "spark_jobs": jobs, "load": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1,100,1000", help="replication factors (comma-separated)")
    p.add_argument("--limits", default="0,0.05", help="suppression limits (comma-separated)")
    p.add_argument("--workdir", default="/tmp/kanon_bench")
    p.add_argument("--driver-memory", default="1g", help="JVM heap of the local Spark driver")
    p.add_argument("--java-options", default="", help="extra JVM options of the driver")
    args = p.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for times in (int(x) for x in args.sizes.split(",")):
        for limit in (float(x) for x in args.limits.split(",")):
            results.append(run_once(times, limit, workdir, args.driver_memory, args.java_options))
            print(json.dumps(results[-1]), flush=True)
    print("\n| size | rows | k | supp. limit | levels | Loss | suppressed | wall s | peak RSS GiB | search s |"
          " full-input jobs / all jobs | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['size']} | {r['rows']:,} | {r['k']} | {r['limit']:.0%} | {' '.join(map(str, r['levels']))} | "
              f"{r['loss']} | {r['suppressed']:,} | {r['wall_s']} | {r['peak_rss_gib']} | {r['search_s']} | "
              f"{r['full_input_jobs']} / {r['spark_jobs']} | {r['cpu_s']} |")
    base = {r["limit"]: r for r in results if r["size"] == "x1"}
    for r in results:
        b = base.get(r["limit"])
        if b and r is not b:
            factor = r["rows"] // b["rows"]
            same = r["levels"] == b["levels"] and r["loss"] == b["loss"] and r["suppressed"] == factor * b["suppressed"]
            print(f"{r['size']} at {r['limit']:.0%}: same levels and Loss as x1, {factor}x suppressed: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
