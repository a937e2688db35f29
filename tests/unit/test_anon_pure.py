"""The driver-side parts of anonymize that need no Spark: key derivation, the key-free repr of the
rule context, and the plans computed from counts (rare codes,
microaggregation groups)."""

import pytest

from transforms.columns.perturb import microaggregation_groups
from transforms.identity.linkage import derive_key
from transforms.release.apply import Context
from transforms.release.rare import masked_by_share

CTX = Context({"k1": b"key-one", "k2": b"key-two"}, "k1", hierarchies={"h.csv": {"A1": {"grp": "A"}}})


def test_req15_context_never_prints_key_material():
    assert "key-one" not in repr(CTX) and "key-two" not in repr(CTX) and "k1" in repr(CTX)


def test_derive_key_separates_purposes():
    assert derive_key(b"k", "pid") != derive_key(b"k", "date_shift") != derive_key(b"j", "pid")
    with pytest.raises(ValueError):
        derive_key(b"", "pid")


def test_req18_ndb_cumulative_share_masks_rarest_first():
    counts = {"a": 1, "b": 2, "c": 3, "d": 94}
    assert masked_by_share(counts, 0.03) == {"a", "b"}
    assert masked_by_share(counts, 0.005) == set()


def test_microaggregation_groups_hold_k_records():
    hist = [(1.0, 1), (2.0, 1), (3.0, 1), (10.0, 2), (11.0, 1), (50.0, 1)]
    # [1, 2, 3] closes at 3 records; [10, 10, 11] closes; the short tail [50] joins the group before it.
    assert microaggregation_groups(hist, 3) == {1.0: 2.0, 2.0: 2.0, 3.0: 2.0, 10.0: 20.25, 11.0: 20.25, 50.0: 20.25}
    assert microaggregation_groups([(5.0, 1)], 3) == {5.0: 5.0}
