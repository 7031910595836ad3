"""Keyed entry of 予診票 in a real browser: an entry clerk opens a 束 and keys 20 forms with the
keyboard only (page.keyboard), sees the person's name and birth date (和暦) for each number, sees a
planted bad form's problems inline (future date: refused; interval too short: warning), corrects it,
sets one form aside (返戻), and the 束 counts are right. The average server time per save is taken
from the ``Server-Timing`` header of every save and printed (and written to
``$YOBO_SCREENSHOT_DIR/entry-timing.json``)."""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path
from statistics import mean
from typing import Any

import pytest

from yobo.core.purposes import Duty, Purpose

from .test_login import PW, TOKEN, _code, _focus

SHOTS = Path(os.environ.get("YOBO_SCREENSHOT_DIR") or "/tmp/h-entry")  # noqa: S108
SURNAMES = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤")
GIVEN = ("陽翔", "結菜", "蓮", "陽葵", "湊", "凛", "蒼", "芽依", "樹", "紬")
LOT = "AC25614A"  # a demo ACTHIB lot released in 2025
FORMS = 20


def _person(atena: str, born: date, name: str) -> None:
    from django.conf import settings
    from django.utils import timezone

    from yobo.people.models import Person

    now = timezone.now()
    Person.objects.create(
        municipality=settings.MUNICIPALITY_CODE, atena_no=atena, household_no=atena, name_kanji=name,
        name_kana="シケン", kanji_key=name.replace("　", ""), kana_key="シケン", birth_date=born, sex=1,
        address="横浜市中区本町1丁目", status=1, row_hash="x", created_at=now, updated_at=now,
    )


@pytest.fixture
def clerk_env(transactional_db: Any, make_staff: Any, make_ctx: Any, live_server: Any, page: Any,
              monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """An entry clerk (予診票入力担当 only) with TOTP on a registered browser; 20 babies; masters."""
    from django.conf import settings
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from yobo.access.models import Terminal
    from yobo.immunizations import services, store
    from yobo.immunizations.inputs import DoseInput, Source
    from yobo.immunizations.tests.conftest import CLINIC

    monkeypatch.setattr(store, "today", lambda: date(2026, 11, 23))
    Terminal.objects.create(name="nyuryoku-01", kind="web", token_hash=Terminal.hash_token(TOKEN))
    staff = make_staff("tanaka.hanako", duties=[Duty.ENTRY], last_name="田中", first_name="花子", password=PW)
    dev = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    page.context.add_cookies([{"name": settings.YOBO_TERMINAL_COOKIE, "value": TOKEN, "url": live_server.url}])
    people = []
    for k in range(FORMS):
        atena = f"30000{k + 1:05d}"
        name = f"{SURNAMES[k % 10]}　{GIVEN[(k * 3) % 10]}"
        _person(atena, date(2024, 11, 1 + k), name)
        people.append((atena, name, date(2024, 11, 1 + k)))
    ctx = make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK])
    services.load_demo_masters(ctx)
    # Form 8's child had HIB on 2025-03-01: keyed again on 03-14, the interval is too short (warning).
    services.record_batch(ctx, [DoseInput(atena_no=people[7][0], vaccine="HIB", date=date(2025, 3, 1),
                                          clinic_code=CLINIC, product_code="ACTHIB", lot_number=LOT,
                                          source=Source.CLINIC_CSV)], file_name="earlier")
    return {"staff": staff, "device": dev, "url": live_server.url, "people": people, "clinic": CLINIC}


def _login(page: Any, env: dict[str, Any]) -> None:
    page.goto(env["url"] + "/")
    _focus(page, "name", "username")
    page.keyboard.type("tanaka.hanako")
    page.keyboard.press("Tab")
    page.keyboard.type(PW)
    page.keyboard.press("Enter")
    page.wait_for_url("**/login/2fa/")
    _focus(page, "name", "code")
    page.keyboard.type(_code(env["device"]))
    page.keyboard.press("Enter")
    page.wait_for_url(env["url"] + "/")


