"""Staff and terminal administration pages: administrators only, every action logged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from yobo.access.models import Staff, Terminal
from yobo.core.purposes import Duty, Operation, Purpose, Result

from .conftest import log_entries

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/staff/", "/staff/new/", "/terminals/"])
def test_admin_pages_are_refused_to_non_admins_and_logged(logged_in: Any, make_staff: Any, url: str) -> None:
    c = logged_in(make_staff("clerk1", duties=[Duty.CLERK]))
    r = c.get(url)
    assert r.status_code == 403
    assert "この画面は利用できません" in r.content.decode()
    denied = log_entries(staff="clerk1", result=Result.DENIED)
    assert denied and denied[-1].purpose == Purpose.ADMINISTRATION


def test_non_admin_home_menu_shows_only_their_purposes(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff("entry1", duties=[Duty.ENTRY]))
    page = c.get("/").content.decode()
    assert "予診票の入力" in page and "対象者の照会" in page
    assert "職員・端末・権限の管理" not in page and 'href="/staff/"' not in page


def test_admin_creates_staff_and_contractor_through_the_page(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff("kanri.taro", duties=[Duty.ADMIN]))
    assert c.get("/staff/").status_code == 200
    r = c.post("/staff/new/", {"username": "nakamura", "last_name": "中村", "first_name": "花子",
                               "duties": ["clerk", "entry"], "mynumber_right": "on"})
    assert r.status_code == 200 and "初期パスワード" in r.content.decode()
    s = Staff.objects.get(username="nakamura")
    assert s.duties() == {"clerk", "entry"} and s.mynumber_right
    # a contractor without an expiry date is refused, with a message
    r = c.post("/staff/new/", {"username": "itaku.ichiro", "last_name": "委託", "first_name": "一郎",
                               "contractor_company": "株式会社入力センター"})
    assert "有効期限が必要" in r.content.decode()
    assert not Staff.objects.filter(username="itaku.ichiro").exists()
    # a shared ID is refused
    r = c.post("/staff/new/", {"username": "kyoyu01", "last_name": "共用", "first_name": "窓口",
                               "duties": ["clerk"]})
    assert "共用" in r.content.decode()
    details = [e.detail for e in log_entries(staff="kanri.taro", operation=Operation.ADMIN)]
    assert any(d.startswith("create staff=nakamura") for d in details)


def test_admin_actions_on_a_staff_member_are_logged(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff("kanri.jiro", duties=[Duty.ADMIN]))
    target = make_staff("ota", duties=[Duty.CLERK], locked_until=timezone.now() + timedelta(minutes=10))
    url = "/staff/ota/"
    assert c.get(url).status_code == 200
    c.post(url, {"action": "grant_mynumber"})
    c.post(url, {"action": "unlock"})
    c.post(url, {"action": "update", "last_name": "太田", "first_name": "一", "duties": ["clerk", "certificate"],
                 "department": "", "expires_on": ""})
    c.post(url, {"action": "revoke", "reason": "異動"})
    target.refresh_from_db()
    assert target.mynumber_right and target.locked_until is None
    assert target.duties() == {"clerk", "certificate"} and target.inactive_reason() == "revoked"
    details = [e.detail for e in log_entries(staff="kanri.jiro", operation=Operation.ADMIN)]
    assert [d.split(" ")[0] for d in details] == ["grant", "unlock", "update", "revoke"]


def test_admin_registers_and_disables_a_terminal(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff("kanri.saburo", duties=[Duty.ADMIN]))
    r = c.post("/terminals/", {"action": "register", "name": "kuyakusho-3f-01", "kind": "web",
                               "department": "", "location": "3階窓口", "cert_fingerprint": ""})
    assert "/terminal/enroll/" in r.content.decode()
    assert Terminal.objects.get(name="kuyakusho-3f-01").enroll_code_hash
    c.post("/terminals/", {"action": "disable", "name": "kuyakusho-3f-01"})
    assert not Terminal.objects.get(name="kuyakusho-3f-01").active
    details = [e.detail for e in log_entries(staff="kanri.saburo", operation=Operation.ADMIN)]
    assert details == ["register terminal=kuyakusho-3f-01 kind=web", "disable terminal=kuyakusho-3f-01"]
