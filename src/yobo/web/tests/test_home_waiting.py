"""The home menu says where work is waiting (確認待ち・承認待ち・未決定), under the purposes the staff
member holds, from counts only."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from yobo.core.purposes import Duty, Purpose
from yobo.exchange.models import Provision, ProvisionState
from yobo.exports import registry as export_kinds
from yobo.exports import services as exports
from yobo.exports.models import MediaLogEntry
from yobo.governance import requests, retention
from yobo.mynumber import keys
from yobo.people import nonresidents
from yobo.people.nonresidents import Applicant
from yobo.people.tests.test_jukinet import VERIF, number
from yobo.people.tests.test_registry_staff import add_person

pytestmark = pytest.mark.django_db


def badges(html: str) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for code, text in re.findall(r'data-testid="waiting-(\w+)">([^<]+)<', html):
        out.setdefault(code, []).append(text)
    return {k: " / ".join(v) for k, v in out.items()}


def test_the_menu_counts_what_waits_for_each_purpose_held(
        logged_in: Any, make_staff: Any, make_ctx: Any, key_dir: Path, tmp_path: Path) -> None:
    keys.ensure_keys()
    clerk = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    app_id, _ = nonresidents.apply(clerk, Applicant(
        name_kanji="伊藤　誠", name_kana="イトウ　マコト", birth_date=date(1970, 7, 7), sex=1,
        address="東京都千代田区千代田1番1号", address_extra="", postal_code="1000001", reason="里帰り出産"),
        number(4), VERIF)
    items = list(export_kinds.get("people.jukinet_query").items)
    for reason in ("住登外者の定期確認", "再確認"):
        exports.request_export(clerk, kind="people.jukinet_query", purpose="P03", items=items, reason=reason,
                               destination="住基ネットCS端末", medium="usb")
    # a third, written out: the recipient's deletion report is overdue
    exports.permit_terminal(make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN]), "test-terminal", "窓口")
    rid = exports.request_export(clerk, kind="people.jukinet_query", purpose="P03", items=items, reason="前月分",
                                 destination="住基ネットCS端末", medium="usb")
    exports.approve(make_ctx(Purpose.EXPORT, duties=[Duty.SUPERVISOR]), rid)
    exports.run_registered(make_ctx(Purpose.EXPORT, duties=[Duty.CLERK]), rid, out_dir=tmp_path / "out")
    MediaLogEntry.objects.filter(request_id=rid).update(delete_due=timezone.localdate() - timedelta(days=1))
    retention.plan(make_ctx(Purpose.RETENTION, duties=[Duty.SUPERVISOR]), date(2026, 1, 1))
    add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(1985, 4, 1))
    requests.register(make_ctx(Purpose.DISCLOSURE_REQUEST, duties=[Duty.CLERK]), kind="disclosure",
                      atena_no="1000000001", identity_check="運転免許証")
    Provision.objects.create(municipality=settings.MUNICIPALITY_CODE, msg_id="m1", query_id="q1", asker="131016",
                             permit_id="p", item_set="vaccination", atena_no="1000000001",
                             state=ProvisionState.HELD, received_at=timezone.now())

    boss = logged_in(make_staff("boss.w", duties=[Duty.SUPERVISOR, Duty.EXCHANGE]))
    assert badges(boss.get("/").content.decode()) == {
        "P03": "確認待ち 1", "G03": "承認待ち 2 / 消去報告の期限超過 1", "G02": "承認待ち 1", "X02": "確認待ち 1"}
    # a pending 支援措置 request: the P04 entry leads to the list of requests waiting for confirmation
    from yobo.people import protection
    from yobo.people.models import ProtectionAction

    protection.request_change(make_ctx(Purpose.PROTECTION_MEASURE, duties=[Duty.CLERK]), "1000000001",
                              ProtectionAction.SET)
    html = boss.get("/").content.decode()
    assert badges(html)["P04"] == "確認待ち 1" and '<a href="/people/protection/"><span class="code">P04' in html
    # the second staff member confirms: that work is gone from the menu
    nonresidents.confirm(make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.SUPERVISOR]), app_id)
    assert "P03" not in badges(boss.get("/").content.decode())

    boss.post("/logout/")
    desk = logged_in(make_staff("desk.w", duties=[Duty.CLERK]))
    got = badges(desk.get("/").content.decode())
    # no retention (G02) or exchange (X02) duty
    assert got == {"G01": "未決定 1", "G03": "承認待ち 2 / 消去報告の期限超過 1", "P04": "確認待ち 1"}
    desk.post("/logout/")
    entry = logged_in(make_staff("entry.w", duties=[Duty.ENTRY]))
    assert badges(entry.get("/").content.decode()) == {}


def test_every_purpose_has_a_page_or_says_where_its_work_is_done(logged_in: Any, make_staff: Any) -> None:
    from yobo.core.purposes import Purpose as P
    from yobo.web.views import BATCH_WORK, PURPOSE_PAGES

    assert not set(PURPOSE_PAGES) & set(BATCH_WORK)
    assert set(P) - {P.AUTHENTICATION} == set(PURPOSE_PAGES) | set(BATCH_WORK)
    html = logged_in(make_staff("admin.w", duties=[Duty.ADMIN])).get("/").content.decode()
    assert "準備中" not in html
    assert 'data-testid="elsewhere-M02">バッチ端末で yobo mynumber rotate-keys' in html
    assert 'href="/doses/import/"' in html  # V02: the upload page


def test_the_demo_leaves_requests_for_demo_admin_to_confirm(logged_in: Any, make_ctx: Any, key_dir: Path,
                                                            tmp_path: Path) -> None:
    """`yobo demo`: the demo's clerk entered two 住登外者 applications and a 支援措置 request, which wait
    on demo-admin's menu; demo-admin, another staff member, may confirm them; only once."""
    from yobo.access.context import context_for_operator
    from yobo.access.services import bootstrap_demo
    from yobo.people.models import NonResidentApplication, Person, ProtectionRequest
    from yobo.people.services import ensure_demo_city
    from yobo.web.management.commands.demo import DEMO_CLERK, demo_second_staff_work

    from .conftest import log_entries

    keys.ensure_keys()
    demo = bootstrap_demo(municipality=settings.MUNICIPALITY_CODE)
    ensure_demo_city(make_ctx(Purpose.RESIDENT_SYNC, duties=[Duty.CLERK]), tmp_path, count=400, seed=7)
    assert demo_second_staff_work() == 3
    assert demo_second_staff_work() == 0  # the clerk exists: nothing more
    applications = list(NonResidentApplication.objects.order_by("pk"))
    assert [a.state for a in applications] == ["pending", "pending"]
    assert {a.requested_by.username for a in applications} == {DEMO_CLERK}
    assert ProtectionRequest.objects.get().requested_by.username == DEMO_CLERK
    made = [(e.purpose, e.resource) for e in log_entries(staff=DEMO_CLERK, operation="create")]
    assert made.count(("P03", "people.nonresident")) == 2 and ("P04", "people.protection") in made

    home = logged_in(demo["staff"], password=demo["password"]).get("/").content.decode()
    got = badges(home)
    assert (got["P03"], got["P04"]) == ("確認待ち 2", "確認待ち 1")
    admin = context_for_operator(Purpose.NONRESIDENT_REGISTRATION, "demo-admin", "demo-terminal")
    atena = nonresidents.confirm(admin, applications[0].pk)
    assert Person.objects.get(atena_no=atena).name_kanji == "港　春子"
