"""Property tests over random birth dates: windows have no gap and no overlap where the law has none,
and the batch agrees with person-by-person evaluation."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from yobo.schedule.ages import attain_years, fiscal_year
from yobo.schedule.api import DoseRecord, evaluate
from yobo.schedule.engine import DUE, Engine, History
from yobo.schedule.tests.helpers import status

ONE = timedelta(days=1)
child_births = st.dates(min_value=date(2013, 4, 1), max_value=date(2026, 3, 31))
CONTIGUOUS = ["HIB", "PCV", "HEPB", "ROTA", "DPT-IPV-HIB", "DPT-IPV", "BCG", "MR1", "MR2", "VAR", "JE2", "DT"]
ENGINE = Engine()


@settings(max_examples=60, deadline=None)
@given(child_births, st.sampled_from(CONTIGUOUS), st.floats(min_value=0, max_value=1))
def test_no_gap_inside_a_window(birth: date, code: str, frac: float) -> None:
    """Any day between eligible_from and eligible_until is due, with the same window reported."""
    first = status(code, birth, max(birth, date(2026, 4, 1)))
    if first is None or (first.status == "upcoming" and first.eligible_from > date(2040, 1, 1)):
        return
    span = (first.eligible_until - first.eligible_from).days
    for day in (first.eligible_from, first.eligible_from + timedelta(days=int(span * frac)), first.eligible_until):
        if day < birth:
            continue
        s = status(code, birth, day)
        assert s is not None
        assert (s.status, s.eligible_from, s.eligible_until) == ("due", first.eligible_from, first.eligible_until)


@settings(max_examples=80, deadline=None)
@given(st.dates(min_value=date(2010, 4, 2), max_value=date(2024, 3, 31)))
def test_dpt_ipv_rule_change_leaves_no_gap(birth: date) -> None:
    """Across the 2023-04-01 change (3 months -> 2 months) the window is one unbroken range."""
    s = status("DPT-IPV", birth, max(birth, date(2023, 3, 31)))
    assert s is not None
    for day in (date(2023, 3, 31), date(2023, 4, 1)):
        if s.eligible_from <= day <= s.eligible_until and day >= birth:
            t = status("DPT-IPV", birth, day)
            assert t is not None and t.status == "due"


@settings(max_examples=80, deadline=None)
@given(st.dates(min_value=date(2001, 4, 2), max_value=date(2025, 3, 31)))
def test_mr2_consecutive_birthdays_neither_gap_nor_overlap(birth: date) -> None:
    """Adjacent birth dates get the same school year or consecutive ones; the year is the one before entry."""
    nxt = birth + ONE
    a = status("MR2", birth, birth)
    b = status("MR2", nxt, nxt)
    assert a is not None and b is not None
    assert (b.eligible_from, b.eligible_until) == (
        a.eligible_from,
        a.eligible_until,
    ) or b.eligible_from == a.eligible_until + ONE
    assert a.eligible_from.month == 4 and a.eligible_from.day == 1
    entry = a.eligible_until + ONE  # primary school entry: the first 1 April after reaching 6
    assert attain_years(birth, 6) < entry <= attain_years(birth, 6) + timedelta(days=366)
    assert attain_years(birth, 5) <= a.eligible_from and a.eligible_until < attain_years(birth, 7)  # 5歳以上7歳未満


@settings(max_examples=60, deadline=None)
@given(
    st.dates(min_value=date(1940, 1, 1), max_value=date(1959, 3, 31)),
    st.dates(min_value=date(2024, 4, 1), max_value=date(2030, 3, 31)),
)
def test_seasonal_b_windows_tile_the_years(birth: date, as_of: date) -> None:
    """FLU-B: the season window ends on 31 March and the next starts the next day."""
    s = status("FLU-B", birth, as_of)
    assert s is not None and s.status == "due"
    t = status("FLU-B", birth, s.eligible_until + ONE)
    assert t is not None and t.eligible_from == s.eligible_until + ONE


@settings(max_examples=150, deadline=None)
@given(
    st.dates(min_value=date(1915, 1, 1), max_value=date(1962, 12, 31)),
    st.dates(min_value=date(2025, 4, 1), max_value=date(2026, 3, 31)),
)
def test_hz_b_fy2025_targets_match_the_order(birth: date, day: date) -> None:
    """In FY2025: due iff aged 65 on the day, or reaching 70, 75, ..., 100 in the year, or 100 and over."""
    age_end = max(a for a in range(0, 130) if attain_years(birth, a) <= date(2026, 3, 31))
    on_day = max(a for a in range(0, 130) if attain_years(birth, a) <= day)
    expected = on_day == 65 or age_end in (70, 75, 80, 85, 90, 95, 100) or age_end >= 100
    s = status("HZ-B", birth, day)
    assert (s is not None and s.status == "due") == expected


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1950, 1, 1), max_value=date(1962, 12, 31)))
def test_ppsv_fiscal_year_reading_gives_whole_year_to_the_65_cohort(birth: date) -> None:
    from yobo.schedule.rules import Settings

    fy65 = fiscal_year(attain_years(birth, 65))
    if fy65 < 2024:
        return
    s = status("PPSV-B", birth, date(fy65, 4, 1), settings=Settings(aged_65_reading="fiscal_year_cohort"))
    assert s is not None and (s.status, s.eligible_from, s.eligible_until) == (
        "due",
        date(fy65, 4, 1),
        date(fy65 + 1, 3, 31),
    )


VACCINES = ["HIB", "PCV", "DPT-IPV-HIB", "DPT-IPV", "BCG", "MR1", "VAR", "JE1", "HEPB", "HPV", "ROTA"]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dates(min_value=date(2010, 1, 1), max_value=date(2025, 6, 1)),
            st.sampled_from(["M", "F"]),
            st.lists(st.tuples(st.sampled_from(VACCINES), st.integers(min_value=0, max_value=3000)), max_size=8),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_batch_agrees_with_person_by_person(people: list) -> None:
    as_of = date(2025, 6, 1)
    records = []
    per_person = []
    for i, (birth, _sex, doses) in enumerate(people):
        mine = []
        for code, offset in doses:
            d = min(birth + timedelta(days=offset), as_of)
            records.append((i, code, d, None))
            mine.append(DoseRecord(code, d))
        per_person.append(mine)
    births = np.array([p[0] for p in people], "datetime64[D]")
    sexes = np.array([1 if p[1] == "M" else 2 for p in people], np.int8)
    batch = ENGINE.evaluate_population(births, sexes, History.from_records(records), as_of)
    for i, (birth, sex, _doses) in enumerate(people):
        single = {s.vaccine: s for s in evaluate(birth, sex, as_of, per_person[i], include_none=True)}
        for code, sr in batch.series.items():
            one = single[code]
            assert (int(sr.status[i]) == DUE) == (one.status == "due")
            assert int(sr.dose[i]) == one.dose
            assert int(sr.valid_doses[i]) == one.valid_doses
