"""Age arithmetic under the Act on Calculation of Age: boundaries and property tests."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from yobo.schedule.ages import (
    Span,
    add_months,
    after_interval,
    age_in_years,
    attain,
    attain_months,
    attain_years,
    fiscal_year,
    np_add_months,
    np_attain_months,
    np_fiscal_year,
    np_fy_end,
    np_fy_start,
)

dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))


@pytest.mark.parametrize(
    ("birth", "months", "expected"),
    [
        (date(2018, 4, 1), 2, date(2018, 5, 31)),  # the eve of the corresponding day
        (date(2018, 4, 1), 60, date(2023, 3, 31)),
        (date(2018, 4, 1), 90, date(2025, 9, 30)),
        (date(2018, 12, 31), 2, date(2019, 2, 28)),  # no 31 February: the month's last day
        (date(2018, 12, 29), 2, date(2019, 2, 28)),  # no 29 February in 2019
        (date(2019, 12, 29), 2, date(2020, 2, 28)),  # 29 February 2020 exists: its eve
        (date(2018, 12, 31), 60, date(2023, 12, 30)),
        (date(2020, 2, 29), 12, date(2021, 2, 28)),  # leap-day birth, common year
        (date(2020, 2, 29), 48, date(2024, 2, 28)),  # leap-day birth, leap year: eve of 29 Feb
        (date(2020, 3, 1), 12, date(2021, 2, 28)),
        (date(2020, 1, 1), 12, date(2020, 12, 31)),
    ],
)
def test_attain_months_examples(birth: date, months: int, expected: date) -> None:
    assert attain_months(birth, months) == expected


def test_school_entry_rule_april_first() -> None:
    # Born 1 April: reaches 6 on 31 March, so enters school a year earlier than a 2 April birth.
    assert attain_years(date(2018, 4, 1), 6) == date(2024, 3, 31)
    assert attain_years(date(2018, 4, 2), 6) == date(2024, 4, 1)
    assert fiscal_year(attain_years(date(2018, 4, 1), 6)) == 2023
    assert fiscal_year(attain_years(date(2018, 4, 2), 6)) == 2024


def test_age_in_years_boundaries() -> None:
    b = date(1960, 5, 20)
    assert age_in_years(b, date(2025, 5, 18)) == 64
    assert age_in_years(b, date(2025, 5, 19)) == 65  # the birthday's eve
    assert age_in_years(b, date(2025, 5, 20)) == 65


def test_weeks_are_counted_from_birth() -> None:
    b = date(2020, 9, 15)
    assert attain(b, Span.parse("6w")) == b + timedelta(days=42)
    assert attain(b, Span.parse("14w6d")) == b + timedelta(days=104)
    assert attain(b, Span.parse("0d")) == b


def test_intervals() -> None:
    d = date(2024, 3, 15)
    assert after_interval(d, Span.parse("27d")) == date(2024, 4, 12)  # 4 weeks later, same weekday
    assert after_interval(d, Span.parse("7m")) == date(2024, 10, 15)
    assert after_interval(date(2024, 8, 31), Span.parse("6m")) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


def test_span_parse_rejects_garbage() -> None:
    for bad in ("", "2x", "m2", "1.5m"):
        with pytest.raises(ValueError, match="bad age"):
            Span.parse(bad)


@given(dates, st.integers(min_value=0, max_value=1300))
def test_attain_is_eve_of_corresponding_day_or_month_end(birth: date, months: int) -> None:
    a = attain_months(birth, months)
    nxt = a + timedelta(days=1)
    if months:
        # Either the next day is the corresponding day, or the corresponding day does not exist.
        assert nxt.day == birth.day or (a.day < birth.day and nxt.day == 1)
        assert (a.year * 12 + a.month) - (birth.year * 12 + birth.month) in (months, months - 1)


@given(dates, st.integers(min_value=0, max_value=1300))
def test_attain_is_monotonic(birth: date, months: int) -> None:
    assert attain_months(birth, months) < attain_months(birth, months + 1)
    if birth < date(2100, 12, 31):
        assert attain_months(birth, months) <= attain_months(birth + timedelta(days=1), months)


@given(st.lists(dates, min_size=1, max_size=30), st.integers(min_value=0, max_value=1300))
def test_vectorised_forms_match_scalar(ds: list[date], months: int) -> None:
    arr = np.array(ds, "datetime64[D]")
    got = np_attain_months(arr, months)
    assert [x.item() for x in got] == [attain_months(d, months) for d in ds]
    assert [x.item() for x in np_add_months(arr, months)] == [add_months(d, months) for d in ds]
    fy = np_fiscal_year(arr)
    assert list(fy) == [fiscal_year(d) for d in ds]
    assert [x.item() for x in np_fy_start(fy)] == [date(fiscal_year(d), 4, 1) for d in ds]
    assert [x.item() for x in np_fy_end(fy)] == [date(fiscal_year(d) + 1, 3, 31) for d in ds]


@given(dates)
def test_fiscal_year_boundaries(d: date) -> None:
    fy = fiscal_year(d)
    assert date(fy, 4, 1) <= d <= date(fy + 1, 3, 31)
