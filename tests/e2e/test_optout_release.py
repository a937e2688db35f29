"""停止の求め at every release (requirements 42, 44), as the commands run it on the literal bronze warehouse.

山田 (two receipts under two insurance cards, a clinical record and a lab sample, all linked into one
patient) asks to stop AFTER his data were ingested: the registry names only his new card. A staging built
before the request cannot be published; the next anonymize removes it, leaves him out of the release with
every record linked to him, and the manifest and report count him without naming him.
"""

import contextlib
import hashlib
import io
import json
import shutil

import pytest
from helpers.policy_conf import write_test_conf

from jobs import anonymize, publish, validate

KEY = "a-test-only-key-Ω-not-a-secret-0123456789"
REGISTRY = ("insurer_no,card_symbol,card_number,branch_no,birth_date,sex,kana_name,confirmation_doc\n"
            "01130012,ab,9,,1960-05-01,1,,confirmations/REQ-0001.pdf\n")  # 山田's new card only
RECIPIENTS = ("recipients:\n  univ:\n    name: 架空大学\n    type: I\n    certification_id: C-1\n"
              "    valid_until: 2099-01-01\n    key_id: recipient-key\n")
IDENTITIES = ["山田", "ヤマダ", "ﾔﾏﾀﾞ", "01130012", "REQ-0001", "1960-05-01"]


def _pids(spark, root):
    """{table: [pid, ...]} of every staged or released table with a pid (tiny tables)."""
    out = {}
    for p in sorted((root / "tables").iterdir()):
        df = spark.read.format("delta").load(str(p))
        if "pid" in df.columns:
            out[p.name] = [r["pid"] for r in df.select("pid").collect()]
    return out


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory, bronze_warehouse):
    """anonymize (no registry) -> the request is registered -> publish of that staging (refused) ->
    anonymize, validate and publish of the next release, all with the recipient `univ` (pseudonymized,
    key scope `recipient`: both releases give 山田 the same pid, so the test can look for it)."""
    tmp = tmp_path_factory.mktemp("optout_release")
    shutil.copytree(bronze_warehouse, tmp / "wh")
    paths = write_test_conf(tmp / "conf", km=False)
    (tmp / "optout" / "confirmations").mkdir(parents=True)
    (tmp / "optout" / "confirmations" / "REQ-0001.pdf").write_bytes(b"%PDF-1.4 written request")
    registry = tmp / "optout" / "registry.csv"
    registry.write_text(REGISTRY, encoding="utf-8")
    with_registry = tmp / "conf" / "pipeline_optout.yaml"
    with_registry.write_text(paths["conf"].read_text(encoding="utf-8") + f"ingest:\n  optout_registry: {registry}\n",
                             encoding="utf-8")
    (tmp / "recipients.yaml").write_text(RECIPIENTS, encoding="utf-8")
    wh = tmp / "wh"

    def args(rid, conf):
        return ["--warehouse", str(wh), "--release-id", rid, "--conf", str(conf)]

    stage = ["--profile", "pseudonymized", "--recipient", "univ", "--recipients", str(tmp / "recipients.yaml")]
    mp = pytest.MonkeyPatch()
    mp.setenv("TOKUMEI_KEY_TESTKEY", KEY)
    mp.setenv("TOKUMEI_KEY_RECIPIENT_KEY", KEY + "-recipient")
    codes, err = {}, io.StringIO()
    try:
        codes["anonymize_before"] = anonymize.main([*args("r-before", paths["conf"]), *stage])
        before = _pids(spark, wh / "staging" / "r-before")
        record_before = json.loads((wh / "staging" / "r-before" / "anonymize.json").read_text(encoding="utf-8"))
        patients = spark.read.format("delta").load(str(wh / "staging" / "r-before" / "tables" / "patients")).collect()
        yamada = [r["pid"] for r in patients if str(r["birth_ym"]).startswith("1960-05")]
        with contextlib.redirect_stderr(err):
            codes["publish_stale"] = publish.main(args("r-before", with_registry))
        codes["anonymize_after"] = anonymize.main([*args("r-after", with_registry), *stage])
        codes["validate"] = validate.main([*args("r-after", with_registry), "--no-docs"])
        codes["publish"] = publish.main([*args("r-after", with_registry),  # certification checked again (req 39)
                                         "--recipients", str(tmp / "recipients.yaml")])
    finally:
        mp.undo()
    assert codes == {"anonymize_before": 0, "publish_stale": 1, "anonymize_after": 0, "validate": 0, "publish": 0}, codes
    assert len(yamada) == 1, patients
    return {"wh": wh, "registry": registry, "before": before, "record_before": record_before, "yamada": yamada[0],
            "stderr": err.getvalue(), "after": _pids(spark, wh / "releases" / "r-after"),
            "manifest": json.loads((wh / "releases" / "r-after" / "manifest.json").read_text(encoding="utf-8"))}


