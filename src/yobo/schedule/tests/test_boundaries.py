"""Every series: status the day before, the day of and the day after each end of its window."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from yobo.schedule.rules import Settings, load_series
from yobo.schedule.tests.helpers import dose, status

ONE = timedelta(days=1)
B = date(2020, 9, 15)  # a child born 15 September 2020
OLD = date(1960, 5, 20)  # reaches 65 on 2025-05-19 (the eve of the birthday)

# (code, birth, sex, eligible_from, eligible_until) worked out by hand from the Enforcement Order.
WINDOWS = [
    ("HIB", B, "M", date(2020, 11, 14), date(2025, 9, 14)),  # 生後2月 .. 生後60月に至るまで
    ("PCV", B, "M", date(2020, 11, 14), date(2025, 9, 14)),
    ("HEPB", B, "M", B, date(2021, 9, 14)),  # 1歳に至るまで
    ("ROTA", B, "M", B + timedelta(days=42), B + timedelta(days=168)),  # RV1: 出生6週0日後 .. 24週0日後
    ("DPT-IPV-HIB", B, "M", date(2024, 4, 1), date(2028, 3, 14)),  # started 2024-04-01; 生後90月に至るまで
    ("DPT-IPV", B, "M", date(2020, 12, 14), date(2028, 3, 14)),  # 生後3月 under the rules of 2020
    ("BCG", B, "M", B, date(2021, 9, 14)),
    ("MR1", B, "M", date(2021, 9, 14), date(2022, 9, 14)),
    ("MR2", B, "M", date(2026, 4, 1), date(2027, 3, 31)),  # the fiscal year before school entry
    ("VAR", B, "M", date(2021, 9, 14), date(2023, 9, 14)),
    ("JE1", B, "M", date(2021, 3, 14), date(2028, 3, 14)),
    ("JE2", B, "M", date(2029, 9, 14), date(2033, 9, 14)),
    ("DT", B, "M", date(2031, 9, 14), date(2033, 9, 14)),
    ("HPV", B, "F", date(2032, 4, 1), date(2037, 3, 31)),  # 12歳となる年度の初日 .. 16歳となる年度の末日
    ("FLU-B", OLD, "M", date(2025, 5, 19), date(2026, 3, 31)),  # this fiscal year, from 65
    ("COVID-B", OLD, "M", date(2025, 5, 19), date(2026, 3, 31)),
    ("PPSV-B", OLD, "M", date(2025, 5, 19), date(2026, 5, 19)),  # 65歳の者: 65 .. before 66
    ("HZ-B", OLD, "M", date(2025, 5, 19), date(2026, 5, 19)),
]


def test_every_series_has_a_boundary_case() -> None:
    assert {w[0] for w in WINDOWS} == set(load_series())


@pytest.mark.parametrize(("code", "birth", "sex", "start", "end"), WINDOWS, ids=[w[0] for w in WINDOWS])
def test_window_boundaries(code: str, birth: date, sex: str, start: date, end: date) -> None:
    if start > birth:  # a window opening at birth has no "day before" for the person
        before = status(code, birth, start - ONE, sex)
        assert before is not None
        assert (before.status, before.eligible_from, before.eligible_until) == ("upcoming", start, end)
    for day in (start, start + ONE, end - ONE, end):
        s = status(code, birth, day, sex)
        assert s is not None
        assert (s.status, s.dose, s.eligible_from, s.eligible_until) == ("due", 1, start, end), day
    after = status(code, birth, end + ONE, sex)
    assert after is not None
    if code in ("FLU-B", "COVID-B"):
        # A new season starts the next day: due again, for the next fiscal year.
        assert (after.status, after.eligible_from, after.eligible_until) == ("due", end + ONE, date(2027, 3, 31))
    else:
        assert (after.status, after.eligible_from, after.eligible_until) == ("expired", start, end)


def test_hpv_is_for_girls_only() -> None:
    assert status("HPV", B, date(2033, 1, 1), "M") is None
    assert status("HPV", B, date(2033, 1, 1), "F") is not None


def test_mr2_april_first_and_second_births_fall_in_different_years() -> None:
    a = status("MR2", date(2019, 4, 1), date(2024, 6, 1))
    b = status("MR2", date(2019, 4, 2), date(2024, 6, 1))
    assert a is not None and b is not None
    assert (a.eligible_from, a.eligible_until) == (date(2024, 4, 1), date(2025, 3, 31))
    assert (b.eligible_from, b.eligible_until) == (date(2025, 4, 1), date(2026, 3, 31))


def test_month_end_birth() -> None:
    s = status("HIB", date(2018, 12, 31), date(2019, 2, 28))
    assert s is not None and (s.status, s.eligible_from, s.eligible_until) == (
        "due",
        date(2019, 2, 28),
        date(2023, 12, 30),
    )
    s = status("HIB", date(2018, 12, 31), date(2019, 2, 27))
    assert s is not None and s.status == "upcoming"


def test_leap_day_birth() -> None:
    s = status("MR1", date(2020, 2, 29), date(2021, 2, 28))
    assert s is not None and (s.status, s.eligible_from, s.eligible_until) == (
        "due",
        date(2021, 2, 28),
        date(2022, 2, 28),
    )
    s = status("MR1", date(2020, 2, 29), date(2021, 2, 27))
    assert s is not None and s.status == "upcoming"


# --- rules that changed over time ----------------------------------------------------------------


def test_dpt_ipv_start_age_moved_from_3_to_2_months() -> None:
    s = status("DPT-IPV", date(2022, 12, 10), date(2023, 2, 20))
    assert s is not None and (s.status, s.eligible_from) == ("upcoming", date(2023, 3, 9))  # 3 months then
    s = status("DPT-IPV", date(2023, 1, 20), date(2023, 3, 25))
    assert s is not None and (s.status, s.eligible_from) == ("upcoming", date(2023, 4, 1))  # 2 months from April
    s = status("DPT-IPV", date(2023, 6, 10), date(2023, 8, 9))
    assert s is not None and (s.status, s.eligible_from) == ("due", date(2023, 8, 9))


def test_pentavalent_started_april_2024() -> None:
    s = status("DPT-IPV-HIB", date(2024, 1, 10), date(2024, 3, 31))
    assert s is not None and (s.status, s.eligible_from) == ("upcoming", date(2024, 4, 1))
    assert status("DPT-IPV-HIB", date(2015, 1, 10), date(2024, 6, 1)) is None  # aged out before it existed


def test_hz_b_starts_april_2025_and_cohorts() -> None:
    # Still 65 on 2025-04-01 (66 on 2025-04-30): a target for the last month of age 65.
    s = status("HZ-B", date(1959, 5, 1), date(2025, 3, 31))
    assert s is not None and (s.status, s.eligible_from, s.eligible_until) == (
        "upcoming",
        date(2025, 4, 1),
        date(2025, 4, 30),
    )
    # 66 before April 2025: next chance is the cohort of those reaching 70 in FY2028.
    s = status("HZ-B", date(1959, 3, 1), date(2025, 3, 31))
    assert s is not None and (s.status, s.eligible_from) == ("upcoming", date(2028, 4, 1))
    s = status("HZ-B", date(1960, 1, 10), date(2025, 3, 31))
    assert s is not None and (s.status, s.eligible_from, s.eligible_until) == (
        "upcoming",
        date(2025, 4, 1),
        date(2026, 1, 9),
    )
    # Reaching 70 on 2025-04-01 (born 1955-04-02): FY2025 cohort. Born 1955-04-01 reached 70 in FY2024.
    s = status("HZ-B", date(1955, 4, 2), date(2025, 4, 1))
    assert s is not None and (s.status, s.eligible_from, s.eligible_until) == (
        "due",
        date(2025, 4, 1),
        date(2026, 3, 31),
    )
    s = status("HZ-B", date(1955, 4, 1), date(2025, 4, 1))
    assert s is not None and (s.status, s.eligible_from) == ("upcoming", date(2029, 4, 1))  # 75 in FY2029
    # Everyone 100 or over, in FY2025 only.
    s = status("HZ-B", date(1920, 7, 7), date(2025, 10, 1))
    assert s is not None and (s.status, s.eligible_until) == ("due", date(2026, 3, 31))
    s = status("HZ-B", date(1920, 7, 7), date(2026, 4, 1))
    assert s is not None and s.status == "expired"


def test_ppsv_b_cohorts_before_fy2024_and_age_65_after() -> None:
    s = status("PPSV-B", date(1950, 6, 1), date(2016, 6, 1))  # 65 in FY2015, window ended; 70 in FY2020
    assert s is not None and (s.status, s.eligible_from, s.eligible_until) == (
        "upcoming",
        date(2020, 4, 1),
        date(2021, 3, 31),
    )
    s = status("PPSV-B", date(1955, 6, 1), date(2025, 6, 1))  # 70 in FY2025: no cohort any more
    assert s is not None and s.status == "expired"


def test_aged_65_reading_is_a_city_setting() -> None:
    fy = Settings(aged_65_reading="fiscal_year_cohort")
    s = status("PPSV-B", OLD, date(2025, 4, 1), settings=fy)
    assert s is not None and (s.status, s.eligible_from, s.eligible_until) == (
        "due",
        date(2025, 4, 1),
        date(2026, 3, 31),
    )
    s = status("PPSV-B", OLD, date(2025, 4, 1))
    assert s is not None and s.status == "upcoming"


def test_flu_season_setting_and_yearly_dose() -> None:
    season = Settings(season=((10, 1), (1, 31)))
    s = status("FLU-B", date(1950, 1, 1), date(2025, 9, 30), settings=season)
    assert s is not None and (s.status, s.eligible_from, s.eligible_until) == (
        "upcoming",
        date(2025, 10, 1),
        date(2026, 1, 31),
    )
    s = status("FLU-B", date(1950, 1, 1), date(2026, 2, 1), settings=season)
    assert s is not None and s.status == "expired"
    s = status("FLU-B", date(1950, 1, 1), date(2026, 2, 1), history=[dose("FLU-B", date(2025, 11, 1))], settings=season)
    assert s is not None and s.status == "complete"
    # Last season's dose does not count for this season.
    s = status("FLU-B", date(1950, 1, 1), date(2026, 4, 10), history=[dose("FLU-B", date(2025, 11, 1))])
    assert s is not None and s.status == "due"


def test_je_special_measure_until_20() -> None:
    b = date(2000, 5, 5)
    s = status("JE1", b, date(2020, 5, 4))
    assert s is not None and (s.status, s.eligible_until) == ("due", date(2020, 5, 4))
    s = status("JE1", b, date(2020, 5, 5))
    assert s is not None and s.status == "expired"
    s = status("JE1", date(2007, 4, 2), date(2017, 1, 1))  # second special cohort: 9..13 years
    assert s is not None and (s.status, s.eligible_from, s.eligible_until) == (
        "due",
        date(2016, 4, 1),
        date(2020, 4, 1),
    )


def test_hpv_catch_up_and_its_extension() -> None:
    b = date(2000, 1, 1)
    s = status("HPV", b, date(2024, 6, 1), "F")
    assert s is not None and (s.status, s.eligible_from, s.eligible_until) == (
        "due",
        date(2022, 4, 1),
        date(2025, 3, 31),
    )
    s = status("HPV", b, date(2025, 6, 1), "F")
    assert s is not None and s.status == "expired"
    s = status("HPV", b, date(2025, 6, 1), "F", [dose("HPV", date(2024, 10, 1))])
    assert s is not None and (s.status, s.dose, s.eligible_until) == ("due", 2, date(2026, 3, 31))
