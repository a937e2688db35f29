"""Every policy error exits 2 naming the policy file, the table and the column; nothing is written."""

import re
from pathlib import Path

import pytest
from helpers.policy_conf import write_test_conf

from jobs.anonymize import main
from jobs.runtime.errors import ConfigError
from jobs.stages.release.policy_files import load_policy

RECEIPT_ID = "      receipt_key: {method: pseudonymize, as: receipt_id}   # join key between claim tables (req 14)\n"
CASES = [
    # (policy text edit, key path named in the error, words in the message)
    ({"      chart_no: drop                   # カルテ番号 (req 14)\n": ""}, "tables.receipts.chart_no", "no rule"),
    ({"      sex: keep\n      receipt_type: keep\n": "      sex: keep\n      sexx: keep\n      receipt_type: keep\n"},
     "tables.receipts.sexx", "unknown column"),
    ({"      name: drop                       # 氏名 (req 4)\n": "      name: keep\n"}, "tables.receipts.name", "直接識別子"),
    ({"      card_number: drop                # 番号 (req 11)\n": "      card_number: {method: round, to: 10}\n"},
     "tables.insurances.card_number", "直接識別子"),
    ({"      sex: keep\n      receipt_type: keep\n": "      sex: scramble\n      receipt_type: keep\n"}, "tables.receipts.sex", "unknown method"),
    ({"at: first_service, width: 5, as: age_band}   # one": "at: first_service, width: 0, as: age_band}   # one"},
     "tables.receipts.birth_date.width", "must be > 0"),
    ({"at: first_service, width: 5, as: age_band}   # one": "at: first_service, width: 5, top: 95, as: age_band}   # one"},
     "tables.receipts.birth_date.top", "requirement 17"),
    ({"at: first_service, width: 5, as: age_band}   # one": "at: first_service, widht: 5, as: age_band}   # one"},
     "tables.receipts.birth_date.widht", "unknown parameter"),
    ({"at: first_service, width: 5, as: age_band}   # one": "at: service_month, width: 5, as: age_band}   # one"},
     "tables.receipts.birth_date.at", "requirement 22"),
    ({"at: first_service, width: 5, as: age_band}   # one": "at: frist_service, width: 5, as: age_band}   # one"},
     "tables.receipts.birth_date.at", "first_service (the patient's first service month)"),
    ({"      beds: {method: bin, edges: [20, 100, 300, 500], as: bed_class}": "      beds: {method: bin, edges: [100, 20], as: bed_class}"},
     "tables.receipts.beds.edges", "increasing"),
    ({"      billing_info: drop               # free text (req 9)\n": "      billing_info: keep\n"}, "tables.receipts.billing_info", "自由記載"),
    ({"      day_counts: drop                 # per-day counts reveal service dates (req 22)\n": "      day_counts: keep\n"},
     "tables.procedures.day_counts", "requirement 22"),
    ({"        levels: [drug_class]           # 薬効分類 (3 digits)\n": "        levels: [drug_klass]\n"},
     "tables.drugs.drug_code", "no column 'drug_klass'"),
    # (k, k^m) (issue 16): m < 1, an unknown item column, an item column that is dropped, an unknown level
    ({"    m: 2\n": "    m: 0\n"}, "params.km.m", "integer >= 1"),
    ({"code: disease_code, time: service_month": "code: disease_kode, time: service_month"},
     "params.km.items[0].code", "unknown column 'disease_kode'"),
    ({"      disease_code: keep\n": "      disease_code: drop\n"}, "params.km.items[0].code", "is dropped"),
    ({"code: disease_code, time: service_month": "code: disease_code, time: service_day"},
     "params.km.items[0].time", "'service_day'"),
    ({"levels: [icd10, icd10_3, icd10_chapter]": "levels: [icd10, icd11]"}, "params.km.items[0].file", "no column 'icd11'"),
    ({RECEIPT_ID: "      receipt_key: {method: pseudonymize, key: no-such-key, as: receipt_id}\n"},
     "tables.receipts.receipt_key", "TOKUMEI_KEY_NO_SUCH_KEY"),
    ({RECEIPT_ID: "      receipt_key: {method: pseudonymize, bits: 64, as: receipt_id}\n"},
     "tables.receipts.receipt_key.bits", "128"),
    ({"  age_top: 90 ": "  age_top: 100 "}, "params.age_top", "requirement 17"),
    # req 21: a claim column beside patients' quasi-identifiers must not be finer than them
    ({"{method: age_band, at: first_service, width: 5, as: age_band}   # one": "{method: age, at: first_service, as: age}   # one"},
     "tables.receipts.birth_date", "requirement 21"),
    ({"at: first_service, width: 5, as: age_band}   # one": "at: first_service, width: 10, as: age_band}   # one"},
     "tables.receipts.birth_date", "must equal patients.age_band"),
    ({"quasi_identifiers: {pref_code: area}": "quasi_identifiers: {pref_code: region}"},
     "tables.receipts.quasi_identifiers.pref_code", "params.quasi_identifiers"),
    ({"quasi_identifiers: {pref_code: area}": "quasi_identifiers: {pref_cod: area}"},
     "tables.receipts.quasi_identifiers.pref_cod", "not an output column"),
    ({"  suppression_limit: 0.05\n": "  suppression_limit: 0.05\n  l: 2\n"}, "params.l", "sensitive"),
    ({"  suppression_limit: 0.05\n": "  suppression_limit: 0.05\n  l: 2\n  sensitive: sex\n"},
     "params.sensitive", "not a quasi-identifier"),
    ({"regime: 匿名加工医療情報\n": "regime: 仮名加工医療情報\n"}, "regime", "匿名加工医療情報"),
]