def test_req42b_a_patient_who_opts_out_after_ingest_is_absent_from_every_table_of_the_next_release(runs):
    yamada, before, after = runs["yamada"], runs["before"], runs["after"]
    # Before the request: his two receipts, their lines, and his clinical lab sample were staged.
    assert before["receipts"].count(yamada) == 2 and before["labs"].count(yamada) == 1
    assert before["patients"].count(yamada) == 1 and before["diagnoses"].count(yamada) == 2
    assert set(after) == set(before)
    for table, pids in after.items():
        assert yamada not in pids, table  # 0 rows in every release table, linked records included
        assert sorted(pids) == sorted(p for p in before[table] if p != yamada), table  # nobody else lost


def test_req42_manifest_counts_the_opted_out_patient_with_the_registry_version_never_the_identity(runs):
    m = runs["manifest"]
    sha = hashlib.sha256(runs["registry"].read_bytes()).hexdigest()
    opt = m["optout"]
    assert opt["applied"] is True and opt["registry"] == {"version": f"sha256:{sha}", "rows": 1}
    assert (opt["patients_in"], opt["patients_opted_out"], opt["patients_after"]) == (5, 1, 4)
    assert (opt["patients_held_back"], opt["patients_suppressed"], opt["reconciled"]) == (0, 0, True)
    assert opt["rows_removed"]["receipts"] == 2 and opt["rows_removed"]["labs"] == 1 and opt["rows_removed"]["patients"] == 1
    assert m["counts"]["patients_opted_out"] == 1 and m["counts"]["patients"] == 4
    report = (runs["wh"] / "releases" / "r-after" / "report.html").read_text(encoding="utf-8")
    section = report[report.index("<h2>停止の求め"):report.index("<h2>加工の各措置")]
    assert "停止の求めにより除外した患者</td><td class='n'>1<" in section and f"sha256:{sha}" in section
    manifest_text = json.dumps(m, ensure_ascii=False)
    for text in IDENTITIES + [str(runs["registry"])]:
        assert text not in manifest_text and text not in report, text


def test_req42_a_release_staged_without_registry_records_that_none_was_applied(runs):
    opt = runs["record_before"]["optout"]
    assert opt["applied"] is False and opt["registry"] is None and opt["patients_opted_out"] == 0
    assert "停止の求めの名簿は設定されていません" in opt["note"] and "ingest.optout_registry" in opt["note"]


def test_req42_publish_refuses_a_staging_built_before_the_registry_changed(runs):
    assert "refused" in runs["stderr"] and "停止の求めの名簿の別の版（名簿なし）" in runs["stderr"]
    assert "tokumei anonymize" in runs["stderr"]
    assert not (runs["wh"] / "releases" / "r-before").exists()


def test_req44_the_staging_built_with_the_older_registry_is_removed(runs):
    assert not (runs["wh"] / "staging" / "r-before").exists()
    assert runs["manifest"]["optout"]["stale_stagings_removed"] == ["r-before"]


def test_req42_without_a_registry_the_published_manifest_and_report_say_none_was_applied(pipeline):
    """The shared pipeline run (tests/e2e/conftest.py) has no registry configured."""
    manifest = json.loads((pipeline.release / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["optout"]["applied"] is False and manifest["optout"]["registry"] is None
    assert manifest["optout"]["reconciled"] is True and manifest["optout"]["patients_opted_out"] == 0
    report = (pipeline.release / "report.html").read_text(encoding="utf-8")
    assert "停止の求めの名簿は設定されていません" in report
