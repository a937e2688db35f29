import os

import pytest

from jobs.runtime.config import KeySettings
from jobs.runtime.errors import InputError
from jobs.runtime.keys import key_file_path, load_key

SECRET = "秘密-key-only-for-tests-not-a-real-one"


def test_env_provider_reads_the_key_by_id(monkeypatch):
    monkeypatch.setenv("TOKUMEI_KEY_RELEASE_2025_01", SECRET)
    key = load_key(KeySettings(key_id="release-2025.01"))
    assert key.material == SECRET.encode() and key.key_id == "release-2025.01"
    assert "秘密" not in repr(key) and "秘密" not in str(key) and len(key.fingerprint) == 16


def test_env_provider_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("TOKUMEI_KEY_NOPE", raising=False)
    with pytest.raises(InputError, match="TOKUMEI_KEY_NOPE"):
        load_key(KeySettings(key_id="nope"))


def test_req27_key_file_owner_only_is_read(tmp_path):
    settings = KeySettings(key_id="r1", provider="file", key_dir=str(tmp_path))
    path = key_file_path(settings, "r1")
    path.write_bytes(b"\x00\xffbinary-key-for-tests-32-bytes-long\n")
    os.chmod(path, 0o600)
    assert load_key(settings).material == b"\x00\xffbinary-key-for-tests-32-bytes-long"
    os.chmod(path, 0o400)
    assert load_key(settings).material == b"\x00\xffbinary-key-for-tests-32-bytes-long"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o666])
def test_req27_key_file_readable_by_group_or_others_is_refused(tmp_path, mode):
    settings = KeySettings(key_id="r1", provider="file", key_dir=str(tmp_path))
    path = key_file_path(settings, "r1")
    path.write_bytes(b"k")
    os.chmod(path, mode)
    with pytest.raises(InputError, match=rf"permissions {mode:04o}.*chmod 600"):
        load_key(settings)


def test_key_file_failures_name_the_file(tmp_path):
    settings = KeySettings(key_id="r1", provider="file", key_dir=str(tmp_path))
    with pytest.raises(InputError, match="r1.key"):
        load_key(settings)
    (tmp_path / "r1.key").mkdir()
    with pytest.raises(InputError, match="regular file"):
        load_key(settings)
    (tmp_path / "r2.key").write_bytes(b"\n")
    os.chmod(tmp_path / "r2.key", 0o600)
    with pytest.raises(InputError, match="empty"):
        load_key(settings, "r2")
    with pytest.raises(InputError, match="key_dir"):
        load_key(KeySettings(key_id="r1", provider="file"))


def test_databricks_provider_refuses_outside_databricks(monkeypatch):
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    with pytest.raises(InputError, match="only on Databricks"):
        load_key(KeySettings(key_id="r1", provider="databricks", databricks_scope="tokumei"))
    with pytest.raises(InputError, match="databricks_scope"):
        load_key(KeySettings(key_id="r1", provider="databricks"))
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")  # claims Databricks, but no dbutils here
    with pytest.raises(InputError, match="only on Databricks"):
        load_key(KeySettings(key_id="r1", provider="databricks", databricks_scope="tokumei"))


def test_unknown_provider_and_bad_key_id():
    with pytest.raises(InputError, match="unknown provider"):
        load_key(KeySettings(key_id="r1", provider="vault"))
    with pytest.raises(InputError, match="key id"):
        load_key(KeySettings(key_id="../etc/passwd", provider="file", key_dir="/tmp"))
