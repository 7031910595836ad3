"""The keyed entry screen of 予診票 (web/entry_views): 束, lookup, immediate check, save, defaults
carried, 返戻, close, corrections, permissions and the access log, through the test client."""

from __future__ import annotations

import json
import os
import re
from datetime import date
from statistics import mean
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from yobo.core.purposes import Duty, Operation, Purpose
from yobo.immunizations import services
from yobo.immunizations.tests.conftest import CLINIC, add_person
from yobo.notices.vouchers import voucher_number

from .conftest import log_entries

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 23)
BABY = "1000000001"  # born 2025-01-10
ELDER = "1000000005"
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    from yobo.immunizations import store

    monkeypatch.setattr(store, "today", lambda: TODAY)


@pytest.fixture
def city(make_ctx: Any) -> None:
    add_person(BABY, date(2025, 1, 10))
    add_person(ELDER, date(1955, 8, 1), sex=2)
    services.load_demo_masters(make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK]))


@pytest.fixture
def keyer(logged_in: Any, make_staff: Any, city: None) -> Any:
    return logged_in(make_staff("entry.k", duties=[Duty.ENTRY]))


def _open(c: Any, **extra: str) -> int:
    r = c.post("/doses/entry/", {"clinic": CLINIC, "date": "R7.3.12", **extra})
    assert r.status_code == 302, r.content.decode()[:800]
    m = re.match(r"^/doses/entry/(\d+)/$", r["Location"])
    assert m
    return int(m.group(1))


def _form(**kw: str) -> dict[str, str]:
    base = {"key": BABY, "vaccine": "HIB", "dose": "", "date": "R7.3.12", "product": "ACTHIB", "lot": "",
            "amount": "0.5", "clinic": CLINIC, "doctor": "山田医師", "reason": "", "findings": "",
            "category": "routine"}
    base.update(kw)
    return base


def _counts(body: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)', body)}


def test_menu_links_the_screen(keyer: Any) -> None:
    body = keyer.get("/").content.decode()
    assert 'href="/doses/entry/"' in body


def test_open_a_batch_and_the_screen_shows_it(keyer: Any) -> None:
    bid = _open(keyer, declared="3", claim_month="202503", label="3月 さくら")
    body = keyer.get(f"/doses/entry/{bid}/").content.decode()
    assert f"束 {bid}" in body and "3月 さくら" in body
    assert 'id="f-key"' in body and "autofocus" in body
    assert 'value="R7.3.12"' in body  # the default date, as typed when the 束 was opened
    assert f'value="{CLINIC}"' in body
    assert "F9" in body and "Ctrl+Enter" in body and "F8" in body  # the help line names the keys
    assert _counts(body) == {"entered": 0, "saved": 0, "warnings": 0, "errors": 0, "declared": 3}
    listing = keyer.get("/doses/entry/").content.decode()
    assert f'href="/doses/entry/{bid}/"' in listing


def test_opening_needs_a_known_clinic(keyer: Any) -> None:
    r = keyer.post("/doses/entry/", {"clinic": "9999999999", "date": "7.3.12"})
    assert r.status_code == 400 and "登録されていません" in r.content.decode()
    r = keyer.post("/doses/entry/", {"clinic": CLINIC, "date": "R7.2.30"})
    assert r.status_code == 400 and "存在しない日付" in r.content.decode()


