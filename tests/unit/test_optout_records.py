"""停止の求め at every release (requirements 42, 44), the parts without Spark: the registry's version,
stagings built with another version, publish's refusal, and what the manifest and report say."""

import hashlib
import json

import pytest

from jobs.runtime.errors import RefusedError
from jobs.runtime.warehouse import Warehouse
from jobs.stages.optout_registry import registry_version
from jobs.stages.release import report
from jobs.stages.release.manifest import build_manifest
from jobs.stages.release.optout import NOT_CONFIGURED, refuse_stale_staging, remove_stale_stagings
from jobs.stages.release.publish import check_publishable

HEAD = "insurer_no,card_symbol,card_number,branch_no,birth_date,sex,kana_name,confirmation_doc\n"
APPLIED = {"applied": True, "registry": {"version": "sha256:" + "a" * 64, "rows": 3}, "patients_in": 5,
           "patients_opted_out": 1, "patients_held_back": 1, "patients_suppressed": 0, "patients_after": 3,
           "reconciled": True, "rows_removed": {"patients": 1, "diagnoses": 2}, "stale_stagings_removed": ["r-old"]}


def test_req42_registry_version_is_the_files_sha256_or_the_delta_version_never_its_rows(tmp_path):
    csv = tmp_path / "registry.csv"
    csv.write_text(HEAD + ",,,,1960-05-01,1,ヤマダ　タロウ,REQ-1.pdf\n", encoding="utf-8")
    first = registry_version(str(csv))
    assert first == "sha256:" + hashlib.sha256(csv.read_bytes()).hexdigest()
    csv.write_text(csv.read_text(encoding="utf-8") + ",,,,1975-03-03,1,サトウ　イチロウ,REQ-2.pdf\n", encoding="utf-8")
    assert registry_version(str(csv)) not in (None, first)
    delta = tmp_path / "registry_delta" / "_delta_log"
    delta.mkdir(parents=True)
    for v in (0, 1, 2):
        (delta / f"{v:020d}.json").write_text("{}", encoding="utf-8")
    (delta / "00000000000000000002.checkpoint.parquet").write_bytes(b"")
    assert registry_version(str(delta.parent)) == "delta:2"
    assert registry_version(str(tmp_path / "nowhere.csv")) is None


def _stage(wh, rid, version):
    d = wh / "staging" / rid
    (d / "tables").mkdir(parents=True)
    optout = {"applied": True, "registry": {"version": version, "rows": 1}} if version else {"applied": False, "registry": None}
    (d / "anonymize.json").write_text(json.dumps({"release_id": rid, "optout": optout}), encoding="utf-8")
    return d


def test_req44_stagings_built_with_another_registry_version_are_removed(tmp_path):
    wh = tmp_path / "wh"
    old, none, same, current = (_stage(wh, "r-old", "sha256:1"), _stage(wh, "r-none", None),
                                _stage(wh, "r-same", "sha256:2"), _stage(wh, "r-now", "sha256:1"))
    running = wh / "staging" / "r-running" / "tables"  # no record yet: a run in progress is left alone
    running.mkdir(parents=True)
    assert remove_stale_stagings(Warehouse(str(wh)), "r-now", "sha256:2") == ["r-none", "r-old"]
    assert not old.exists() and not none.exists()
    assert same.exists() and current.exists() and running.exists()


def test_req42_publish_refuses_a_staging_built_before_the_registry_changed(tmp_path):
    refuse_stale_staging({"optout": APPLIED}, "r1", None)  # no registry configured now: nothing to compare
    refuse_stale_staging({"optout": APPLIED}, "r1", APPLIED["registry"]["version"])
    with pytest.raises(RefusedError, match=r"停止の求めの名簿の別の版（名簿なし）.*tokumei anonymize --release-id r1.*run `tokumei anonymize`"):
        refuse_stale_staging({"optout": {"applied": False, "registry": None}}, "r1", "sha256:new")
    with pytest.raises(RefusedError, match="版 sha256:aaaa.*現在の名簿は sha256:new"):
        refuse_stale_staging({"optout": APPLIED}, "r1", "sha256:new")
    # check_publishable asks before validation: a stale staging must be anonymized again anyway.
    wh = tmp_path / "wh"
    _stage(wh, "r1", "sha256:old")
    with pytest.raises(RefusedError, match="別の版"):
        check_publishable(Warehouse(str(wh)), "r1", "sha256:new")
    with pytest.raises(RefusedError, match="was not validated"):
        check_publishable(Warehouse(str(wh)), "r1", "sha256:old")


def _manifest(optout=None):
    staged = {"regime": "匿名加工医療情報", "profile": "anonymized", "counts": {"patients": 3}}
    if optout is not None:
        staged["optout"] = optout
    return build_manifest("r1", staged, {"success": True, "expectations": 1}, [], [])


def test_req42_without_a_registry_the_manifest_and_report_say_none_was_applied():
    manifest = _manifest({"applied": False, "registry": None, "note": NOT_CONFIGURED})
    assert manifest["optout"]["applied"] is False and manifest["optout"]["registry"] is None
    assert "停止の求めの名簿は設定されていません" in manifest["optout"]["note"]
    assert "ingest.optout_registry" in manifest["optout"]["note"]  # what to do next
    assert "optout" not in manifest["anonymize"]
    html = report.render(manifest, {})
    assert "<h2>停止の求め（オプトアウト名簿）</h2>" in html and "停止の求めの名簿は設定されていません" in html
    # A staging recorded before opt-out at release existed: the manifest still says none was applied.
    assert _manifest()["optout"]["note"] == NOT_CONFIGURED


def test_req42_report_shows_the_registry_version_and_counts_never_identities():
    manifest = _manifest(APPLIED)
    assert manifest["optout"] == APPLIED
    html = report.render(manifest, {})
    section = html[html.index("<h2>停止の求め"):html.index("<h2>加工の各措置")]
    for text in ("sha256:" + "a" * 64, "停止の求めにより除外した患者</td><td class='n'>1<", "公開した患者</td><td class='n'>3<",
                 "対象患者数（入力）</td><td class='n'>5<", "class='ok'>一致", "diagnoses</td><td class='n'>2<", "r-old"):
        assert text in section, text
    broken = report.render(_manifest({**APPLIED, "reconciled": False}), {})
    assert "不一致" in broken
