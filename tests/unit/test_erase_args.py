"""`tokumei erase` arguments, its config sections and the operator's notice (requirements 44, 46, 47),
without Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.cli import module_of
from jobs.erase import notice, parse_args
from jobs.runtime.config import load_pipeline
from jobs.runtime.errors import ConfigError, InputError

REPO = Path(__file__).resolve().parents[2]


def test_req46_erase_is_a_command_of_the_cli():
    assert module_of("erase") == "jobs.erase"


@pytest.mark.parametrize("argv", [
    ["--warehouse", "wh", "--institution", "0110149914"],  # no --reason
    ["--warehouse", "wh", "--reason", "r"],  # no subject
    ["--warehouse", "wh", "--reason", "r", "--institution", "0110149914", "--expired"],  # two subjects
])
def test_req46_erase_refuses_incomplete_or_ambiguous_arguments(argv):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2


def test_req46_erase_operator_defaults_to_user_and_reason_is_kept(monkeypatch):
    monkeypatch.setenv("USER", "kansa")
    args = parse_args(["--warehouse", "wh", "--file", "a.UKE", "--file", "b.UKE", "--reason", " 停止の求め "])
    assert (args.operator, args.reason, args.file) == ("kansa", "停止の求め", ["a.UKE", "b.UKE"])


def test_req46_erase_without_operator_or_user_is_refused(monkeypatch):
    monkeypatch.delenv("USER", raising=False)
    with pytest.raises(InputError, match="--operator"):
        parse_args(["--warehouse", "wh", "--expired", "--reason", "保存期間"])


def test_req46_erase_with_blank_reason_is_refused():
    with pytest.raises(InputError, match="--reason"):
        parse_args(["--warehouse", "wh", "--expired", "--reason", "  ", "--operator", "x"])


def test_req46_req47_shipped_config_has_erase_retention_and_receipt():
    cfg = load_pipeline(REPO / "conf" / "pipeline.yaml")
    assert cfg.erase.vacuum_retention_hours == 168.0
    assert (cfg.retention.days.bronze, cfg.retention.days.staging) == (None, 180)
    assert (cfg.receipt.method, cfg.receipt.retention_years) == ("オンライン提出", 3)


def test_req46_unknown_retention_zone_is_refused_by_name(tmp_path):
    text = (REPO / "conf" / "pipeline.yaml").read_text(encoding="utf-8")
    conf = tmp_path / "pipeline.yaml"
    conf.write_text(text.replace("    staging: 180\n", "    staging: 180\n    archive: 10\n"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"retention\.days\.archive: unknown key"):
        load_pipeline(conf)


def test_req44_notice_lists_the_releases_and_says_to_notify_their_recipients():
    summary = {"description": "患者 1 名", "rows_deleted": {"receipts": 2, "labs": 0}, "staging_removed": ["r2"],
               "releases": [{"release_id": "2026-04", "evidence": "確認", "recipient": ""}]}
    text = notice(summary)
    assert "receipts 2" in text and "labs" not in text
    assert "2026-04（確認）" in text and "提供先に通知" in text and "tokumei anonymize" in text


def test_req44_notice_says_when_no_published_release_held_the_subject():
    summary = {"description": "d", "rows_deleted": {}, "staging_removed": [], "releases": []}
    assert "対象を含む公開済みのリリースはありません" in notice(summary)