def test_check_shows_the_person_in_wareki_and_problems_inline(keyer: Any) -> None:
    bid = _open(keyer)
    r = keyer.post(f"/doses/entry/{bid}/check/", {"key": "１０００００００01"}, **HX)  # full-width digits
    body = r.content.decode()
    assert r.status_code == 200 and r["Server-Timing"].startswith("app;dur=")
    assert "試験　太郎" in body and "令和7年1月10日生" in body and 'hx-swap-oob="true"' in body
    assert 'name="key_seen" value="1000000001"' in body
    # A future date is refused, inline next to the date, with its code.
    r = keyer.post(f"/doses/entry/{bid}/check/", _form(date="R8.12.1"), **HX)
    body = r.content.decode()
    slot = re.search(r'<div class="fmsg" id="msg-date"[^>]*>(.*?)</div>', body, re.S)
    assert slot and "future_date" in slot.group(1) and "未来" in slot.group(1)
    # An unknown number is said at the number.
    r = keyer.post(f"/doses/entry/{bid}/check/", {"key": "999999"}, **HX)
    slot = re.search(r'id="msg-key"[^>]*>(.*?)</div>', r.content.decode(), re.S)
    assert slot and "unknown_person" in slot.group(1)
    # A malformed date is said at the date, nothing else is judged.
    r = keyer.post(f"/doses/entry/{bid}/check/", _form(date="7.13.40"), **HX)
    assert "bad_date" in r.content.decode()


def test_save_carries_defaults_and_counts(keyer: Any) -> None:
    bid = _open(keyer, declared="3", claim_month="２０２５０４")
    r = keyer.post(f"/doses/entry/{bid}/save/", _form(date="7.3.12", lot="AC25614A"), **HX)
    body = r.content.decode()
    assert r.status_code == 200 and "登録しました" in body
    # A fresh form: the number is empty, the date, vaccine, product, lot, clinic and doctor carried.
    assert 'name="key" id="f-key" value=""' in body
    for v in ("R7.3.12", "HIB", "ACTHIB", "AC25614A", CLINIC, "山田医師"):
        assert f'value="{v}"' in body
    assert _counts(body)["saved"] == 1 and 'hx-swap-oob="afterbegin:#recent-rows"' in body
    Dose = apps.get_model("immunizations", "Dose")
    d = Dose.objects.get(atena_no=BABY)
    assert d.date == date(2025, 3, 12) and d.batch_id == bid and d.source == "keyed" and d.dose_number == 1
    assert d.lot_number == "AC25614A" and d.doctor == "山田医師" and d.claim_month == "202504"
    # The second dose 18 days later: interval too short — a warning, saved with the record.
    r = keyer.post(f"/doses/entry/{bid}/save/", _form(date="070330", dose="2"), **HX)
    body = r.content.decode()
    assert "too_soon" in body and "登録しました" in body
    assert Dose.objects.filter(atena_no=BABY).count() == 2
    assert Dose.objects.get(atena_no=BABY, date=date(2025, 3, 30)).problems[0]["code"] == "too_soon"
    assert _counts(body) == {"entered": 2, "saved": 2, "warnings": 1, "errors": 0, "declared": 3}
    # The full screen lists the saved forms, newest first, each with a way to correct it.
    page = keyer.get(f"/doses/entry/{bid}/").content.decode()
    rows = re.findall(r'<tr data-dose="(\d+)"', page)
    assert [int(x) for x in rows] == sorted(Dose.objects.values_list("id", flat=True), reverse=True)
    assert f'href="/doses/entry/dose/{rows[0]}/"' in page
    assert 'value="R7.3.30"' in page  # the last form's date (typed 070330) is the next default
    creates = log_entries(staff="entry.k", operation=Operation.CREATE, resource="immunizations.dose")
    assert [e.target for e in creates] == [BABY, BABY] and {e.purpose for e in creates} == {"V01"}


