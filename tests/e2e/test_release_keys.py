"""Pseudonym keys per recipient and release (issue 16 item 5; requirements 15, 16, 38).

Releases to different recipients share no pseudonym; two 仮名 deliveries to one recipient share
every pid; keys shorter than 32 bytes are refused; the manifest-side fingerprint is an HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from pathlib import Path

import pytest
from helpers.pipeline import KEY, RID
from helpers.policies import anonymized_policy

from jobs import anonymize


@pytest.fixture(scope="module")
def warehouse(spark, pipeline, tmp_path_factory):
    """A copy of the shared pipeline's warehouse (tests/e2e/conftest.py): its bronze, and its release `e2e`,
    an open anonymized release staged with the same master key."""
    tmp = tmp_path_factory.mktemp("keys")
    shutil.copytree(pipeline.warehouse, tmp / "wh")
    mp = pytest.MonkeyPatch()
    mp.setenv("TOKUMEI_KEY_DEMO", KEY)
    yield tmp / "wh"
    mp.undo()


def _stage(wh: Path, rid: str, profile: str, recipient: str | None = None) -> dict:
    # The anonymized releases here are about keys: k-anonymity only ((k, k^m) has its own tests)
    policy = ["--policy", str(anonymized_policy(wh.parent, None))] if profile == "anonymized" else []
    args = ["--warehouse", str(wh), "--release-id", rid, "--profile", profile, *policy]
    args += ["--recipient", recipient] if recipient else []
    assert anonymize.main(args) == 0
    return json.loads((wh / "staging" / rid / "anonymize.json").read_text(encoding="utf-8"))


def _values(spark, wh: Path, rid: str, table: str, column: str) -> set[str]:
    df = spark.read.format("delta").load(str(wh / "staging" / rid / "tables" / table))
    return {r[0] for r in df.select(column).where(f"{column} IS NOT NULL").distinct().collect()}


def test_req15_req16_req40_two_recipients_share_no_pid_or_receipt_id(spark, warehouse, monkeypatch):
    monkeypatch.setenv("TOKUMEI_KEY_DEMO", KEY)
    a = _stage(warehouse, "open-a", "anonymized", "example-open")
    b = json.loads((warehouse / "staging" / RID / "anonymize.json").read_text(encoding="utf-8"))  # open: no recipient
    assert a["key"]["scope"] == b["key"]["scope"] == "release"
    assert a["key"]["label"] == "recipient:example-open/release:open-a" and b["key"]["label"] == f"recipient:open/release:{RID}"
    for table, column in (("patients", "pid"), ("receipts", "pid"), ("receipts", "receipt_id"), ("diagnoses", "receipt_id")):
        left, right = _values(spark, warehouse, "open-a", table, column), _values(spark, warehouse, RID, table, column)
        assert left and right and not left & right, (table, column)
    assert a["key"]["fingerprint"] == b["key"]["fingerprint"]  # one master key, two derived release keys


def test_req38_two_deliveries_to_one_certified_recipient_share_every_pid(spark, warehouse, monkeypatch):
    monkeypatch.setenv("TOKUMEI_KEY_DEMO", KEY)
    first = _stage(warehouse, "univ-1", "pseudonymized", "example-univ")
    second = _stage(warehouse, "univ-2", "pseudonymized", "example-univ")
    assert first["key"]["scope"] == "recipient" and first["key"]["label"] == second["key"]["label"] == "recipient:example-univ"
    pids = _values(spark, warehouse, "univ-1", "patients", "pid")
    assert pids and pids == _values(spark, warehouse, "univ-2", "patients", "pid")
    assert _values(spark, warehouse, "univ-1", "receipts", "receipt_id") == _values(spark, warehouse, "univ-2", "receipts", "receipt_id")


def test_req15_a_31_byte_key_is_refused_with_exit_2(warehouse, monkeypatch, capsys):
    monkeypatch.setenv("TOKUMEI_KEY_DEMO", "x" * 31)
    code = anonymize.main(["--warehouse", str(warehouse), "--release-id", "short", "--profile", "pseudonymized",
                           "--recipient", "example-univ"])
    assert code == 2
    err = capsys.readouterr().err
    assert "31 bytes" in err and "at least 32" in err and "x" * 31 not in err
    monkeypatch.setenv("TOKUMEI_KEY_DEMO", "x" * 32)
    from jobs.runtime.config import load_pipeline
    from jobs.runtime.keys import load_key

    key = load_key(load_pipeline().keys)
    expected = hmac.new(b"x" * 32, b"tokumei-key-fingerprint", hashlib.sha256).hexdigest()[:16]
    assert key.fingerprint == expected != hashlib.sha256(b"x" * 32).hexdigest()[:16]
