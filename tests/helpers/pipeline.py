"""The shared pipeline run of tests/e2e (its fixture is in tests/e2e/conftest.py): which generated sets
it reads, what it leaves, and how it picks the institution whose notice began after the data."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from helpers.dpc import LINKED_DPC_POINTS, linked_dpc_file
from helpers.pharmacy import LINKED, linked_dental_file, linked_file

REPO = Path(__file__).resolve().parents[2]
# The two generated sets every pipeline test shares (format tests read them too): 西暦 dates, one month;
# 和暦 dates from 2019-04, so service and billing months cross 平成31年4月 -> 令和元年5月 and births are 昭和.
SEIREKI = (300, 1, 5)
WAREKI = (120, 2, 3)
WAREKI_START = "2019-04"
RID = "e2e"
KEY = "e2e-test-key-not-a-secret-0123456789abcdef"
# `tokumei run` on the real UKE file and a small generated set (the `uke_run` fixture), run again with the
# same input, arguments and key through Spark Connect (tests/e2e/test_spark_connect.py) and on a
# standalone cluster (the DAG under Airflow, tests/e2e/test_airflow.py). The generated set: 40 people x 1 month, 5 institutions
# (30 receipts, clinical extracts with labs), so the other setups also read generated files and CSV.
UKE_RUN_KEY = "run-test-key-not-a-secret-0123456789abcdef"
UKE_RUN_RID = "fixture-1"
UKE_RUN_GENERATED = (40, 1, 11)
UKE_FIXTURE_RECEIPTS = 75  # the RE records of ../shared/fixtures/uke/RECEIPTC_GAIRAI_SAMPLE.UKE


def uke_run_args(input_dir: Path, warehouse: Path, policy: Path) -> list[str]:
    return ["run", "--input", str(input_dir), "--warehouse", str(warehouse), "--no-docs",
            "--release-id", UKE_RUN_RID, "--policy", str(policy)]


def uke_run_input(dest: Path, uke_sample: Path, generated: Path) -> Path:
    """The input of the `uke_run` release: the real UKE file, hand-written 調剤, 歯科 and DPC files of its
    patients (helpers/pharmacy.py, helpers/dpc.py) and a copy of the generated set (its `_truth` folder is never read:
    ingest skips `_` folders)."""
    dest.mkdir(parents=True)
    shutil.copy(uke_sample, dest / uke_sample.name)
    (dest / "pharmacy").mkdir()
    (dest / "pharmacy" / "RECEIPTY.CYO").write_bytes(linked_file())
    (dest / "dental").mkdir()
    (dest / "dental" / "RECEIPTS.UKE").write_bytes(linked_dental_file())
    (dest / "dpc").mkdir()
    (dest / "dpc" / "RECEIPTD.UKE").write_bytes(linked_dpc_file())
    shutil.copytree(generated, dest / "generated")
    return dest


def uke_run_receipts(generated: Path) -> int:
    """The receipts the `uke_run` release holds when none is suppressed: every RE of the real file, of
    the 調剤, 歯科 and DPC files and of the generator's truth."""
    truth = pq.read_table(generated / "_truth" / "receipts", columns=["file"]).num_rows
    return UKE_FIXTURE_RECEIPTS + len(LINKED) + 1 + len(LINKED_DPC_POINTS) + truth


@dataclass(frozen=True)
class Pipeline:
    """What the shared pipeline run left: its input (with the generator's truth), warehouse, and the
    notice settings it ran with. Read-only."""

    input: Path  # input/seireki and input/wareki: copies of the generated sets
    warehouse: Path
    release_id: str
    late_institution: str  # its notice began after the data: its patients were never notified
    extraction: dt.date
    exit_codes: dict[str, int]

    @property
    def staging(self) -> Path:
        return self.warehouse / "staging" / self.release_id

    @property
    def release(self) -> Path:
        return self.warehouse / "releases" / self.release_id

    def record(self) -> dict[str, Any]:
        return json.loads((self.staging / "anonymize.json").read_text(encoding="utf-8"))


def late_institution(sources: list[Path]) -> tuple[str, dt.date]:
    """A small institution of the generated claims (at least 3 receipts), and the last day of the
    last service month: from the generator's truth, which ingest reproduces (test_ingest_roundtrip)."""
    def truth(src: Path, table: str, columns: list[str]) -> pd.DataFrame:
        return pq.read_table(src / "_truth" / table, columns=columns).to_pandas()

    receipts = pd.concat([truth(src, "receipts", ["file", "service_month"]).merge(
        truth(src, "files", ["file", "institution_code"]), on="file", how="inner") for src in sources])
    counts = receipts["institution_code"].value_counts()  # the IR record's 医療機関コード, as in bronze
    month_end = (pd.Timestamp(receipts["service_month"].max()) + pd.offsets.MonthEnd(0)).date()
    return str(counts[counts >= 3].index[-1]), month_end
