"""Fee exemption and clinic payment pages: decide, see the basis, print the certificate; build,
approve (by another person) and see the excluded doses with their reasons."""

from __future__ import annotations

from datetime import date
from typing import Any

from yobo.core.purposes import Duty


def _household() -> None:
    from yobo.people.tests.test_registry_staff import add_person

    add_person("1000000006", "鈴木　次郎", "スズキ　ジロウ", date(1950, 3, 3), household="2000000006",
               relationship="世帯主")


def test_exemption_pages(logged_in: Any, make_staff: Any, tmp_path: Any) -> None:
    from yobo.fees import services

    _household()
    staff = make_staff(duties=[Duty.PAYMENT])
    c = logged_in(staff)
    r = c.get("/fees/")
    assert r.status_code == 200 and "可否確認" in r.content.decode()
    r = c.post("/fees/check/", {"atena": "1000000006", "vaccine": "FLU-B", "applied_on": "令和8年10月1日"})
    assert r.status_code == 302
    page = c.get(r["Location"]).content.decode()
    assert "照会中" in page and "記録なし" in page
    q = c.get("/fees/").content.decode()
    assert "照会中の税情報" in q and "1000000006" in q
    from yobo.fees.models import TaxQuery

    r = c.post(f"/fees/queries/{TaxQuery.objects.get().pk}/answer/", {"tax_status": "2"})
    page = c.get(r["Location"]).content.decode()
    assert "免除" in page and "他市町村（照会）" in page
    did = int(r["Location"].rstrip("/").split("/")[-1])
    pdf = c.post(f"/fees/decisions/{did}/certificate/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert services  # the services module is the page's only writer


def test_claim_pages_need_a_second_person(logged_in: Any, make_staff: Any, make_ctx: Any) -> None:
    from yobo.core.purposes import Purpose
    from yobo.fees import payments
    from yobo.fees.tests.helpers import add_clinic, add_dose
    from yobo.people.tests.test_registry_staff import add_person

    a, b = make_staff(duties=[Duty.PAYMENT]), make_staff(duties=[Duty.PAYMENT])
    add_clinic("1410000011", "みなと小児科")
    payments.set_unit_price(make_ctx(Purpose.CLINIC_PAYMENT, staff=a), 2026, "MR1", 11_000)
    p = add_person("3100000001", "試験　太郎", "シケン", date(2025, 3, 1))
    add_dose(p, "MR1", date(2026, 9, 1), claim_month="202610")
    add_dose(p, "VAR", date(2026, 9, 1), claim_month="202610")
    ca = logged_in(a)
    ca.post("/fees/claims/build/", {"month": "202610"})
    page = ca.get("/fees/claims/?month=202610").content.decode()
    assert "11000円" in page and "単価が設定されていない" in page and "disabled" in page
    from yobo.fees.models import ClinicClaim

    cid = ClinicClaim.objects.get().pk
    ca.post(f"/fees/claims/{cid}/approve/", {"month": "202610"})
    assert ClinicClaim.objects.get().state == "draft"
    ca.post("/logout/")
    cb = logged_in(b)
    cb.post(f"/fees/claims/{cid}/approve/", {"month": "202610"})
    assert ClinicClaim.objects.get().state == "approved"
    r = cb.get(f"/fees/claims/{cid}/statement/")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")


def test_relief_staff_cannot_open_fee_pages(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff(duties=[Duty.RELIEF]))
    assert c.get("/fees/").status_code == 403
    assert c.get("/fees/claims/").status_code == 403
