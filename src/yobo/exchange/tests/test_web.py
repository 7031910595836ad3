"""Staff pages of the exchange: send a query for a moved-in person, see the history received on
the person's exchange page, review and release a held answer, see the provision records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from yobo.core.purposes import Duty, Purpose
from yobo.exchange import selectors, services
from yobo.exchange.hub.app import Hub
from yobo.exchange.ledger import OriginalDose
from yobo.people import protection
from yobo.web.tests.conftest import logged_in, tclient, terminal, totp_device  # noqa: F401 - fixtures

from .conftest import CITY_A, CITY_B

pytestmark = pytest.mark.django_db


def test_query_review_and_records_pages(hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any],
                                        resident: Callable[..., str], new_number: Callable[[], str],
                                        make_staff: Callable[..., Any], make_ctx: Callable[..., Any],
                                        logged_in: Callable[[Any], Any]) -> None:  # noqa: F811
    number = new_number()
    city(CITY_A)
    resident("100001", number, admin_ctx())
    services.register_copies(admin_ctx(Purpose.COPY_REGISTRATION),
                             originals=[OriginalDose("100001", "JE1", 1, date(2024, 6, 3))])
    rid = protection.request_change(admin_ctx(Purpose.PROTECTION_MEASURE), "100001", "set", "DV")
    protection.confirm(make_ctx(Purpose.PROTECTION_MEASURE, duties=["supervisor"]), rid)
    city(CITY_B)
    resident("900001", number, admin_ctx())
    officer = make_staff("renkei", duties=[Duty.EXCHANGE, Duty.CLERK], mynumber_right=True)
    c = logged_in(officer)

    r = c.get("/exchange/")
    assert r.status_code == 200 and "転入者の接種歴を照会" in r.content.decode()
    r = c.post("/exchange/", {"atena": "９００００１", "provider": CITY_A, "item_set": "immunization_history"})
    assert r.status_code == 302 and r["Location"] == "/exchange/person/900001/"
    page = c.get("/exchange/person/900001/").content.decode()
    assert "回答待ち" in page

    city(CITY_A)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    held_page = c.get("/exchange/held/").content.decode()
    assert "100001" in held_page and "JE1 第1回 2024-06-03" in held_page
    pid = selectors.held(admin_ctx(Purpose.EXCHANGE_PROVISION))[0].id
    r = c.post(f"/exchange/held/{pid}/release/")
    assert r.status_code == 302
    assert "確認待ちの回答はありません" in c.get("/exchange/held/").content.decode()

    city(CITY_B)
    r = c.post("/exchange/receive/", {"next": "/exchange/person/900001/"})
    assert r.status_code == 302
    page = c.get("/exchange/person/900001/").content.decode()
    assert "回答あり" in page and "JE1 第1回 2024-06-03" in page
    records = c.get("/exchange/records/").content.decode()
    assert "provided" in records and "issued" in records
    # The person page loads the received history into its slot (htmx): the fragment, not a page.
    assert 'hx-get="/exchange/person/900001/"' in c.get("/people/900001/").content.decode()
    slot = c.get("/exchange/person/900001/", headers={"HX-Request": "true"}).content.decode()
    assert "他団体から受信した接種歴" in slot and "JE1 第1回 2024-06-03" in slot and "<html" not in slot
    assert c.get("/exchange/person/900002/", headers={"HX-Request": "true"}).content.decode().strip() == ""

    # A staff member without the exchange duty is refused (and the door logs it).
    clerk = make_staff("madoguchi", duties=[Duty.CERTIFICATE])
    c.post("/logout/")
    c2 = logged_in(clerk)
    assert c2.get("/exchange/").status_code == 403
    # ... but the person page's slot stays empty for them, without a denied entry per page view.
    from yobo.audit.models import AccessLogEntry

    before = AccessLogEntry.objects.count()
    r = c2.get("/exchange/person/900001/", headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.content.decode() == "" and AccessLogEntry.objects.count() == before
