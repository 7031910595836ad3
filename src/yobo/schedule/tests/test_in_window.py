"""``Engine.in_window``: the public "was this person a target of the series on that date" check."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yobo.schedule.engine import ScheduleInputError, engine_for
from yobo.schedule.rules import load_series
from yobo.schedule.tests.test_boundaries import WINDOWS

ONE = timedelta(days=1)
ENGINE = engine_for()


def _unconditional(code: str) -> bool:
    return not any(w.product or w.requires_dose_between for w in load_series()[code].windows)


def _inside(code: str, birth: date, sex: int, on: date) -> bool:
    return bool(ENGINE.in_window(code, np.array([birth], "datetime64[D]"), np.array([sex], np.int8),
                                 np.array([on], "datetime64[D]"))[0])


# The children's series whose one window for a child born in 2020 is the whole story (no special
# measures for that cohort, no product-dependent window, no seasonal repeat).
CHILD = ("HIB", "PCV", "HEPB", "BCG", "MR1", "MR2", "VAR", "JE1", "JE2", "DT", "HPV")


@pytest.mark.parametrize(("code", "birth", "sex", "first", "last"), [w for w in WINDOWS if w[0] in CHILD])
def test_window_ends_are_inside_and_the_days_around_are_not(code: str, birth: date, sex: str, first: date,
                                                            last: date) -> None:
    s = 2 if sex == "F" else 1
    assert [_inside(code, birth, s, d) for d in (first - ONE, first, last, last + ONE)] == [False, True, True, False]


def test_sex_and_unknown_codes() -> None:
    assert not _inside("HPV", date(2010, 5, 1), 1, date(2023, 5, 1))
    assert _inside("HPV", date(2010, 5, 1), 2, date(2023, 5, 1))
    with pytest.raises(ScheduleInputError):
        _inside("NOPE", date(2010, 5, 1), 2, date(2023, 5, 1))


@settings(max_examples=150, deadline=None)
@given(code=st.sampled_from(sorted(c for c in load_series() if _unconditional(c))),
       birth=st.dates(date(1940, 1, 1), date(2025, 12, 31)), days=st.integers(0, 40_000), sex=st.sampled_from([1, 2]))
def test_agrees_with_the_window_evaluate_reports_without_doses(code: str, birth: date, days: int, sex: int) -> None:
    """Without doses, a person is inside a window on a date exactly when evaluating on that date
    gives a window containing it (the engine's own answer, for every unconditional series)."""
    on = min(birth + timedelta(days=days), date(2060, 12, 31))
    res = ENGINE.evaluate_population(np.array([birth], "datetime64[D]"), np.array([sex], np.int8), None, on)
    sr = res.series[code]
    d = np.datetime64(on, "D")
    expected = bool(sr.eligible_from[0] <= d <= sr.eligible_until[0])
    assert _inside(code, birth, sex, on) == expected
