"""The city-wide page of pending 支援措置 requests (確認待ち一覧): listed oldest first without
addresses, confirmed by another staff member from the list, and the listing itself is logged."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yobo.core.purposes import Duty, Operation
from yobo.people.tests.test_registry_staff import add_person
from yobo.web.tests.conftest import log_entries, logged_in, tclient, terminal, totp_device  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(key_dir: Path) -> None:
    add_person("1000000011", "佐藤　一郎", "サトウ　イチロウ", date(1980, 5, 1), address="横浜市西区みなとみらい3丁目")
    add_person("1000000012", "鈴木　次郎", "スズキ　ジロウ", date(1981, 6, 2), address="横浜市中区山下町1番地")


def test_pending_protection_page_lists_and_confirms_from_the_list(logged_in: Any, make_staff: Any,  # noqa: F811
                                                                  two: None) -> None:
    c = logged_in(make_staff("clerk.p", duties=[Duty.CLERK]))
    c.post("/people/1000000011/protection/", {"action": "set", "note": "申出 第1号"})
    c.post("/people/1000000012/protection/", {"action": "set", "note": "申出 第2号"})
    body = c.get("/people/protection/").content.decode()
    assert body.index("1000000011") < body.index("1000000012") and "申出 第2号" in body
    assert "みなとみらい" not in body and "山下町" not in body
    assert body.count("disabled") == 2  # the requester confirms none of their own
    c.post("/logout/")
    boss = logged_in(make_staff("boss.p", duties=[Duty.SUPERVISOR]))
    body = boss.get("/people/protection/").content.decode()
    assert "disabled" not in body
    listed = log_entries(staff="boss.p", operation=Operation.SEARCH, resource="people.protection")
    assert listed and {e.purpose for e in listed} == {"P04"}
    rid = int(body.split('action="/people/protection/')[1].split("/")[0])
    r = boss.post(f"/people/protection/{rid}/confirm/", {"back": "pending"})
    assert r.status_code == 302 and r["Location"] == "/people/protection/"
    body = boss.get("/people/protection/").content.decode()
    assert "1000000011" not in body and "1000000012" in body


def test_pending_protection_page_needs_the_purpose(logged_in: Any, make_staff: Any, two: None) -> None:  # noqa: F811
    c = logged_in(make_staff("entry.p", duties=[Duty.ENTRY]))
    assert c.get("/people/protection/").status_code == 403
