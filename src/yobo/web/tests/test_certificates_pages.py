"""Certificate pages: an ambiguous three-item search lists both and picks nobody; the My Number search is
a POST offered only with the right; issue, PDF, .smart-health-card file and revocation."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yobo.core.purposes import Duty, Purpose

pytestmark = pytest.mark.django_db


@pytest.fixture
def city(key_dir: Path) -> None:
    from yobo.certificates import issuer_keys
    from yobo.mynumber import keys
    from yobo.people.tests.test_registry_staff import add_person

    keys.ensure_keys()
    issuer_keys.ensure_keys()
    for atena in ("1000000003", "1000000004"):
        add_person(atena, "佐藤　蓮", "サトウ　レン", date(2021, 3, 3), address="横浜市西区みなとみらい3丁目5番地")


def _apply(c: Any) -> int:
    r = c.post("/certificates/", {"applicant_kind": "self", "applicant_name": "佐藤　蓮の母", "language": "ja",
                                  "documents_seen": ["mynumber_card"]})
    assert r.status_code == 302, r.content[:400]
    return int(r["Location"].rstrip("/").split("/")[-1])


def test_ambiguous_search_lists_both_and_picks_nobody(logged_in: Any, make_staff: Any, city: None) -> None:
    from yobo.certificates import selectors

    c = logged_in(make_staff("shomei.a", duties=[Duty.CERTIFICATE]))
    app_id = _apply(c)
    page = c.get(f"/certificates/applications/{app_id}/",
                 {"address": "みなとみらい３丁目", "name": "さとう れん", "birth": "令和3年3月3日"}).content.decode()
    assert 'data-testid="ambiguous"' in page and page.count("この方に決定") == 2
    assert "1000000003" in page and "1000000004" in page
    assert 'name="mynumber"' not in page  # no My Number right, no My Number form
    assert c.post(f"/certificates/applications/{app_id}/mynumber/", {"mynumber": "123"}).status_code == 403
    assert selectors.application(_ctx_for("shomei.a"), app_id).atena_no == ""  # nobody was picked
    r = c.post(f"/certificates/applications/{app_id}/identify/", {"atena_no": "1000000004", "method": "three_items"})
    assert r.status_code == 302
    r = c.post(f"/certificates/applications/{app_id}/issue/")
    assert r.status_code == 302 and r["Location"].startswith("/certificates/141003-")
    cert_page = c.get(r["Location"]).content.decode()
    assert "shc:/" in cert_page and "記録された接種" not in cert_page
    cert_id = r["Location"].strip("/").split("/")[-1]
    pdf = c.get(f"/certificates/{cert_id}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    card = c.get(f"/certificates/{cert_id}/shc")
    assert card["Content-Type"] == "application/smart-health-card" and b"verifiableCredential" in card.content
    c.post(f"/certificates/{cert_id}/revoke/", {"reason": "別人"})
    assert "取消済" in c.get(f"/certificates/{cert_id}/").content.decode()
    # the person page's fragment lists 証明書ID and 発行年月日
    frag = c.get("/certificates/person/1000000004/?purpose=C01").content.decode()
    assert cert_id in frag and "取消（別人）" in frag
    assert cert_id not in c.get("/certificates/person/1000000003/?purpose=C01").content.decode()


def _ctx_for(username: str) -> Any:
    from yobo.access.models import Staff
    from yobo.core.context import AccessContext

    s = Staff.objects.get(username=username)
    return AccessContext(s.pk, s.username, "hoken", s.duties(), "madoguchi-01", Purpose.CERTIFICATE_ISSUANCE.value)


def test_application_form_rejects_an_agent_without_a_letter(logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("shomei.b", duties=[Duty.CERTIFICATE]))
    r = c.post("/certificates/", {"applicant_kind": "agent", "applicant_name": "代理　人", "language": "ja",
                                  "documents_seen": ["driver_license"]})
    assert r.status_code == 400 and "委任状" in r.content.decode()


def test_other_duties_are_refused(logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("nyuryoku.c", duties=[Duty.ENTRY]))
    assert c.get("/certificates/").status_code == 403
