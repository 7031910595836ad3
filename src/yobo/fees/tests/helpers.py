"""Test helpers: dose records and clinics as the immunizations app would leave them."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.utils import timezone

from yobo.core.wareki import fiscal_year


def add_dose(person: Any, vaccine: str, on: date, *, clinic: str = "1410000011", claim_month: str = "",
             dose_number: int | None = 1, problems: list[dict[str, str]] | None = None, state: str = "active",
             screening_only: bool = False, staff_id: int = 1) -> Any:
    from yobo.immunizations.models import Dose

    age = on.year - person.birth_date.year - ((on.month, on.day) < (person.birth_date.month, person.birth_date.day))
    return Dose.objects.create(
        municipality=settings.MUNICIPALITY_CODE, atena_no=person.atena_no, person_id=person.pk, vaccine=vaccine,
        dose_number=dose_number, date=on, fiscal_year=fiscal_year(on), age_years=age, age_months=0, age_fy_end=age,
        clinic_code=clinic, claim_month=claim_month, source="keyed", entered_on=timezone.localdate(),
        entered_by_id=staff_id, problems=problems or [], has_warnings=bool(problems), state=state,
        screening_only=screening_only,
    )


def add_clinic(code: str, name: str, *, since: date | None = date(2020, 4, 1), until: date | None = None) -> Any:
    from yobo.immunizations.models import Clinic

    return Clinic.objects.create(municipality=settings.MUNICIPALITY_CODE, code=code, name=name,
                                 contracted_from=since, contracted_until=until)
