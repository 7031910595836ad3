"""Governance pages: a disclosure request registered and its PDF downloaded; retention and PIA pages;
a clerk is refused the PIA report (A02)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from yobo.core.purposes import Duty

pytestmark = pytest.mark.django_db


def _person(atena: str) -> None:
    from django.conf import settings

    from yobo.people.models import Person

    now = timezone.now()
    Person.objects.create(municipality=settings.MUNICIPALITY_CODE, atena_no=atena, household_no="1",
                          name_kanji="鶴見 花子", name_kana="ツルミ ハナコ", kanji_key="鶴見花子",
                          kana_key="ツルミハナコ",
                          birth_date=date(1970, 3, 3), sex=2, address="鶴見区", row_hash="x", created_at=now,
                          updated_at=now)


def test_disclosure_request_and_pdf(make_staff: Callable[..., Any], logged_in: Callable[..., Any]) -> None:
    _person("420001")
    c = logged_in(make_staff(duties=[Duty.CLERK]))
    r = c.post("/governance/requests/", {"kind": "disclosure", "atena": "420001", "identity_check": "運転免許証"})
    assert r.status_code == 302 and r["Location"].startswith("/governance/requests/")
    page = c.get(r["Location"])
    assert "420001" in page.content.decode() and "disclosure.pdf" in page.content.decode()
    pdf = c.get(r["Location"] + "disclosure.pdf")
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-" and pdf["Cache-Control"] == "no-store"
    unknown = c.post("/governance/requests/", {"kind": "disclosure", "atena": "999", "identity_check": "旅券"})
    assert unknown.status_code == 302 and unknown["Location"] == "/governance/requests/"


def test_retention_pia_and_refusal(make_staff: Callable[..., Any], logged_in: Callable[..., Any]) -> None:
    c = logged_in(make_staff(duties=[Duty.SUPERVISOR, Duty.AUDITOR]))
    assert "アクセス記録" in c.get("/governance/retention/").content.decode()
    page = c.get("/governance/pia/")
    assert page.status_code == 200 and "対象となる本人の数" in page.content.decode()
    assert c.get("/governance/pia/?format=pdf").content[:5] == b"%PDF-"


def test_clerk_cannot_see_pia(make_staff: Callable[..., Any], logged_in: Callable[..., Any]) -> None:
    c = logged_in(make_staff(duties=[Duty.CLERK]))
    assert c.get("/governance/pia/").status_code == 403
