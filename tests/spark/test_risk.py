"""The attacker levels of transforms/release/risk.py on eight patients whose classes are counted by hand
(requirements 21-22): quasi-identifiers, + months, + codes, and any 1 or 2 (code, month) items, k = 2."""

from __future__ import annotations

from transforms.local import local_frame
from transforms.release.risk import attacker_risk

# p1-p3 and p5-p8 share the quasi-identifiers A, p4 is alone in B; p8 has no item at all.
PATIENTS = [("p1", "A"), ("p2", "A"), ("p3", "A"), ("p4", "B"), ("p5", "A"), ("p6", "A"), ("p7", "A"), ("p8", "A")]
ITEMS = [
    ("p1", "c1", "m1"), ("p1", "c2", "m1"), ("p1", "c2", "m1"),  # a repeated item counts once
    ("p2", "c1", "m1"),
    ("p3", "c1", "m1"), ("p3", "c3", "m2"),
    ("p4", "c1", "m1"),
    # each of c7, c8, c9 is held by two patients, each pair of them by one: singled out by two items only
    ("p5", "c7", "m1"), ("p5", "c8", "m1"),
    ("p6", "c7", "m1"), ("p6", "c9", "m1"),
    ("p7", "c8", "m1"), ("p7", "c9", "m1"),
]


def test_req22_attacker_levels_count_the_classes_of_each_level(spark):
    patients = local_frame(spark, PATIENTS, "pid string, __q string")
    items = local_frame(spark, ITEMS, "pid string, __code string, __time string")
    risk = attacker_risk(patients, items, k=2, m=2)
    assert risk["patients"] == 8 and (risk["k"], risk["m"]) == (2, 2)
    assert risk["qi"] == {"unique_share": 1 / 8, "below_k_share": 1 / 8}  # p4
    # months: A{m1} x5, A{m1,m2} p3, B{m1} p4, A{} p8
    assert risk["months"] == {"unique_share": 3 / 8, "below_k_share": 3 / 8}
    assert risk["codes"] == {"unique_share": 1.0, "below_k_share": 1.0}  # no two patients share a code set
    assert risk["items_1"] == {"singled_out_share": 3 / 8}  # p1 (c2), p3 (c3), p4 (alone in B)
    assert risk["items_2"] == {"singled_out_share": 6 / 8}  # and p5, p6, p7 by their pairs; p2, p8 never


def test_req22_an_empty_release_has_no_risk(spark):
    patients = local_frame(spark, [], "pid string, __q string")
    items = local_frame(spark, [], "pid string, __code string, __time string")
    risk = attacker_risk(patients, items, k=5, m=1)
    assert risk == {"patients": 0, "k": 5, "m": 1, "qi": {"unique_share": 0.0, "below_k_share": 0.0},
                    "months": {"unique_share": 0.0, "below_k_share": 0.0},
                    "codes": {"unique_share": 0.0, "below_k_share": 0.0}, "items_1": {"singled_out_share": 0.0}}
