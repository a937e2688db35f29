"""One definition of the age-band labels (transforms/columns/dates.py) serves the Spark column, the
k-anonymity hierarchy and the validation's value set. No Spark here: tests/test_anon_dates.py checks
that the Spark column writes exactly `band_label` of every age."""

from __future__ import annotations

import pytest

from expectations.from_policy import checks_for_release
from transforms.columns.dates import AGE_LIMIT, band_label, band_labels
from transforms.policy.model import Linkage, Policy, ProfileParams, Rule, TablePolicy
from transforms.release.qi_hierarchies import UNKNOWN, age_band_hierarchy, age_band_labels

SHAPES = [(5, 90), (10, 90), (5, 86), (10, 85), (5, None), (10, None)]


@pytest.mark.parametrize(
    ("age", "width", "top", "label"),
    [
        (0, 5, 90, "00-04"), (9, 5, 90, "05-09"), (89, 5, 90, "85-89"), (90, 5, 90, "90+"), (130, 5, 90, "90+"),
        (85, 5, 86, "85-85"), (86, 5, 86, "86+"), (84, 10, 85, "80-84"), (0, 1, 1, "00-00"), (1, 1, 1, "1+"), (7, 1, None, "07-07"),
        (100, 5, None, "100-104"), (129, 10, None, "120-129"), (130, 10, None, "130-139"), (149, 5, None, "145-149"),
    ],
)
def test_band_label_of_an_age(age, width, top, label):
    assert band_label(age, width, top) == label


def test_band_labels_list_the_bands_youngest_first():
    five = band_labels(5, 90)
    assert (len(five), five[:3], five[-3:]) == (19, ("00-04", "05-09", "10-14"), ("80-84", "85-89", "90+"))
    assert band_labels(10, 85)[-3:] == ("70-79", "80-84", "85+")
    assert band_labels(10, None) == ("00-09", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89",
                                     "90-99", "100-109", "110-119", "120-129", "130-139", "140-149")
    with pytest.raises(ValueError, match="positive"):
        band_labels(0, 90)


@pytest.mark.parametrize(("width", "top"), SHAPES)
def test_every_age_to_130_has_a_listed_label_and_every_listed_label_an_age(width, top):
    labels = band_labels(width, top)
    assert {band_label(age, width, top) for age in range(131)} <= set(labels)
    written = [band_label(age, width, top) for age in range(AGE_LIMIT)]
    assert list(dict.fromkeys(written)) == list(labels)  # each once, in the order of the ages


@pytest.mark.parametrize(("width", "top"), SHAPES)
def test_the_age_hierarchy_leaves_are_the_band_labels_and_each_level_holds_its_leaves(width, top):
    hier = age_band_hierarchy(width, top)
    assert [row[0] for row in hier.rows] == [*band_labels(width, top), UNKNOWN]
    for level in range(1, 3):
        assert {row[level] for row in hier.rows} == {*age_band_labels(width, top, level), UNKNOWN}
        for leaf, coarse in ((row[0], row[level]) for row in hier.rows if row[0] != UNKNOWN):
            if leaf.endswith("+"):
                assert coarse == leaf  # 90+ stays one band (requirement 17)
            else:
                (lo, hi), (clo, chi) = map(int, leaf.split("-")), map(int, coarse.split("-"))
                assert clo <= lo <= hi <= chi and chi - clo + 1 <= width * 2**level
    assert {row[3] for row in hier.rows} == {"*"}


def test_the_age_hierarchy_generalizes_by_doubling_the_width():
    rows = {row[0]: row for row in age_band_hierarchy(5, 90).rows}
    assert rows["65-69"] == ("65-69", "60-69", "60-79", "*")
    assert rows["85-89"] == ("85-89", "80-89", "80-89", "*")  # a band that reaches the top ends below it
    assert rows["90+"] == ("90+", "90+", "90+", "*")
    assert rows[UNKNOWN] == (UNKNOWN, UNKNOWN, UNKNOWN, "*")
    rows = {row[0]: row for row in age_band_hierarchy(5, None).rows}
    assert rows["145-149"] == ("145-149", "140-149", "140-159", "*")  # what the rule writes at width 20


def _policy(profile: str, width: int, top: int | None) -> Policy:
    params = {"at": "first_service", "width": width} | ({"top": top} if top is not None else {})
    table = TablePolicy("patients", "patients", {"birth_date": Rule("age_band", params, "age_band")})
    return Policy(profile, "test", ProfileParams(), Linkage(), {"patients": table})


@pytest.mark.parametrize(("width", "top"), SHAPES)
@pytest.mark.parametrize("level", [0, 1, 3])
def test_validation_accepts_exactly_the_band_labels_at_the_chosen_level(width, top, level):
    profile = "pseudonymized" if top is None else "anonymized"
    staged = {"outputs": [{"table": "patients", "source": "patients"}],
              "kanon": {"table": "patients", "quasi_identifiers": ["age_band"], "k": 10, "levels": {"age_band": level}}}
    checks = checks_for_release(_policy(profile, width, top), staged, "patients", ["age_band"])
    want = band_labels(width * 2**level, top) if level < 3 else ("*",)
    assert checks.value_sets["age_band"] == want == age_band_labels(width, top, level)