def test_blocking_problem_keeps_the_form(keyer: Any) -> None:
    bid = _open(keyer)
    r = keyer.post(f"/doses/entry/{bid}/save/", _form(date="R8.12.1", lot="AC25614A"), **HX)
    body = r.content.decode()
    assert r.status_code == 200 and 'data-testid="not-saved"' in body and "future_date" in body
    assert 'value="R8.12.1"' in body and f'value="{BABY}"' in body  # the form keeps what was typed
    assert 'data-first-error="date"' in body
    assert "試験　太郎" in body  # and the person, for the visual check
    assert not apps.get_model("immunizations", "Dose").objects.exists()
    # Without htmx the whole screen comes back, 400.
    r = keyer.post(f"/doses/entry/{bid}/save/", _form(date="R8.12.1"))
    assert r.status_code == 400 and "future_date" in r.content.decode()
    # Missing items are named at their fields.
    r = keyer.post(f"/doses/entry/{bid}/save/", _form(key="", vaccine=""), **HX)
    body = r.content.decode()
    assert re.search(r'id="msg-key"[^>]*><span class="error"', body)
    assert re.search(r'id="msg-vaccine"[^>]*><span class="error"', body)


def test_voucher_number_finds_the_person_and_the_vaccine(keyer: Any, make_staff: Any) -> None:
    PrintBatch = apps.get_model("notices", "PrintBatch")
    Voucher = apps.get_model("notices", "Voucher")
    from django.conf import settings

    m = settings.MUNICIPALITY_CODE
    pb = PrintBatch.objects.create(municipality=m, kind="issue", created_by=make_staff("n.clerk"),
                                   created_at=timezone.now(), terminal="t")
    number = voucher_number(4242)
    Voucher.objects.create(municipality=m, number=number, ocr=f"11{m}{number}", atena_no=ELDER, vaccine="FLU-B",
                           dose=1, batch=pb, issued_at=timezone.now())
    bid = _open(keyer)
    for key in (f"K{number}", f"11{m}{number}", number):  # K + 券番号, the OCR line, the bare 券番号
        body = keyer.post(f"/doses/entry/{bid}/check/", {"key": key}, **HX).content.decode()
        assert "試験　太郎" in body and "昭和30年8月1日生" in body, key
        assert 'data-voucher-vaccine="FLU-B"' in body and f"券番号 {number}" in body
    r = keyer.post(f"/doses/entry/{bid}/save/", _form(key=f"K{number}", vaccine="FLU-B", date="R7.10.20",
                                                      product="FLU-BIKEN", amount=""), **HX)
    assert "登録しました" in r.content.decode()
    d = apps.get_model("immunizations", "Dose").objects.get(atena_no=ELDER)
    assert d.voucher_no == number and d.vaccine == "FLU-B"
    reads = log_entries(staff="entry.k", resource="notices.voucher")
    assert reads and all(e.purpose == "V01" for e in reads)


def test_set_aside_close_and_no_more_forms(keyer: Any) -> None:
    bid = _open(keyer, declared="2")
    keyer.post(f"/doses/entry/{bid}/save/", _form(), **HX)
    body = keyer.post(f"/doses/entry/{bid}/reject/", _form(key="1"), **HX).content.decode()
    assert "返戻" in body
    assert _counts(body) == {"entered": 2, "saved": 1, "warnings": 0, "errors": 1, "declared": 2}
    r = keyer.post(f"/doses/entry/{bid}/close/")
    assert r.status_code == 302
    page = keyer.get(f"/doses/entry/{bid}/").content.decode()
    assert "締め済" in page and "登録 1 件" in page and "一致" in page and 'id="entry-form"' not in page
    r = keyer.post(f"/doses/entry/{bid}/save/", _form(date="R7.5.12"), **HX)
    assert "入力中ではありません" in r.content.decode()
    assert apps.get_model("immunizations", "Dose").objects.count() == 1


def test_another_staff_members_batch_is_read_only(keyer: Any, make_staff: Any, totp_device: Any) -> None:
    from django.conf import settings
    from django.test import Client

    from .conftest import TOKEN, totp_now

    bid = _open(keyer)
    other = make_staff("entry.o", duties=[Duty.ENTRY])
    c2 = Client()
    c2.cookies[settings.YOBO_TERMINAL_COOKIE] = TOKEN
    dev = totp_device(other)
    c2.post("/login/", {"username": "entry.o", "password": "correct horse battery staple"})
    assert c2.post("/login/2fa/", {"code": totp_now(dev)}).status_code == 302
    page = c2.get(f"/doses/entry/{bid}/").content.decode()
    assert "入力中です" in page and 'id="entry-form"' not in page
    r = c2.post(f"/doses/entry/{bid}/save/", _form(), headers={"HX-Request": "true"})
    assert "他の職員の束" in r.content.decode()
    assert not apps.get_model("immunizations", "Dose").objects.exists()


