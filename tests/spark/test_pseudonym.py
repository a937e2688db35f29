import hashlib
import hmac
import random

import pytest
from pyspark.sql import functions as F

from transforms.columns.pseudonym import hmac_sha256_hex, with_keys
from transforms.local import local_frame


def _hmac(df, col, key):
    """df.select(col's HMAC) with the key pads joined in as columns (never literals)."""
    keyed, pads = with_keys(df, {"k": key})
    return keyed.select(hmac_sha256_hex(col, pads["k"]).alias("h"))


def _random_inputs(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "0123456789abcXYZ 　テストハンヨウ山田太郎花子ｱｲｳ髙﨑-_/"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(n)]


def test_req15_hmac_equals_python_hmac_for_1000_inputs_including_japanese(spark):
    inputs = _random_inputs(1000, seed=1)
    for key in (b"k", b"a-32-byte-secret-key-for-tokumei", bytes(range(100))):  # short, typical, > block
        df = local_frame(spark, [(i, s) for i, s in enumerate(inputs)], "i int, s string")
        keyed, pads = with_keys(df, {"k": key})
        got = keyed.select("i", hmac_sha256_hex(F.col("s"), pads["k"]).alias("h"),
                           hmac_sha256_hex(F.col("s"), pads["k"], 128).alias("h128")).collect()
        want = {i: hmac.new(key, s.encode("utf-8"), hashlib.sha256).hexdigest() for i, s in enumerate(inputs)}
        assert {r["i"]: r["h"] for r in got} == want
        # the released form (requirement 15: truncated to >= 128 bits): the first 32 hex characters
        assert {r["i"]: r["h128"] for r in got} == {i: h[:32] for i, h in want.items()}
    with pytest.raises(ValueError, match="bits"):
        hmac_sha256_hex(F.col("s"), pads["k"], 64)


def test_req15_null_stays_null_and_keys_give_disjoint_pseudonyms(spark):
    df = local_frame(spark, [("山田太郎",), (None,), ("1234567",)], "s string")
    a = [r[0] for r in _hmac(df, F.col("s"), b"key-a").collect()]
    b = [r[0] for r in _hmac(df, F.col("s"), b"key-b").collect()]
    assert a[1] is None and b[1] is None
    assert set(filter(None, a)).isdisjoint(filter(None, b))


def test_req15_key_ids_from_the_provider_give_disjoint_pseudonyms(spark, monkeypatch):
    # Issue 4: different key ids -> disjoint pseudonyms; the same key id -> the same pseudonym.
    from jobs.runtime.config import KeySettings
    from jobs.runtime.keys import load_key

    monkeypatch.setenv("TOKUMEI_KEY_RECIPIENT_A", "鍵A-not-a-secret-for-tests-0123456789")
    monkeypatch.setenv("TOKUMEI_KEY_RECIPIENT_B", "鍵B-not-a-secret-for-tests-0123456789")
    inputs = sorted(set(_random_inputs(1000, seed=2)) - {""})
    df = local_frame(spark, [(s,) for s in inputs], "s string")
    out = {}
    for key_id in ("recipient-a", "recipient-b"):
        key = load_key(KeySettings(key_id="unused"), key_id).material
        out[key_id] = [r[0] for r in _hmac(df, F.col("s"), key).collect()]
    assert len(set(out["recipient-a"])) == len(inputs)
    assert set(out["recipient-a"]).isdisjoint(out["recipient-b"])


def test_req15_key_material_never_appears_in_a_plan(spark):
    """Plans are shown in the Spark UI and written to event logs: an HMAC pad there is the key."""
    from transforms.columns.pseudonym import _pads

    key = b"a-secret-that-must-not-leak"
    df = local_frame(spark, [("山田太郎",)], "s string")
    plan = _hmac(df, F.col("s"), key)._jdf.queryExecution().toString().upper()
    assert all(pad.hex().upper() not in plan for pad in _pads(key))
    with pytest.raises(TypeError, match="never key bytes"):
        hmac_sha256_hex(F.col("s"), key)  # type: ignore[arg-type]
