import datetime as dt

import pytest

from jobs.runtime.errors import ConfigError, InputError, RefusedError
from jobs.stages.release.recipients import load_registry, resolve_recipient

REGISTRY = """recipients:
  univ:
    name: 架空大学
    type: I
    certification_id: C-1
    valid_until: 2030-03-31
    key_id: univ-2025
  lapsed:
    name: 期限切れ研究所
    type: II
    certification_id: C-2
    valid_until: 2020-03-31
  open:
    name: 匿名加工のみの受領者
"""
TODAY = dt.date(2026, 1, 1)


@pytest.fixture
def registry(tmp_path):
    p = tmp_path / "recipients.yaml"
    p.write_text(REGISTRY, encoding="utf-8")
    return p


def test_req39_certified_recipient_is_accepted_with_its_key_id(registry):
    r = resolve_recipient("pseudonymized", "univ", registry, TODAY)
    assert r is not None and r.key_id == "univ-2025"
    assert r.record() == {"id": "univ", "name": "架空大学", "type": "I", "certification_id": "C-1",
                          "valid_until": "2030-03-31", "purpose": None}


@pytest.mark.parametrize(("recipient", "words"), [(None, "--recipient is required"), ("open", "no certification id"),
                                                  ("lapsed", "not valid on 2026-01-01")])
def test_req39_pseudonymized_is_refused_without_a_valid_certification(registry, recipient, words):
    with pytest.raises(RefusedError, match=words):
        resolve_recipient("pseudonymized", recipient, registry, TODAY)


def test_anonymized_needs_no_certification_but_an_unknown_id_is_bad_input(registry):
    assert resolve_recipient("anonymized", None, registry, TODAY) is None
    assert resolve_recipient("anonymized", "open", registry, TODAY).name == "匿名加工のみの受領者"
    with pytest.raises(InputError, match="'nobody' is not registered"):
        resolve_recipient("anonymized", "nobody", registry, TODAY)


@pytest.mark.parametrize(("text", "key"), [
    ("recipients:\n  x:\n    type: I\n", "recipients.x.name"),
    ("recipients:\n  x:\n    name: a\n    type: III\n", "recipients.x.type"),
    ("recipients:\n  x:\n    name: a\n    valid_until: someday\n", "recipients.x.valid_until"),
    ("recipients:\n  x:\n    name: a\n    certificate: C\n", "recipients.x.certificate"),
    ("recipient: {}\n", "recipient"),
])
def test_registry_errors_name_the_key(tmp_path, text, key):
    p = tmp_path / "r.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_registry(p)
    assert err.value.key == key and str(p) in str(err.value)


def test_shipped_registry_loads():
    assert {"example-univ", "example-pharma", "example-open"} <= set(load_registry())


def test_req39_anonymize_refuses_pseudonymized_without_recipient_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from helpers.policy_conf import write_test_conf

    from jobs.anonymize import main

    monkeypatch.setenv("TOKUMEI_KEY_TESTKEY", "recipient-test-key-not-a-secret-0123456789")
    paths = write_test_conf(tmp_path / "conf")
    wh = tmp_path / "wh"
    base = ["--warehouse", str(wh), "--release-id", "r1", "--conf", str(paths["conf"])]
    assert main([*base, "--profile", "pseudonymized"]) == 1
    assert "requirement 39" in capsys.readouterr().err
    assert main([*base, "--profile", "anonymized", "--policy", str(paths["pseudonymized"])]) == 2
    assert "the policy is for pseudonymized" in capsys.readouterr().err
    assert not wh.exists()
