"""Evaluation of a dose history: numbering, intervals, plans by starting age, invalid doses."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from yobo.schedule.api import evaluate
from yobo.schedule.engine import ScheduleInputError
from yobo.schedule.tests.helpers import dose, status

B = date(2024, 1, 10)  # 2 months on 2024-03-09, 12 months on 2025-01-09


def test_interval_of_27_days_boundary() -> None:
    d1 = date(2024, 3, 15)
    too_soon = status("HIB", B, date(2024, 6, 1), history=[dose("HIB", d1), dose("HIB", d1 + timedelta(days=27))])
    assert too_soon is not None and too_soon.valid_doses == 1 and too_soon.dose == 2
    [c1, c2] = too_soon.checks
    assert c1.valid and not c2.valid and c2.reason == "interval_since_the_previous_dose_too_short"
    assert too_soon.earliest == d1 + timedelta(days=28)
    ok = status("HIB", B, date(2024, 6, 1), history=[dose("HIB", d1), dose("HIB", d1 + timedelta(days=28))])
    assert ok is not None and ok.valid_doses == 2 and ok.dose == 3


def test_dose_before_minimum_age_is_invalid_with_reason() -> None:
    s = status("HIB", B, date(2024, 4, 1), history=[dose("HIB", date(2024, 3, 8))])  # the day before 2 months
    assert s is not None and s.valid_doses == 0 and s.status == "due"
    assert not s.checks[0].valid and "接種可能な年齢" in s.checks[0].message
    s = status("HIB", B, date(2024, 4, 1), history=[dose("HIB", date(2024, 3, 9))])  # the day of
    assert s is not None and s.valid_doses == 1


def test_mr1_day_before_first_birthday_eve() -> None:
    birth = date(2023, 6, 10)
    s = status("MR1", birth, date(2024, 7, 1), history=[dose("MR1", date(2024, 6, 8))])
    assert s is not None and s.status == "due" and not s.checks[0].valid
    s = status("MR1", birth, date(2024, 7, 1), history=[dose("MR1", date(2024, 6, 9))])
    assert s is not None and s.status == "complete"


def test_hib_primary_skipped_after_12_months_then_booster() -> None:
    hist = [dose("HIB", date(2024, 3, 15)), dose("HIB", date(2024, 4, 20))]
    s = status("HIB", B, date(2025, 1, 9), history=hist)
    assert s is not None and (s.status, s.dose) == ("due", 3)
    s = status("HIB", B, date(2025, 1, 10), history=hist)  # 3rd primary no longer given: booster next
    assert s is not None and (s.status, s.dose, s.earliest) == ("due", 4, date(2024, 11, 20))
    s = status("HIB", B, date(2025, 2, 1), history=[*hist, dose("HIB", date(2025, 2, 1))])
    assert s is not None and s.status == "complete"


def test_hib_late_start_needs_one_dose() -> None:
    s = status("HIB", date(2022, 1, 10), date(2023, 7, 1), history=[dose("HIB", date(2023, 6, 1))])
    assert s is not None and s.status == "complete"
    s = status("HIB", date(2023, 3, 1), date(2023, 12, 1), history=[dose("HIB", date(2023, 11, 1))])  # 8 months
    assert s is not None and (s.status, s.dose) == ("due", 2)


def test_pcv_start_between_12_and_24_months_two_doses_60_days() -> None:
    birth = date(2022, 1, 10)
    d1 = date(2023, 3, 1)
    s = status("PCV", birth, date(2023, 6, 1), history=[dose("PCV", d1), dose("PCV", d1 + timedelta(days=60))])
    assert s is not None and s.valid_doses == 1 and s.earliest == d1 + timedelta(days=61)
    s = status("PCV", birth, date(2023, 6, 1), history=[dose("PCV", d1), dose("PCV", d1 + timedelta(days=61))])
    assert s is not None and s.status == "complete"


def test_pentavalent_counts_for_hib_and_dpt_ipv() -> None:
    hist = [dose("DPT-IPV-HIB", d) for d in (date(2024, 3, 15), date(2024, 4, 20), date(2024, 5, 25), date(2025, 2, 1))]
    res = {s.vaccine: s for s in evaluate(B, "F", date(2025, 3, 1), hist)}
    assert res["DPT-IPV-HIB"].status == "complete"
    assert res["DPT-IPV"].status == "complete"
    assert res["HIB"].status == "complete"
    assert res["PCV"].status == "due"


def test_hepb_third_dose_139_days_after_first() -> None:
    d1 = date(2024, 3, 15)
    base = [dose("HEPB", d1), dose("HEPB", d1 + timedelta(days=28))]
    s = status("HEPB", B, date(2024, 9, 1), history=[*base, dose("HEPB", d1 + timedelta(days=139))])
    assert s is not None and s.status == "due" and s.earliest == d1 + timedelta(days=140)
    s = status("HEPB", B, date(2024, 9, 1), history=[*base, dose("HEPB", d1 + timedelta(days=140))])
    assert s is not None and s.status == "complete"


def test_rota_products() -> None:
    birth = date(2024, 1, 10)
    rv5 = [dose("ROTA", birth + timedelta(days=60), "RV5"), dose("ROTA", birth + timedelta(days=90), "5価")]
    s = status("ROTA", birth, birth + timedelta(days=130), history=rv5)
    assert s is not None and (s.status, s.dose, s.eligible_until) == ("due", 3, birth + timedelta(days=224))
    rv1 = [dose("ROTA", birth + timedelta(days=60), "RV1"), dose("ROTA", birth + timedelta(days=90))]
    s = status("ROTA", birth, birth + timedelta(days=130), history=rv1)
    assert s is not None and s.status == "complete"
    late = [dose("ROTA", birth + timedelta(days=60), "RV1"), dose("ROTA", birth + timedelta(days=169))]
    s = status("ROTA", birth, birth + timedelta(days=200), history=late)
    assert s is not None and s.status == "expired" and not s.checks[1].valid


def test_extra_dose_is_reported() -> None:
    s = status("BCG", B, date(2024, 9, 1), history=[dose("BCG", date(2024, 6, 1)), dose("BCG", date(2024, 8, 1))])
    assert s is not None and s.status == "complete" and [c.valid for c in s.checks] == [True, False]


def test_hpv_nine_valent_two_or_three_doses_by_starting_age() -> None:
    girl = date(2012, 5, 1)  # 15 on 2027-04-30
    s = status("HPV", girl, date(2025, 12, 1), "F", [dose("HPV", date(2025, 5, 1)), dose("HPV", date(2025, 10, 1))])
    assert s is not None and s.status == "complete"
    s = status("HPV", girl, date(2027, 12, 1), "F", [dose("HPV", date(2027, 5, 1)), dose("HPV", date(2027, 10, 1))])
    assert s is not None and (s.status, s.dose) == ("due", 3)


def test_expired_when_window_ended_incomplete() -> None:
    s = status("VAR", date(2020, 1, 10), date(2023, 2, 1), history=[dose("VAR", date(2021, 3, 1))])
    assert s is not None and (s.status, s.dose) == ("expired", 2)


@pytest.mark.parametrize(
    ("history", "match"),
    [
        ([dose("XYZ", date(2024, 3, 15))], "ワクチンコードが不明"),
        ([dose("HIB", date(2023, 12, 1))], "生年月日より前"),
        ([dose("HIB", date(2030, 1, 1))], "基準日より後"),
        ([dose("ROTA", date(2024, 3, 15), "9vHPV")], "製剤"),
        ([dose("ROTA", date(2024, 3, 15), "nonsense")], "製剤名が不明"),
    ],
)
def test_bad_history_is_rejected(history: list, match: str) -> None:
    with pytest.raises(ScheduleInputError, match=match):
        evaluate(B, "M", date(2025, 1, 1), history)


def test_bad_sex_and_birth_after_as_of() -> None:
    with pytest.raises(ScheduleInputError, match="性別"):
        evaluate(B, "X", date(2025, 1, 1))
    with pytest.raises(ScheduleInputError, match="生年月日が基準日より後"):
        evaluate(B, "M", date(2023, 1, 1))
