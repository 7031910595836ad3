"""Copies come from the real dose records (原本) of ``yobo.immunizations``: only date, vaccine and
dose; 予診のみ left out; registration on change; reconciliation against the ledger."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from yobo.core.purposes import Duty, Purpose
from yobo.exchange import ledger, selectors, services
from yobo.immunizations import services as imm
from yobo.immunizations.tests.conftest import add_person, dose

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _city(settings: Any) -> None:
    settings.MUNICIPALITY_CODE = "141003"


def test_copies_from_dose_records(make_ctx: Any, make_staff: Any, tmp_path: Any) -> None:
    entry = make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK])
    imm.load_demo_masters(entry)
    add_person("1000000001", date(2025, 1, 10))
    add_person("1000000002", date(2019, 4, 20))
    v01 = make_ctx(Purpose.DOSE_ENTRY, duties=[Duty.ENTRY])
    imm.record_dose(v01, dose("1000000001", "HIB", date(2025, 3, 12), 1, lot_number="L-1", doctor="医師"))
    imm.record_dose(v01, dose("1000000001", "HIB", date(2025, 4, 14), 2))
    imm.record_dose(v01, dose("1000000002", "MR1", date(2020, 5, 1), 1))
    x03 = make_ctx(Purpose.COPY_REGISTRATION, duties=[Duty.EXCHANGE])
    got = sorted(ledger.original_doses(x03, None), key=lambda r: (r.atena_no, r.vaccine, r.dose))
    assert [(r.atena_no, r.vaccine, r.dose, r.given_on) for r in got] == [
        ("1000000001", "HIB", 1, date(2025, 3, 12)), ("1000000001", "HIB", 2, date(2025, 4, 14)),
        ("1000000002", "MR1", 1, date(2020, 5, 1)),
    ]
    s = services.register_copies(x03, acquire=False)
    assert (s.persons, s.inserted) == (2, 3)
    copy = selectors.copy_of(x03, "1000000001")
    assert [set(c) for c in copy] == [{"vaccine", "dose", "date"}] * 2  # no lot, no doctor, no clinic
    # On change: one person's new dose.
    imm.record_dose(v01, dose("1000000002", "MR2", date(2025, 4, 2), 1))
    s = services.register_copies(x03, atena_nos=["1000000002"], acquire=False)
    assert (s.inserted, s.deleted, s.unchanged) == (1, 0, 1)
    assert services.reconcile(x03, out=tmp_path / "r.csv")["differences"] == 0
