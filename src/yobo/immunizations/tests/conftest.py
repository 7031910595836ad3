"""Fixtures of the immunizations tests: a small city, the demo masters, staff for V01/V02."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from yobo.core.purposes import Duty, Purpose
from yobo.immunizations import demo
from yobo.immunizations.inputs import DoseInput, Source

CLINIC = demo.clinic_code(0)
CLOSED_CLINIC = demo.clinic_code(demo.CLINIC_COUNT - 1)  # contract ended 2024-03-31
TODAY = date(2026, 11, 23)


def add_person(atena: str, born: date, *, sex: int = 1, status: int = 1, status_date: date | None = None) -> Any:
    """A person as the register import would leave it (only what dose validation reads matters)."""
    from django.conf import settings

    from yobo.people.models import Person

    now = timezone.now()
    return Person.objects.create(
        municipality=settings.MUNICIPALITY_CODE, atena_no=atena, household_no=atena, name_kanji="試験　太郎",
        name_kana="シケン　タロウ", kanji_key="試験太郎", kana_key="シケンタロウ", birth_date=born, sex=sex,
        address="横浜市中区本町1丁目", status=status, status_date=status_date, row_hash="x", created_at=now,
        updated_at=now,
    )


@pytest.fixture
def city(db: Any) -> dict[str, Any]:
    return {
        "baby": add_person("1000000001", date(2025, 1, 10)),  # 生後22か月 on TODAY
        "girl": add_person("1000000002", date(2013, 6, 1), sex=2),
        "moved": add_person("1000000003", date(2024, 5, 5), status=2, status_date=date(2025, 3, 1)),
        "dead": add_person("1000000004", date(1950, 1, 2), status=3, status_date=date(2025, 1, 20)),
        "elder": add_person("1000000005", date(1955, 8, 1), sex=2),
        "child": add_person("1000000006", date(2019, 4, 20)),
    }


@pytest.fixture
def v01(make_ctx: Any) -> Any:
    return make_ctx(Purpose.DOSE_ENTRY, duties=[Duty.ENTRY])


@pytest.fixture
def v02(make_ctx: Any) -> Any:
    return make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK])


@pytest.fixture
def masters(db: Any, make_ctx: Any) -> Any:
    from yobo.immunizations import services

    ctx = make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK])
    services.load_demo_masters(ctx)
    return ctx


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation's 'today' is fixed so the tests do not age."""
    from yobo.immunizations import store

    monkeypatch.setattr(store, "today", lambda: TODAY)


def dose(atena: str, vaccine: str, on: date, n: int | None = None, **kw: Any) -> DoseInput:
    kw.setdefault("clinic_code", CLINIC)
    kw.setdefault("source", Source.KEYED)
    return DoseInput(atena_no=atena, vaccine=vaccine, date=on, dose_number=n, **kw)


def good_doses() -> list[DoseInput]:
    """Three doses of a clinic file that the ledger accepts for the ``city`` fixture (baby born 2025-01-10,
    child 2019-04-20); the dose-import tests of the CLI and of the staff page share them."""
    return [
        DoseInput(atena_no="1000000001", vaccine="HIB", date=date(2025, 3, 12), dose_number=1, clinic_code=CLINIC,
                  doctor="横浜　一郎", lot_number="HB001", source=Source.CLINIC_CSV),
        DoseInput(atena_no="1000000001", vaccine="HIB", date=date(2025, 4, 16), dose_number=2, clinic_code=CLINIC,
                  lot_number="HB001", source=Source.CLINIC_CSV),
        DoseInput(atena_no="1000000006", vaccine="MR1", date=date(2020, 5, 1), dose_number=1, clinic_code=CLINIC,
                  lot_number="MR100", source=Source.CLINIC_CSV),
    ]


def append_bad_rows(f: Path) -> None:
    """Two rows the clinic reader refuses, appended to a clinic CSV of ``good_doses`` (rows 5 and 6):
    an impossible 和暦 date in 接種日 and an unknown 接種コード."""
    import csv

    from yobo.immunizations.formats import clinic_csv

    with f.open("a", encoding="utf-8", newline="") as h:
        w = csv.writer(h, lineterminator="\r\n")
        row = clinic_csv.dose_cells(good_doses()[0])
        row[clinic_csv.COLUMNS.index(clinic_csv.DAY)] = "令和7年13月1日"
        w.writerow(row)
        row = clinic_csv.dose_cells(good_doses()[0])
        row[clinic_csv.COLUMNS.index(clinic_csv.VACCINE)] = "XYZ"
        w.writerow(row)
