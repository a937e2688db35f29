"""Whole-stage fixtures, each built once per test run and read (never changed) by the tests:

- `generated(...)`: one `tokumei generate` output per argument tuple;
- `pipeline`: generate -> ingest -> anonymize -> validate -> publish with the shipped anonymized policy (its
  (k, k^m) suppression limit raised for the small data) on the two generated sets below, with a notice
  that one institution began after the data (req 43);
- `claim_kinds`: a generated set of all four claim kinds (医科, DPC, 調剤, 歯科) in both date systems, ingested
  once (test_generate_dpc.py, test_generate_pharmacy.py and test_generate_dental.py compare it with its truth);
- `uke_run`: `tokumei run` on the real UKE file and a small generated set (test_run.py;
  test_spark_connect.py and test_airflow.py compare with it).

Tests that need to change one of these outputs copy it first.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.pipeline import (
    KEY,
    REPO,
    RID,
    SEIREKI,
    UKE_RUN_GENERATED,
    UKE_RUN_KEY,
    UKE_RUN_RID,
    WAREKI,
    WAREKI_START,
    Pipeline,
    late_institution,
    uke_run_args,
    uke_run_input,
)
from helpers.policies import anonymized_policy


@pytest.fixture(scope="session")
def generated(spark, tmp_path_factory) -> Callable[..., Path]:
    """`generated(patients, months, seed, era=False, start_month=None) -> Path`: the output directory
    of `tokumei generate` with these arguments, generated once per test run and shared by every
    test that asks for the same arguments. Read-only: copy it before changing anything in it."""
    from jobs.generate import main  # here, not at import: collecting tests must not need the generator

    root = tmp_path_factory.mktemp("generated")
    cache: dict[tuple[int, int, int, bool, str | None], Path] = {}

    def make(patients: int, months: int, seed: int, era: bool = False, start_month: str | None = None) -> Path:
        key = (patients, months, seed, era, start_month)
        if key not in cache:
            out = root / "_".join(str(part) for part in key if part not in (None, False))
            args = ["--out", str(out), "--patients", str(patients), "--months", str(months), "--seed", str(seed)]
            args += ["--era-dates"] if era else []
            args += ["--start-month", start_month] if start_month else []
            assert main(args) == 0, f"tokumei generate {' '.join(args)} failed"
            cache[key] = out
        return cache[key]

    return make


@pytest.fixture(scope="session")
def seireki(generated) -> Path:
    return generated(*SEIREKI)


@pytest.fixture(scope="session")
def wareki(generated) -> Path:
    return generated(*WAREKI, era=True, start_month=WAREKI_START)


@pytest.fixture(scope="session")
def pipeline(spark, tmp_path_factory, seireki, wareki) -> Pipeline:
    """`tokumei ingest`, `anonymize`, `validate` (with Data Docs) and `publish`, each as its command, on
    both generated sets, with the shipped anonymized policy (k=10, 5% suppression, (k, k^m) with m=2) at
    a (k, k^m) suppression limit of 0.6 instead of 0.25 (420 patients share few items; bench/km_bench.py
    runs the shipped limit at 20,000 patients), and a pipeline config whose notice began on 2000-01-01, except at one institution where it
    begins in 2099 (req 43). The extraction date is 30 days after the last service month."""
    from jobs import anonymize, ingest, publish, validate

    tmp = tmp_path_factory.mktemp("pipeline")
    for name, src in (("seireki", seireki), ("wareki", wareki)):
        shutil.copytree(src, tmp / "input" / name)
    late, month_end = late_institution([seireki, wareki])
    conf = (REPO / "conf" / "pipeline.yaml").read_text(encoding="utf-8")
    conf = conf.replace("  # started: 2024-04-01\n", "  started: 2000-01-01\n").replace(
        '  # institutions: {"1312345678": 2024-06-01}\n', f"  institutions: {{'{late}': 2099-01-01}}\n")
    assert "started: 2000-01-01" in conf and "2099-01-01" in conf
    (tmp / "pipeline.yaml").write_text(conf, encoding="utf-8")
    extraction = month_end + dt.timedelta(days=30)  # everyone else: exactly 30 days after the last visit
    wh, common = tmp / "wh", ["--conf", str(tmp / "pipeline.yaml")]
    release = ["--warehouse", str(wh), "--release-id", RID, *common]
    mp = pytest.MonkeyPatch()
    mp.setenv("TOKUMEI_KEY_DEMO", KEY)
    codes = {}
    try:
        codes["ingest"] = ingest.main(["--input", str(tmp / "input"), "--warehouse", str(wh), *common])
        codes["anonymize"] = anonymize.main([*release, "--profile", "anonymized",
                                             "--policy", str(anonymized_policy(tmp, 0.6)),
                                             "--extraction-date", extraction.isoformat()])
        codes["validate"] = validate.main(release)
        codes["publish"] = publish.main(release)
    finally:
        mp.undo()
    assert codes == {"ingest": 0, "anonymize": 0, "validate": 0, "publish": 0}, codes
    return Pipeline(tmp / "input", wh, RID, late, extraction, codes)


# 12 institutions: one of them a hospital of 200+ beds, whose stays become DPC claims (synth/dpc.py).
CLAIM_KINDS_ARGS = ["--patients", "80", "--months", "2", "--seed", "3", "--institutions", "12",
                    "--dpc", "--pharmacy", "--dental"]


@pytest.fixture(scope="session")
def claim_kinds(spark, tmp_path_factory) -> tuple[Path, Any]:
    """(root, warehouse): `tokumei generate CLAIM_KINDS_ARGS` under ROOT/seireki and, with --era-dates,
    ROOT/wareki, then one ingest of ROOT (helpers/generated.py), and its Warehouse. Read-only."""
    from helpers.generated import generated_and_ingested  # imports the generator: not at collection
    return generated_and_ingested(spark, tmp_path_factory, "claim_kinds", CLAIM_KINDS_ARGS)


@pytest.fixture(scope="session")
def uke_run_generated(generated) -> Path:
    """The generated part of the `uke_run` input (helpers/pipeline.py UKE_RUN_GENERATED). Read-only."""
    return generated(*UKE_RUN_GENERATED)


@pytest.fixture(scope="session")
def uke_run(spark, tmp_path_factory, uke_sample, uke_run_generated) -> Path:
    """`tokumei run` on the real UKE file and a small generated set in this process's local session:
    first with the shipped policy, which refuses (too few patients for its (k, k^m) rule; release id
    `fixture-km`), then without params.km, which publishes `UKE_RUN_RID`. Returns that release's folder.
    The file holds 75 receipts of a handful of patients, the generated set 30 receipts of 40 people. Read-only."""
    from jobs import cli

    tmp = tmp_path_factory.mktemp("run")
    uke_run_input(tmp / "in", uke_sample, uke_run_generated)
    mp = pytest.MonkeyPatch()
    mp.setenv("TOKUMEI_KEY_DEMO", UKE_RUN_KEY)
    args = uke_run_args(tmp / "in", tmp / "wh", anonymized_policy(tmp, None))
    try:
        refused = cli.main([*args[:args.index("--release-id")], "--release-id", "fixture-km"])
        code = cli.main(args)
    finally:
        mp.undo()
    assert (refused, code) == (1, 0)
    return tmp / "wh" / "releases" / UKE_RUN_RID
