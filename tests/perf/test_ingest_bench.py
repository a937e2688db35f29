"""bench/ingest_bench.bench_ingest: the figures `make bench` reports for ingest (issue 3 item 8)."""

import os
import shutil

import pytest
from helpers.keys import TEST_KEY_TEXT
from helpers.pharmacy import LINKED, linked_dental_file, pharmacy_file, record_counts

from bench.ingest_bench import bench_ingest, bench_ingest_by_kind, default_fixture, make_big_input


def test_bench_ingest_times_ingest_and_a_plain_copy_of_the_same_files(spark, tmp_path, uke_sample, monkeypatch):
    monkeypatch.setenv("TOKUMEI_KEY_DEMO", TEST_KEY_TEXT)  # ingest keys the identities it stores (`make bench` sets it)
    (tmp_path / "in").mkdir()
    shutil.copy(uke_sample, tmp_path / "in" / "RECEIPTC.UKE")
    got = bench_ingest(spark, str(tmp_path / "in"), str(tmp_path / "wh"))
    assert {"seconds", "lines", "lines_per_s", "plain_copy_seconds", "ratio"} <= set(got)
    assert (got["lines"], got["files"], got["lines_rejected"]) == (636, 1, 0)
    # `seconds` is rounded to 0.1 s and lines_per_s comes from the unrounded time
    slowest, fastest = 636 / (got["seconds"] + 0.05), 636 / max(got["seconds"] - 0.05, 1e-3)
    assert slowest - 1 <= got["lines_per_s"] <= fastest + 1 and got["ratio"] > 0
    # issue 18 item 3: the plain script read the same lines, once with 1 process and once with N
    assert (got["script_lines"], got["script_processes"]) == (636, os.cpu_count())
    for n in ("1p", "np"):  # ingest seconds / script seconds, within the rounding of both
        script = got[f"script_{n}_seconds"]
        low, high = (got["seconds"] - 0.05) / (script + 0.0005), (got["seconds"] + 0.05) / (script - 0.0005)
        assert low - 0.01 <= got[f"ratio_to_script_{n}"] <= high + 0.01
    assert got["driver_peak_rss_mb"] > 100 and got["python_peak_rss_mb"] > 10  # a JVM found, not None
    assert not (tmp_path / "wh" / "bronze" / "_bench_script").exists()
    assert not (tmp_path / "wh" / "bronze" / "_bench_plain_copy").exists()
    with pytest.raises(ValueError, match="already has a ledger"):
        bench_ingest(spark, str(tmp_path / "in"), str(tmp_path / "wh"))


def test_bench_ingest_by_kind_times_each_claim_kind_alone(spark, tmp_path, monkeypatch):
    """Issue 20: `make bench` reports ingest throughput per claim kind, each kind's files ingested alone."""
    monkeypatch.setenv("TOKUMEI_KEY_DEMO", TEST_KEY_TEXT)
    (tmp_path / "in" / "a").mkdir(parents=True)
    (tmp_path / "in" / "a" / "RECEIPTY.CYO").write_bytes(pharmacy_file("202111", "202110", "20211015", LINKED))
    (tmp_path / "in" / "a" / "RECEIPTS.UKE").write_bytes(linked_dental_file())
    got = bench_ingest_by_kind(spark, str(tmp_path / "in"), str(tmp_path / "by_kind"))
    assert sorted(got) == ["dental", "pharmacy"]
    assert (got["pharmacy"]["lines"], got["pharmacy"]["files"], got["pharmacy"]["lines_rejected"]) == (sum(record_counts(2).values()), 1, 0)
    assert (got["dental"]["lines"], got["dental"]["files"], got["dental"]["lines_rejected"]) == (7, 1, 0)
    assert all(r["seconds"] > 0 and r["plain_copy_seconds"] > 0 and r["ratio"] > 0 for r in got.values())
    assert not (tmp_path / "by_kind").exists() and (tmp_path / "in" / "a" / "RECEIPTY.CYO").exists()


def test_make_big_input_renumbers_receipts_and_gives_each_file_its_own_content(tmp_path, uke_sample):
    made = make_big_input(str(tmp_path), lines=2000, files=2, fixture=uke_sample)
    files = sorted(tmp_path.glob("*.UKE"))
    assert made == {"files": 2, "lines": 2 * 1270}  # per file: IR + 2 x the 634-line body + GO
    assert len(files) == 2 and len({f.read_bytes() for f in files}) == 2  # identical files would be ingested once
    lines = files[0].read_bytes().decode("cp932").split("\r\n")[:-1]
    receipts = [int(line.split(",")[1]) for line in lines if line.startswith("RE,")]
    assert len(lines) == 1270 and receipts == list(range(1, len(receipts) + 1)) and lines[-1].startswith("GO,")


def test_the_bench_finds_the_fixture_where_the_tests_do(uke_sample, tmp_path, monkeypatch):
    """make_big_input's default fixture is resolved as `shared_dir` is: $TOKUMEI_SHARED if set, else
    ../shared beside the checkout (never an absolute path)."""
    assert default_fixture().resolve() == uke_sample.resolve()
    monkeypatch.setenv("TOKUMEI_SHARED", str(tmp_path))
    assert default_fixture() == tmp_path / "fixtures" / "uke" / "RECEIPTC_GAIRAI_SAMPLE.UKE"
    monkeypatch.delenv("TOKUMEI_SHARED")
    with pytest.raises(FileNotFoundError, match="TOKUMEI_SHARED"):
        default_fixture(tmp_path / "a" / "checkout")  # no ancestor of it has shared/DESIGN.md
