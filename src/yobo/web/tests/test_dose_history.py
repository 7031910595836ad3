"""The person page's vaccination history (予防接種歴): validity per dose, what is due, logging."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from yobo.core.purposes import Duty, Operation, Purpose
from yobo.immunizations import services
from yobo.immunizations.tests.conftest import add_person, dose

from .conftest import log_entries

pytestmark = pytest.mark.django_db
BABY = "1000000001"


@pytest.fixture
def baby(make_ctx: Any) -> None:
    add_person(BABY, date(2025, 1, 10))
    ctx = make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK])
    services.load_demo_masters(ctx)
    services.record_batch(ctx, [
        dose(BABY, "HIB", date(2025, 3, 12)),
        dose(BABY, "HIB", date(2025, 3, 30)),  # too soon after the first
        dose(BABY, "PCV", date(2025, 3, 12), product_code="PCV20"),
    ])


def test_person_page_loads_the_history_fragment(logged_in: Any, make_staff: Any, baby: None) -> None:
    c = logged_in(make_staff("clerk.h", duties=[Duty.CLERK]))
    page = c.get(f"/people/{BABY}/").content.decode()
    assert f'hx-get="/doses/history/{BABY}/"' in page
    r = c.get(f"/doses/history/{BABY}/", HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert r.status_code == 200
    assert "間隔不足" in body and "有効" in body and 'data-testid="dose-due"' in body
    assert "2025-03-30" in body and "令和7年3月30日" in body
    reads = log_entries(staff="clerk.h", operation=Operation.READ, resource="immunizations.dose")
    assert [e.target for e in reads] == [BABY] and reads[0].purpose == "P02"


def test_history_needs_a_permitted_purpose(logged_in: Any, make_staff: Any, baby: None) -> None:
    c = logged_in(make_staff("pay.h", duties=[Duty.PAYMENT]))
    r = c.get(f"/doses/history/{BABY}/", {"purpose": "V02"})
    assert r.status_code == 403 and 'data-testid="dose-history-denied"' in r.content.decode()


def test_unknown_person(logged_in: Any, make_staff: Any, baby: None) -> None:
    c = logged_in(make_staff("clerk.n", duties=[Duty.CLERK]))
    assert c.get("/doses/history/999/").status_code == 404