def _active(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def _open_batch(page: Any, env: dict[str, Any], declared: int) -> int:
    """Open a 束 from the list screen: clinic and default date once, the declared count from the
    cover sheet. Returns its id, with the cursor in the first form's first field."""
    _focus(page, "id", "o-clinic")
    page.keyboard.type(env["clinic"])
    page.keyboard.press("Tab")
    page.keyboard.type("R7.3.14")
    page.keyboard.press("Tab")
    page.keyboard.type(str(declared))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/doses/entry/\d+/$"))
    _focus(page, "id", "f-key")  # once the page has placed the cursor
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def _key_first_items(page: Any) -> None:
    """The first form of a 束, from the vaccine on: vaccine, dose skipped (counted from the
    history), date carried from the 束, product and lot; the doctor. Later forms carry all of these."""
    page.keyboard.type("HIB")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # 回数: left for the history to count
    assert page.evaluate("document.activeElement.value") == "R7.3.14"  # the 束's date
    page.keyboard.press("Enter")
    page.keyboard.type("ACTHIB")
    page.keyboard.press("Enter")
    page.keyboard.type(LOT)
    page.keyboard.press("Enter")
    page.keyboard.type("0.5")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # clinic: the 束's
    page.keyboard.type("山田太郎")


def test_key_a_batch_of_twenty_forms_by_keyboard(page: Any, clerk_env: dict[str, Any]) -> None:
    from yobo.immunizations.models import Dose, EntryBatch

    env = clerk_env
    SHOTS.mkdir(parents=True, exist_ok=True)
    timings: list[float] = []

    def on_response(r: Any) -> None:
        if r.request.method == "POST" and r.url.endswith("/save/"):
            m = re.search(r"dur=([\d.]+)", r.headers.get("server-timing", ""))
            assert m, "every save states its server time"
            timings.append(float(m.group(1)))

    page.on("response", on_response)
    _login(page, env)
    # The menu shows the screen; open it from the keyboard (Tab to the link, Enter).
    link = page.locator("a[href='/doses/entry/']")
    assert link.count() == 1 and "予診票の入力" in link.inner_text()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == "/doses/entry/":
            break
    page.keyboard.press("Enter")
    page.wait_for_url("**/doses/entry/")

    batch_id = _open_batch(page, env, FORMS + 1)  # 20 saved + 1 set aside
    assert "F9" in page.locator("[data-testid=entry-help]").inner_text()

    def key_person(atena: str, name: str, born: date) -> None:
        assert _active(page) == "f-key", "each form starts with the cursor in the first field"
        page.keyboard.type(atena)
        page.keyboard.press("Enter")  # next field; the change shows the person
        panel = page.locator("[data-testid=person-name]")
        panel.filter(has_text=name).wait_for()
        birth = page.locator("[data-testid=person-birth]").inner_text()
        assert f"令和{born.year - 2018}年{born.month}月{born.day}日生" in birth

    def save(atena: str) -> None:
        with page.expect_response(lambda r: r.url.endswith("/save/")):
            page.keyboard.press("F9")
        page.locator("[data-testid=last-saved]").filter(has_text=atena).wait_for()
        page.wait_for_function("document.activeElement && document.activeElement.id === 'f-key'")

    people = env["people"]
    for k, (atena, name, born) in enumerate(people):
        key_person(atena, name, born)
        if k == 0:
            _key_first_items(page)
        elif k == 4:
            # The planted bad form: a date in the future. Shown inline on leaving the field...
            for _ in range(2):
                page.keyboard.press("Enter")  # from the vaccine: dose, date
            assert _active(page) == "f-date"
            page.keyboard.type("R9.3.14")
            page.keyboard.press("Enter")
            msg = page.locator("#msg-date [data-code=future_date]")
            msg.wait_for()
            assert "未来" in msg.inner_text()
            page.screenshot(path=str(SHOTS / "entry-future-date.png"), full_page=True)
            # ...and the save refuses it: the form stays, the cursor on the date.
            with page.expect_response(lambda r: r.url.endswith("/save/")):
                page.keyboard.press("F9")
            page.locator("[data-testid=not-saved]").wait_for()
            assert "future_date" in page.locator("#msg-date").inner_text()
            page.wait_for_function("document.activeElement && document.activeElement.id === 'f-date'")
            assert not Dose.objects.filter(atena_no=atena).exists()
            page.keyboard.type("７.３.１４")  # corrected, in full-width digits without an era
        elif k == 7:
            # This child had HIB 13 days before: interval too short is a warning, shown inline.
            page.locator("#problems [data-code=too_soon]").wait_for()
        elif k in (10, 15):
            for _ in range(2):
                page.keyboard.press("Enter")
            page.keyboard.type("070314" if k == 10 else "2025-03-14")  # other accepted date forms
        save(atena)
        if k == 7:
            last = page.locator("[data-testid=last-saved]").inner_text()
            assert "too_soon" in last  # the warning stays visible after the save
            page.screenshot(path=str(SHOTS / "entry-warning-saved.png"), full_page=True)
        if k == 12:
            # A form that cannot be keyed (e.g. unreadable): F8 sets it aside as 返戻.
            page.keyboard.type("9")
            with page.expect_response(lambda r: r.url.endswith("/reject/")):
                page.keyboard.press("F8")
            page.locator("[data-testid=last-saved]").filter(has_text="返戻").wait_for()
            # The cursor was already in the old form's first field (holding "9"): wait for the fresh,
            # empty one, or the next digits would go into the form being replaced.
            page.wait_for_function("document.activeElement && document.activeElement.id === 'f-key'"
                                   " && document.activeElement.value === ''")

    counts = {k: page.locator(f"[data-count={k}]").inner_text() for k in ("entered", "saved", "warnings", "errors")}
    assert counts == {"entered": "21", "saved": "20", "warnings": "1", "errors": "1"}
    assert "一致" in page.locator("[data-count=declared]").inner_text()
    assert page.locator("#recent-rows tr").count() == FORMS  # all inserted, the newest 8 shown
    assert page.locator("#recent-rows tr:visible").count() == 8
    page.screenshot(path=str(SHOTS / "entry-batch.png"), full_page=True)

    saved = Dose.objects.filter(batch_id=batch_id, state="active")
    assert saved.count() == FORMS
    assert set(saved.values_list("date", flat=True)) == {date(2025, 3, 14)}
    assert set(saved.values_list("lot_number", flat=True)) == {LOT}
    assert set(saved.values_list("doctor", flat=True)) == {"山田太郎"}
    assert [p["code"] for p in saved.get(atena_no=people[7][0]).problems] == ["too_soon"]
    b = EntryBatch.objects.get(pk=batch_id)
    assert (b.saved, b.with_warnings, b.rejected, b.declared_count) == (20, 1, 1, 21)

    # Close the 束 by keyboard (Alt+E, then Enter on the confirmation).
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.keyboard.press("Alt+E")
    assert "締め済" in page.locator("h1 + p").inner_text()
    assert EntryBatch.objects.get(pk=batch_id).state == "closed"

    assert len(timings) == FORMS + 1  # 20 saves and the refused one
    out = {"saves": len(timings), "avg_ms": round(mean(timings), 1), "max_ms": round(max(timings), 1),
           "min_ms": round(min(timings), 1)}
    print("entry browser save server time", json.dumps(out))
    (SHOTS / "entry-timing.json").write_text(json.dumps(out), encoding="utf-8")


def _hold_saves(page: Any) -> list[Any]:
    """Hold every save at the network until the test lets it go: a round trip as long as needed."""
    held: list[Any] = []
    page.route("**/save/", lambda route: held.append(route))  # noqa: PLW0108 - Playwright needs a function
    return held


def _wait_held(page: Any, held: list[Any], n: int) -> None:
    for _ in range(250):
        if len(held) >= n:
            return
        page.wait_for_timeout(20)
    raise AssertionError("the save never reached the network")


def test_keys_typed_while_a_save_is_in_flight_go_to_the_fresh_form(page: Any, clerk_env: dict[str, Any]) -> None:
    """A keyer does not wait for the save: the next 券番号, typed during the save's round trip,
    arrives whole in the fresh form (it used to go into the form being replaced, and was lost).
    When the save is refused instead, the keys typed ahead are dropped, not put into the field to
    correct."""
    from yobo.immunizations.models import Dose

    env = clerk_env
    people = env["people"]
    _login(page, env)
    page.goto(env["url"] + "/doses/entry/")
    _open_batch(page, env, 2)
    held = _hold_saves(page)

    page.keyboard.type(people[0][0])
    page.keyboard.press("Enter")
    page.locator("[data-testid=person-name]").filter(has_text=people[0][1]).wait_for()
    _key_first_items(page)
    page.keyboard.press("F9")
    _wait_held(page, held, 1)
    # The save is at the network: the keyer goes on with the next form's number and Enter.
    page.keyboard.type(people[1][0])
    page.keyboard.press("Enter")
    page.keyboard.type("HI")  # and types over the vaccine the fresh form carries, with a slip
    page.keyboard.press("Backspace")
    page.keyboard.type("IB")
    assert page.locator("#f-key").input_value() == people[0][0], "nothing typed into the form being saved"
    assert page.locator("#f-doctor").input_value() == "山田太郎"
    held[0].continue_()

    page.locator("[data-testid=last-saved]").filter(has_text=people[0][0]).wait_for()
    # The fresh form holds the whole number, the person it names is shown, the cursor moved on.
    page.locator("[data-testid=person-name]").filter(has_text=people[1][1]).wait_for()
    assert page.locator("#f-key").input_value() == people[1][0]
    assert _active(page) == "f-vaccine"
    assert page.locator("#f-vaccine").input_value() == "HIB"
    assert Dose.objects.filter(atena_no=people[0][0], state="active").count() == 1

    # A refused save (a date in the future): what is typed ahead goes nowhere.
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    assert _active(page) == "f-date"
    page.keyboard.type("R9.3.14")
    page.keyboard.press("F9")
    _wait_held(page, held, 2)
    page.keyboard.type("300009")
    held[1].continue_()
    page.locator("[data-testid=not-saved]").wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'f-date'")
    assert page.locator("#f-date").input_value() == "R9.3.14"
    assert page.locator("#f-key").input_value() == people[1][0]
    assert "6 打鍵" in page.locator("[data-testid=dropped-keys]").inner_text()  # and it says so
    # Keys typed after the refused form is back are the keyer's again.
    page.keyboard.press("Control+a")
    page.keyboard.type("R7.3.14")
    assert page.locator("#f-date").input_value() == "R7.3.14"
    assert not Dose.objects.filter(atena_no=people[1][0]).exists()
