"""The access-log viewer: auditors list and filter (each view logged); others get a 403 in Japanese."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client

from yobo.access.models import Terminal
from yobo.audit.door import log_event
from yobo.audit.models import AccessLogEntry, VerifyRun
from yobo.core.purposes import Duty, Operation, Purpose, Result

pytestmark = pytest.mark.django_db
TOKEN = "audit-viewer-device-token-0123456789"


@pytest.fixture
def login(signing_key):
    """A client logged in with password and TOTP on a registered terminal (the real login flow)."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    Terminal.objects.create(name="kansa-01", kind="web", token_hash=Terminal.hash_token(TOKEN))

    def do(staff):
        c = Client()
        c.cookies[settings.YOBO_TERMINAL_COOKIE] = TOKEN
        dev = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
        r = c.post("/login/", {"username": staff.username, "password": "correct horse battery staple"})
        assert r.status_code == 302, r.content[:300]
        code = f"{totp(dev.bin_key, step=dev.step, t0=dev.t0, digits=dev.digits):06d}"
        r = c.post("/login/2fa/", {"code": code})
        assert r.status_code == 302 and r["Location"] == "/", r.content[:300]
        return c

    return do


@pytest.fixture
def some_log(make_ctx):
    a = make_ctx(Purpose.PERSON_INQUIRY, username="tanaka")
    b = make_ctx(Purpose.DOSE_ENTRY, username="suzuki", duties=[Duty.ENTRY])
    log_event(a, Operation.READ, resource="people.person", target="100000001")
    log_event(a, Operation.SEARCH, resource="people.person", target="100000002")
    log_event(b, Operation.UPDATE, resource="immunizations.dose", target="100000001")
    log_event(b, Operation.READ, resource="people.person", target="100000003", result=Result.DENIED,
              detail="purpose_not_permitted")


def _page(r) -> str:
    return r.content.decode()


def test_auditor_sees_the_log_with_japanese_labels_and_the_view_is_logged(login, make_staff, some_log):
    c = login(make_staff("kansa1", duties=[Duty.AUDITOR]))
    r = c.get("/audit/")
    assert r.status_code == 200
    page = _page(r)
    assert "アクセスログ" in page and "tanaka" in page and "suzuki" in page
    assert "対象者の照会" in page and "参照" in page and "拒否" in page
    seen = AccessLogEntry.objects.filter(staff="kansa1", resource="audit.log").last()
    assert (seen.purpose, seen.operation, seen.result, seen.terminal) == ("A02", "search", "ok", "kansa-01")


@pytest.mark.parametrize(
    ("query", "present", "absent"),
    [
        ({"staff": "suzuki"}, ["immunizations.dose"], ["tanaka"]),
        ({"target": "100000002"}, ["100000002"], ["100000003", "suzuki"]),
        ({"purpose": "V01"}, ["suzuki"], ["tanaka"]),
        ({"operation": "update"}, ["immunizations.dose"], ["100000002"]),
        ({"result": "denied"}, ["purpose_not_permitted"], ["100000002"]),
        ({"date_from": "2000-01-01", "date_to": "2000-01-02"}, ["条件に合う記録はありません"], ["tanaka"]),
    ],
)
def test_filters(login, make_staff, some_log, query, present, absent):
    c = login(make_staff("kansa2", duties=[Duty.AUDITOR]))
    page = _page(c.get("/audit/", query))
    table = page.split('id="results"', 1)[1]
    for p in present:
        assert p in table
    for a in absent:
        assert a not in table


def test_target_filter_is_logged_as_the_target(login, make_staff, some_log):
    c = login(make_staff("kansa3", duties=[Duty.AUDITOR]))
    c.get("/audit/", {"target": "100000001"})
    assert AccessLogEntry.objects.filter(staff="kansa3", resource="audit.log", target="100000001").exists()


def test_invalid_target_shows_a_message_and_reads_nothing(login, make_staff, some_log):
    c = login(make_staff("kansa4", duties=[Duty.AUDITOR]))
    page = _page(c.get("/audit/", {"target": "12ab"}))
    assert "宛名番号は15桁以内の数字で入力してください" in page
    assert not AccessLogEntry.objects.filter(staff="kansa4", resource="audit.log").exists()


def test_paging_by_seq(login, make_staff, make_ctx, monkeypatch):
    monkeypatch.setattr("yobo.web.audit_views.PER_PAGE", 3)
    ctx = make_ctx(Purpose.PERSON_INQUIRY, username="many")
    for i in range(7):
        log_event(ctx, Operation.READ, resource="people.person", target=str(200000000 + i))
    c = login(make_staff("kansa5", duties=[Duty.AUDITOR]))
    page = _page(c.get("/audit/", {"staff": "many"}))
    assert "200000006" in page and "200000003" not in page and "before=" in page
    nxt = page.split("before=", 1)[1].split('"', 1)[0]
    page2 = _page(c.get(f"/audit/?staff=many&before={nxt}"))
    assert "200000003" in page2 and "200000006" not in page2


def test_htmx_request_gets_only_the_results(login, make_staff, some_log):
    c = login(make_staff("kansa6", duties=[Duty.AUDITOR]))
    page = _page(c.get("/audit/", {"staff": "tanaka"}, HTTP_HX_REQUEST="true"))
    assert page.lstrip().startswith('<section id="results"') and "<html" not in page


def test_non_auditor_is_refused_in_japanese_and_the_refusal_is_logged(login, make_staff, some_log):
    c = login(make_staff("madoguchi", duties=[Duty.CLERK]))
    r = c.get("/audit/")
    assert r.status_code == 403
    assert "この処理事由はあなたの職責では使えません" in _page(r)
    assert "tanaka" not in _page(r)
    e = AccessLogEntry.objects.filter(staff="madoguchi", result="denied").last()
    assert (e.purpose, e.detail) == ("A02", "purpose_not_permitted")
    assert c.post("/audit/verify/").status_code == 403


def test_not_logged_in_goes_to_login():
    r = Client().get("/audit/")
    assert r.status_code in (302, 403)
    assert "tanaka" not in r.content.decode()


def test_verify_button_runs_verify_and_shows_the_result(login, make_staff, some_log):
    c = login(make_staff("kansa7", duties=[Duty.AUDITOR]))
    assert "まだ検証していません" in _page(c.get("/audit/"))
    r = c.post("/audit/verify/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert "正常" in _page(r) and "改ざんされていません" in _page(r)
    run = VerifyRun.objects.get()
    assert run.ok and run.staff == "kansa7"
    assert "正常" in _page(c.get("/audit/"))


def test_times_are_shown_in_tokyo(login, make_staff, some_log):
    c = login(make_staff("kansa8", duties=[Duty.AUDITOR]))
    e = AccessLogEntry.objects.get(seq=1)
    shown = e.at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M:%S")
    assert shown in _page(c.get("/audit/"))
    assert isinstance(e.at, datetime)
