"""Requirement 43: the waiting period after the opt-out notice (transforms/release/waiting.py on a real Spark)."""

import datetime as dt

import pytest

from transforms.local import local_frame
from transforms.release.waiting import claim_visits, first_notified_visits, held_back, sample_visits

D = dt.date
SCHEMA = "pid string, institution_code string, service_month date"
APRIL = D(2024, 4, 1)


def _held(spark, receipts, extraction, started=APRIL, institutions=None, labs=None, wait=30):
    df = local_frame(spark, receipts, SCHEMA)
    visits = claim_visits(df)
    if labs is not None:
        visits = visits.unionByName(sample_visits(local_frame(spark, labs, "pid string, institution_code string, sampled_on date")))
    first = first_notified_visits(visits, started, institutions or {})
    pids = df.select("pid") if labs is None else df.select("pid").unionByName(visits.select("pid"))
    return {r["pid"]: r["first_notified"] for r in held_back(pids, first, wait, extraction).collect()}


@pytest.mark.parametrize(("day", "held"), [(29, True), (30, False), (31, False)])
def test_req43_boundary_at_day_29_30_31(spark, day, held):
    # the notified visit is in May 2024, dated at its last possible day (31 May): provision from 30 June
    receipts = [("p", "A", D(2024, 5, 1))]
    got = _held(spark, receipts, D(2024, 5, 31) + dt.timedelta(days=day))
    assert (got == {"p": D(2024, 5, 31)}) is held and (got == {}) is (not held)


def test_req43_a_month_straddling_the_notice_start_does_not_count_as_notified(spark):
    # notice from 15 April: an April visit may have come before it; the May visit is the first known after
    receipts = [("p", "A", D(2024, 4, 1)), ("p", "A", D(2024, 5, 1))]
    assert _held(spark, receipts, D(2024, 6, 29), started=D(2024, 4, 15)) == {"p": D(2024, 5, 31)}
    assert _held(spark, receipts, D(2024, 6, 30), started=D(2024, 4, 15)) == {}


def test_req43_never_notified_patients_are_held_back_and_institutions_have_their_own_dates(spark):
    receipts = [("early", "A", D(2024, 5, 1)), ("late", "B", D(2024, 5, 1)), ("both", "B", D(2024, 5, 1)),
                ("both", "A", D(2024, 6, 1))]
    got = _held(spark, receipts, D(2024, 12, 1), institutions={"B": D(2024, 9, 1)})
    assert got == {"late": None}  # B's notice began after its only visit; `both` was notified at A in June


def test_req43_a_lab_sample_is_a_visit_with_a_known_day(spark):
    receipts = [("p", "A", D(2024, 3, 1))]  # before the notice
    labs = [("p", "A", D(2024, 5, 10)), ("q", "A", D(2024, 3, 2))]
    assert _held(spark, receipts, D(2024, 6, 8), labs=labs) == {"p": D(2024, 5, 10), "q": None}
    assert _held(spark, receipts, D(2024, 6, 9), labs=labs) == {"q": None}  # 30 days after the sample
    assert _held(spark, receipts, D(2024, 6, 9), labs=labs, started=None) == {"p": None, "q": None}


