import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from transforms.columns.dates import (
    age,
    age_at,
    age_band,
    band_label,
    band_labels,
    band_of_age,
    generalize_birth,
    generalize_date,
    shift_date,
    shift_days,
)
from transforms.columns.pseudonym import with_keys
from transforms.local import local_frame


def _py_age(born: dt.date, at: dt.date) -> int:
    """民法143条: the anniversary of 29 February in a common year is 1 March."""
    try:
        anniversary = born.replace(year=at.year)
    except ValueError:
        anniversary = dt.date(at.year, 3, 1)
    return at.year - born.year - (1 if at < anniversary else 0)


def _month_end_or_leap_day(year_lo: int, year_hi: int):
    def build(y: int, m: int, kind: int) -> dt.date:
        last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).day
        day = {0: 1, 1: last, 2: min(29, last), 3: 28}[kind]
        return dt.date(y, m, day)

    leap = st.sampled_from([y for y in range(year_lo, year_hi) if y % 4 == 0 and (y % 100 or y % 400 == 0)])
    return st.one_of(
        st.builds(build, st.integers(year_lo, year_hi), st.integers(1, 12), st.integers(0, 3)),
        st.builds(lambda y: dt.date(y, 2, 29), leap),
        st.builds(lambda y: dt.date(y, 3, 1), st.integers(year_lo, year_hi)),
    )


PAIRS = st.lists(st.tuples(_month_end_or_leap_day(1900, 2024), _month_end_or_leap_day(1990, 2030)), min_size=1, max_size=80)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=PAIRS)
def test_req7_req17_age_and_band_at_month_ends_and_leap_days(spark, pairs):
    df = local_frame(spark, pairs, "b date, a date")
    rows = df.select(
        "b", "a", age_at(F.col("b"), F.col("a")).alias("age"), age_band(F.col("b"), F.col("a"), 5, 90).alias("band"),
        age(F.col("b"), F.col("a"), 90).alias("top"),
    ).collect()
    for r in rows:
        want = _py_age(r["b"], r["a"]) if r["a"] >= r["b"] else None
        assert r["age"] == want, (r["b"], r["a"])
        if want is None:
            assert r["band"] is None and r["top"] is None
        elif want >= 90:
            assert r["band"] == "90+" and r["top"] == 90
        else:
            lo, hi = map(int, r["band"].split("-"))
            assert lo <= want <= hi and hi - lo == 4 and lo % 5 == 0
            assert r["top"] == want


def test_req7_leap_day_birthday_is_first_of_march_in_common_years(spark):
    df = local_frame(spark,
        [(dt.date(2000, 2, 29), dt.date(2001, 2, 28)), (dt.date(2000, 2, 29), dt.date(2001, 3, 1)),
         (dt.date(2000, 2, 29), dt.date(2004, 2, 29)), (dt.date(1935, 4, 2), dt.date(2025, 4, 1)),
         (dt.date(1935, 4, 2), dt.date(2025, 4, 2)), (None, dt.date(2025, 1, 1))],
        "b date, a date",
    )
    got = [tuple(r) for r in df.select(age_at(F.col("b"), F.col("a")), age_band(F.col("b"), F.col("a"))).collect()]
    assert got == [(0, "00-04"), (1, "00-04"), (4, "00-04"), (89, "85-89"), (90, "90+"), (None, None)]


def test_req17_top_only_lowers_and_truncates_the_last_band(spark):
    df = local_frame(spark, [(dt.date(1940, 1, 1), dt.date(2025, 6, 1)), (dt.date(1938, 1, 1), dt.date(2025, 6, 1))], "b date, a date")
    got = [r[0] for r in df.select(age_band(F.col("b"), F.col("a"), 5, 86)).collect()]
    assert got == ["85-85", "86+"]


def test_req22_generalize_date_units_and_null(spark):
    df = local_frame(spark, [(dt.date(2025, 3, 31),), (None,)], "d date")
    got = [tuple(r) for r in df.select(*(generalize_date(F.col("d"), u) for u in ("year", "quarter", "year_month"))).collect()]
    assert got == [("2025", "2025-Q1", "2025-03"), (None, None, None)]


def test_req17_birth_year_month_suppressed_at_90_and_over(spark):
    df = local_frame(spark,
        [(dt.date(1935, 4, 2), dt.date(2025, 4, 1)), (dt.date(1935, 4, 2), dt.date(2025, 4, 2)), (None, dt.date(2025, 4, 2))],
        "b date, a date",
    )
    got = [r[0] for r in df.select(generalize_birth(F.col("b"), "year_month", F.col("a"), 90)).collect()]
    assert got == ["1935-04", None, None]


def test_req22_date_shift_is_per_patient_and_keeps_intervals(spark):
    rows = [("山田", dt.date(2025, 1, 10)), ("山田", dt.date(2025, 3, 1)), ("pid-b", dt.date(2025, 1, 10)), ("pid-b", None)]
    df, keys = with_keys(local_frame(spark, rows, "pid string, d date"), {"k1": b"k1", "k2": b"k2"})
    out = df.select("pid", "d", shift_date(F.col("d"), shift_days(F.col("pid"), keys["k1"], 30)).alias("s")).collect()
    offsets = {(r["pid"], r["d"]): (r["s"] - r["d"]).days for r in out if r["d"] is not None}
    assert offsets[("山田", dt.date(2025, 1, 10))] == offsets[("山田", dt.date(2025, 3, 1))]
    assert all(-30 <= v <= 30 for v in offsets.values())
    assert [r["s"] for r in out if r["d"] is None] == [None]
    other_key = df.select(shift_days(F.col("pid"), keys["k2"], 10_000).alias("o")).collect()
    this_key = df.select(shift_days(F.col("pid"), keys["k1"], 10_000).alias("o")).collect()
    assert other_key != this_key


def test_age_band_labels_pad_to_two_digits_and_keep_three(spark):
    df = local_frame(spark, [(dt.date(1920, 1, 1), dt.date(2022, 6, 1)), (dt.date(2015, 1, 1), dt.date(2022, 6, 1))],
                               "b date, a date")
    got = [r[0] for r in df.select(age_band(F.col("b"), F.col("a"), 5, None)).collect()]
    assert got == ["100-104", "05-09"]


@pytest.mark.parametrize(("width", "top"), [(5, 90), (10, 90), (5, 86), (5, None), (10, None)])
def test_the_age_band_column_writes_band_label_of_every_age_to_130(spark, width, top):
    """The Spark column and the label list (hierarchy leaves, validation) share one definition."""
    ages = local_frame(spark, [(a,) for a in range(131)] + [(None,)], "years int")
    got = [(r["years"], r["band"]) for r in ages.select("years", band_of_age(F.col("years"), width, top).alias("band")).collect()]
    assert got == [(a, band_label(a, width, top)) for a in range(131)] + [(None, None)]
    assert {band for _, band in got if band is not None} <= set(band_labels(width, top))
