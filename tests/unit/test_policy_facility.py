"""The anonymized policy refuses to release a facility identifier as it is (requirement 20): a planted
`keep` on the prescribing institution's address, the 医療機関別係数 or a clinic's name stops the policy
before Spark starts, naming the file and the key; the 都道府県 and a bed-size class stay allowed."""

import pytest
from helpers.policy_conf import write_test_conf

from jobs.runtime.errors import ConfigError
from jobs.stages.release.policy_files import load_policy
from transforms.uke.layout import CLAIM_TABLES, table_fields

CASES = [
    ("      prescriber_institution_address: drop   # 調剤: its address (req 20)\n",
     "      prescriber_institution_address: keep\n", "tables.receipts.prescriber_institution_address"),
    ("      prescriber_institution_code: drop   # 調剤: 処方箋を交付した医療機関コード (req 20)\n",
     "      prescriber_institution_code: {method: pseudonymize, as: prescriber_id}\n", "tables.receipts.prescriber_institution_code"),
    ("      institution_coefficient: drop    # 医療機関別係数: each hospital's own, published: it names the hospital (req 20)\n",
     "      institution_coefficient: keep\n", "tables.dpc_leaves.institution_coefficient"),
]


@pytest.mark.parametrize(("old", "new", "key"), CASES, ids=[c[2] for c in CASES])
def test_req20_anonymized_policy_refuses_a_facility_identifier_kept_or_pseudonymized(tmp_path, old, new, key):
    paths = write_test_conf(tmp_path, edit_profile="anonymized", **{old: new})
    with pytest.raises(ConfigError) as err:
        load_policy(paths["anonymized"])
    assert err.value.key == key and "requirement 20" in str(err.value) and "医療機関" in str(err.value)
    assert err.value.file == str(paths["anonymized"])


def test_req20_the_shipped_policy_keeps_only_the_prefecture_and_bins_the_beds(tmp_path):
    paths = write_test_conf(tmp_path)
    policy, _ = load_policy(paths["anonymized"])
    inst = {(t, f.name) for t in CLAIM_TABLES for f in table_fields(t) if f.risk == "INST"}
    assert len(inst) >= 6
    released = {(t, c): r.method for t, table in policy.tables.items() for c, r in table.columns.items()
                if (t, c) in inst and r.method != "drop"}
    assert released == {("receipts", "beds"): "bin"}
    receipts = policy.tables["receipts"].columns  # the file header's facts, joined to every receipt
    assert (receipts["pref_code"].method, receipts["institution_code"].method) == ("keep", "drop")
