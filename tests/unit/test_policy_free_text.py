"""The 仮名 policy refuses `keep` on a free-text column (requirements 9, 41): exit 2 naming the policy file,
the table and the column, before Spark starts; and the columns validate scans for identifiers."""

import pytest
from helpers.policy_conf import write_test_conf

from expectations.checks import ScanColumn
from expectations.from_policy import identifier_scan
from jobs.anonymize import main
from jobs.runtime.errors import ConfigError
from jobs.stages.release.policy_files import load_policy, policy_catalog

CASES = [
    ("      comment_text: drop               # req 9; NDB does not provide コメント\n", "      comment_text: keep\n",
     "tables.comments.comment_text", "comments 表"),
    ("      detail_text: drop                # 症状詳記 (req 9)\n", "      detail_text: keep\n",
     "tables.symptom_details.detail_text", "symptom_details 表"),
    ("      supplement: drop                 # 補足コメント (req 9)\n", "      supplement: keep\n",
     "tables.diagnoses.supplement", "diagnoses 表"),
]


@pytest.mark.parametrize(("old", "new", "key", "table"), CASES, ids=[c[2] for c in CASES])
def test_req9_req41_pseudonymized_policy_refuses_keep_on_free_text(tmp_path, old, new, key, table):
    paths = write_test_conf(tmp_path, edit_profile="pseudonymized", **{old: new})
    with pytest.raises(ConfigError) as err:
        load_policy(paths["pseudonymized"])
    assert err.value.key == key and "自由記載" in str(err.value) and table in str(err.value)
    assert err.value.file == str(paths["pseudonymized"])


def test_req9_req41_anonymize_exits_2_naming_file_table_and_column(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOKUMEI_KEY_TESTKEY", "policy-error-test-key-not-a-secret")
    old, new, key, table = CASES[0]
    paths = write_test_conf(tmp_path / "conf", edit_profile="pseudonymized", **{old: new})
    wh = tmp_path / "wh"
    code = main(["--warehouse", str(wh), "--release-id", "r1", "--profile", "pseudonymized", "--recipient", "univ",
                 "--conf", str(paths["conf"])])
    err = capsys.readouterr().err
    assert code == 2, err
    assert str(paths["pseudonymized"]) in err and f": {key}:" in err and "comment_text" in err and table in err, err
    assert not wh.exists()


def test_req9_pseudonymized_policy_may_still_drop_free_text(tmp_path):
    paths = write_test_conf(tmp_path)
    policy, _ = load_policy(paths["pseudonymized"])
    assert policy.tables["comments"].columns["comment_text"].method == "drop"


def test_req8_req12_validate_scans_every_released_string_column_with_the_declared_code_shapes():
    policy, path = load_policy("conf/policies/pseudonymized.yaml")
    catalog = policy_catalog({"clinical_layouts": policy.clinical_layouts}, path)
    labs = identifier_scan(policy.tables["labs"], catalog["labs"])
    assert labs == (ScanColumn("lab_code", r"^([0-9][0-9A-Z]{16}|L[0-9]{4})$", True), ScanColumn("lab_name"),
                    ScanColumn("unit"))
    drugs = {s.column: s for s in identifier_scan(policy.tables["drugs"], catalog["drugs"])}
    assert drugs["drug_code"] == ScanColumn("drug_code", r"^[0-9]{9}$", True)
    assert "receipt_id" not in drugs and "comment_text_1" not in drugs  # pseudonyms are pinned to hex; dropped is gone
    receipts = {s.column for s in identifier_scan(policy.tables["receipts"], catalog["receipts"])}
    assert {"special_notes", "ward_class", "patient_state", "pref_code"} <= receipts and "institution_id" not in receipts