@pytest.mark.parametrize(("edit", "key", "words"), CASES, ids=[c[1] + ":" + c[2] for c in CASES])
def test_req1_req4_req9_req10_req11_req17_req21_req22_policy_errors_exit_2_naming_file_table_column_and_write_nothing(tmp_path, monkeypatch, capsys, edit, key, words):
    monkeypatch.setenv("TOKUMEI_KEY_TESTKEY", "policy-error-test-key-not-a-secret")
    paths = write_test_conf(tmp_path / "conf", **edit)
    wh = tmp_path / "wh"
    code = main(["--warehouse", str(wh), "--release-id", "r1", "--profile", "anonymized", "--conf", str(paths["conf"])])
    err = capsys.readouterr().err
    assert code == 2, err
    assert str(paths["anonymized"]) in err and f": {key}:" in err and words in err, err
    assert not wh.exists()  # failed before Spark: nothing written


def test_policy_error_names_file_and_key_path(tmp_path):
    paths = write_test_conf(tmp_path, **{"      name: drop                       # 氏名 (req 4)\n": "      name: keep\n"})
    with pytest.raises(ConfigError) as err:
        load_policy(paths["anonymized"])
    assert err.value.file == str(paths["anonymized"]) and err.value.key == "tables.receipts.name"


def test_duplicate_keys_are_refused(tmp_path):
    paths = write_test_conf(tmp_path, **{"      sex: keep\n": "      sex: drop\n      sex: keep\n"})
    with pytest.raises(ConfigError, match=re.escape("duplicate key 'sex'")):
        load_policy(paths["anonymized"])


def test_missing_table_and_unknown_table(tmp_path):
    paths = write_test_conf(tmp_path, **{"  symptom_details:   # SJ 症状詳記レコード": "  symptom_detail:   # typo"})
    with pytest.raises(ConfigError) as err:
        load_policy(paths["anonymized"])
    assert err.value.key == "tables.symptom_detail" and "unknown table" in str(err.value)


@pytest.mark.parametrize("profile", ["anonymized", "pseudonymized"])
def test_req8_req37_req41_shipped_policies_load_and_keep_no_identifier(profile):
    policy, _ = load_policy(Path(f"conf/policies/{profile}.yaml"))
    assert policy.profile == profile
    kept = {(t.name, c) for t in policy.tables.values() for c, r in t.columns.items() if r.method == "keep"}
    for col in ("name", "kana_name", "chart_no", "insurer_no", "card_number", "branch_no", "recipient_no", "birth_date",
                "phone", "postal_code", "address", "patient_id"):
        assert not any(c == col for _, c in kept), col


def test_quasi_identifiers_must_be_columns_of_the_patients_table(tmp_path):
    paths = write_test_conf(tmp_path, **{"quasi_identifiers: [age_band, sex, area]": "quasi_identifiers: [age_band, sex, postal3]"})
    with pytest.raises(ConfigError) as err:
        load_policy(paths["anonymized"])
    assert err.value.key == "params.quasi_identifiers" and "'postal3'" in str(err.value)


def test_req21_l_diversity_is_configured_in_the_policy(tmp_path):
    from transforms.release.kanon import criteria

    paths = write_test_conf(tmp_path, **{"  suppression_limit: 0.05\n": "  suppression_limit: 0.05\n  l: 2\n  sensitive: sex\n",
                                         "quasi_identifiers: [age_band, sex, area]": "quasi_identifiers: [age_band, area]"})
    policy, _ = load_policy(paths["anonymized"])
    crit = criteria(policy)
    assert (crit.ell, crit.sensitive, crit.qi) == (2, "sex", ("age_band", "area"))
    assert policy.tables["receipts"].carriers == {"age_band": "age_band", "pref_code": "area"}  # sex is no QI here
    assert policy.effective()["params"]["l"] == 2
