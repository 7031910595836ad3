"""The login in a real browser: password + TOTP on an enrolled terminal, idle lock, unregistered terminal."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from yobo.core.purposes import Duty

PW = "correct horse battery staple"
TOKEN = "browser-test-device-token-0123456789"
# Screenshots for a person to look at (YOBO_SCREENSHOT_DIR), else the system's temporary directory.
SHOTS = Path(os.environ.get("YOBO_SCREENSHOT_DIR") or tempfile.gettempdir()) / "yobo-screens"


@pytest.fixture
def enrolled(transactional_db: Any, make_staff: Any, live_server: Any, page: Any) -> dict[str, Any]:
    """A staff member with a TOTP device, and the page's browser enrolled as a registered terminal."""
    from django.conf import settings
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from yobo.access.models import Terminal

    Terminal.objects.create(name="madoguchi-01", kind="web", token_hash=Terminal.hash_token(TOKEN))
    staff = make_staff("tanaka.hanako", duties=[Duty.ADMIN], last_name="田中", first_name="花子", password=PW)
    dev = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    page.context.add_cookies([{"name": settings.YOBO_TERMINAL_COOKIE, "value": TOKEN, "url": live_server.url}])
    return {"staff": staff, "device": dev, "url": live_server.url}


def _code(dev: Any) -> str:
    from django_otp.oath import totp

    return f"{totp(dev.bin_key, step=dev.step, t0=dev.t0, digits=dev.digits):06d}"


def _focus(page: Any, attr: str, value: str) -> None:
    """Wait until the page's autofocus has put the cursor on the element whose ``attr`` is ``value``.

    Chromium applies ``autofocus`` at its next rendering step, which can come after the load event
    that ``goto``/``wait_for_url`` wait for: keys typed in between go nowhere. Times out (fails)
    when the focus never lands there."""
    page.wait_for_function("([k, v]) => document.activeElement && document.activeElement[k] === v",
                           arg=[attr, value], timeout=5000)


def _login(page: Any, env: dict[str, Any], shots: bool = False) -> None:
    page.goto(env["url"] + "/")
    assert "/login/" in page.url
    _focus(page, "name", "username")  # focus on the first field
    SHOTS.mkdir(parents=True, exist_ok=True)
    if shots:
        page.screenshot(path=str(SHOTS / "login.png"), full_page=True)
    page.keyboard.type("tanaka.hanako")
    page.keyboard.press("Tab")
    page.keyboard.type(PW)
    page.keyboard.press("Enter")  # Enter submits
    page.wait_for_url("**/login/2fa/")
    page.fill("input[name=code]", _code(env["device"]))
    page.keyboard.press("Enter")
    page.wait_for_url(env["url"] + "/")


def test_login_with_password_and_totp_reaches_home(page: Any, enrolled: dict[str, Any]) -> None:
    _login(page, enrolled, shots=True)
    assert page.locator("h1").inner_text() == "業務メニュー"
    assert "田中 花子" in page.locator(".who").inner_text()
    assert "madoguchi-01" in page.locator(".who").inner_text()
    page.screenshot(path=str(SHOTS / "home.png"), full_page=True)
    page.goto(enrolled["url"] + "/staff/")
    assert "職員アカウント" in page.locator("h1").inner_text()
    page.screenshot(path=str(SHOTS / "staff.png"), full_page=True)


def test_idle_lock_covers_the_page_and_unlocks_with_the_password(
        page: Any, enrolled: dict[str, Any], settings: Any) -> None:
    settings.YOBO_IDLE_LOCK_SECONDS = 2
    _login(page, enrolled)
    # No input for the idle period: the page is covered and the lock screen shows.
    page.wait_for_url("**/lock/**", timeout=10000)
    assert page.locator("[data-testid=lock-screen]").is_visible()
    assert "業務メニュー" not in page.content()
    page.screenshot(path=str(SHOTS / "lock.png"), full_page=True)
    page.fill("input[name=password]", PW)
    page.keyboard.press("Enter")
    page.wait_for_url(enrolled["url"] + "/")
    assert page.locator("h1").inner_text() == "業務メニュー"  # still verified: no second code asked


def test_browser_without_the_device_cookie_is_refused(page: Any, live_server: Any, transactional_db: Any) -> None:
    response = page.goto(live_server.url + "/login/")
    assert response is not None and response.status == 403
    text = page.locator("[data-testid=terminal-refused]").inner_text()
    assert "この端末は登録されていません" in text and "管理者" in text
    page.screenshot(path=str(SHOTS / "refused.png"), full_page=True)