def test_correct_and_void_from_the_recent_list(keyer: Any) -> None:
    bid = _open(keyer)
    keyer.post(f"/doses/entry/{bid}/save/", _form(lot="AC25614A"), **HX)
    Dose = apps.get_model("immunizations", "Dose")
    d = Dose.objects.get()
    page = keyer.get(f"/doses/entry/dose/{d.pk}/").content.decode()
    assert "令和7年3月12日" in page and 'value="AC25614A"' in page
    r = keyer.post(f"/doses/entry/dose/{d.pk}/", {**_form(lot="AC25715B"), "note": ""})
    assert r.status_code == 400 and "理由" in r.content.decode()
    r = keyer.post(f"/doses/entry/dose/{d.pk}/", {**_form(lot="ac25715b"), "note": "ロットの読み違い"})
    assert r.status_code == 302 and r["Location"] == f"/doses/entry/{bid}/"
    new = Dose.objects.get(state="active")
    assert new.lot_number == "AC25715B" and Dose.objects.get(pk=d.pk).state == "superseded"
    # A correction that would be refused (future date) says so and changes nothing.
    r = keyer.post(f"/doses/entry/dose/{new.pk}/", {**_form(lot="AC25715B", date="R9.1.1"), "note": "x"})
    assert r.status_code == 400 and "future_date" in r.content.decode()
    r = keyer.post(f"/doses/entry/dose/{new.pk}/", {**_form(lot="AC25715B"), "action": "void", "note": "別人"})
    assert r.status_code == 302 and Dose.objects.get(pk=new.pk).state == "void"
    updates = log_entries(staff="entry.k", operation=Operation.UPDATE, resource="immunizations.dose",
                          result="ok")
    assert [e.target for e in updates] == [BABY, BABY]


def test_contractor_may_key_payment_staff_may_not(logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("itaku.1", duties=[Duty.CONTRACTOR_ENTRY], contractor=True))
    bid = _open(c)
    assert "登録しました" in c.post(f"/doses/entry/{bid}/save/", _form(), **HX).content.decode()


def test_payment_staff_is_refused(logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("pay.1", duties=[Duty.PAYMENT]))
    assert c.get("/doses/entry/").status_code == 403
    assert c.post("/doses/entry/", {"clinic": CLINIC}).status_code == 403
    denied = log_entries(staff="pay.1", result="denied")
    assert denied and denied[0].purpose == "V01"


def test_server_time_per_save(keyer: Any, make_ctx: Any) -> None:
    """Times 20 saves through the view (Server-Timing) and writes the average for the report."""
    for k in range(20):
        add_person(f"20000000{k:02d}", date(2025, 1, 1 + k))
    bid = _open(keyer)
    times = []
    for k in range(20):
        r = keyer.post(f"/doses/entry/{bid}/save/", _form(key=f"20000000{k:02d}", date="R7.3.14"), **HX)
        assert "登録しました" in r.content.decode()
        times.append(float(re.search(r"dur=([\d.]+)", r["Server-Timing"]).group(1)))  # type: ignore[union-attr]
    assert len(times) == 20 and all(t > 0 for t in times)
    out = {"saves": len(times), "avg_ms": round(mean(times), 1), "max_ms": round(max(times), 1),
           "db": connection.vendor}
    print("entry save server time", json.dumps(out))  # the figure the report quotes
    target = os.environ.get("YOBO_ENTRY_TIMING")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(out) + "\n")
