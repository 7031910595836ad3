"""An export request walked through approval in a real browser: a clerk requests, the clerk cannot
approve, a supervisor approves, the clerk writes it (encrypted) and records the deletion report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pyzipper

from yobo.core.purposes import Duty

from .test_login import PW, TOKEN, _code

ITEMS = ("宛名番号", "氏名", "住所")


@pytest.fixture
def two_staff(transactional_db: Any, make_staff: Any, live_server: Any, page: Any) -> Iterator[dict[str, Any]]:
    from django.conf import settings
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from yobo.access.models import Terminal
    from yobo.exports import registry, services

    Terminal.objects.create(name="madoguchi-01", kind="web", token_hash=Terminal.hash_token(TOKEN))
    clerk = make_staff("suzuki.clerk", duties=[Duty.CLERK], password=PW)
    boss = make_staff("sato.kacho", duties=[Duty.SUPERVISOR], password=PW)
    admin = make_staff("it.admin", duties=[Duty.ADMIN], password=PW)
    devs = {s.username: TOTPDevice.objects.create(user=s, name="phone", confirmed=True) for s in (clerk, boss)}
    from yobo.core.context import AccessContext

    actx = AccessContext(staff_id=admin.pk, username=admin.username, department="hoken", duties=admin.duties(),
                         terminal="madoguchi-01", purpose="A01")
    services.permit_terminal(actx, "madoguchi-01", "窓口1")
    registry.register(registry.ExportKind(
        "test.mailing", "発送ファイル (テスト)", ITEMS, frozenset({"N03"}),
        producer=lambda ctx, req: (list(ITEMS), [["100000001", "横浜 花子", "中区本町1-1"]])))
    page.context.add_cookies([{"name": settings.YOBO_TERMINAL_COOKIE, "value": TOKEN, "url": live_server.url}])
    yield {"url": live_server.url, "devs": devs}
    registry.unregister("test.mailing")


def _login_as(page: Any, env: dict[str, Any], username: str) -> None:
    dev = env["devs"][username]
    type(dev).objects.filter(pk=dev.pk).update(last_t=-1)  # a second login within the same 30 s step
    page.goto(env["url"] + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PW)
    page.keyboard.press("Enter")
    page.wait_for_url("**/login/2fa/")
    page.fill("input[name=code]", _code(env["devs"][username]))
    page.keyboard.press("Enter")
    page.wait_for_url(env["url"] + "/")


def _logout(page: Any) -> None:
    page.click("button:has-text('ログアウト')")
    page.wait_for_url("**/login/**")


def test_export_request_walks_through_approval(page: Any, two_staff: dict[str, Any]) -> None:
    env = two_staff
    _login_as(page, env, "suzuki.clerk")
    page.goto(env["url"] + "/exports/")
    page.click("#new-request")
    page.wait_for_url("**/exports/new/")
    page.select_option("#id_kind_pick", "test.mailing")  # submits the kind choice
    page.wait_for_url("**/exports/new/?kind=test.mailing")
    page.uncheck("input[name=items][value=住所]")
    page.fill("#id_reason", "接種勧奨はがきの印刷委託")
    page.fill("#id_destination", "○○印刷株式会社")
    page.select_option("#id_medium", "lgwan")
    page.click("#submit-request")
    page.wait_for_url("**/exports/**")
    row = page.locator("#requests tbody tr").first
    rid = row.get_attribute("id").split("-")[1]
    assert "承認待ち" in row.locator(".state").inner_text()
    assert page.locator(f"[data-testid=approve-{rid}]").count() == 0  # the requester cannot approve
    _logout(page)

    _login_as(page, env, "sato.kacho")
    page.goto(env["url"] + "/exports/")
    assert "接種勧奨はがきの印刷委託" in page.locator(f"#pending-{rid}").inner_text()
    page.click(f"[data-testid=approve-{rid}]")
    page.wait_for_url("**/exports/**")
    assert "承認済み" in page.locator(f"#request-{rid} .state").inner_text()
    _logout(page)

    _login_as(page, env, "suzuki.clerk")
    page.goto(env["url"] + "/exports/")
    page.click(f"[data-testid=run-{rid}]")
    page.wait_for_selector("#password")
    password = page.locator("#password").inner_text().strip()
    serial = page.locator("#serial").inner_text().strip()

    from yobo.exports.models import MediaLogEntry

    m = MediaLogEntry.objects.get(serial=serial)
    assert m.items == ["宛名番号", "氏名"] and m.row_count == 1
    from django.conf import settings

    path = settings.VAR_DIR / "exports" / m.file_name
    with pyzipper.AESZipFile(path) as z:
        z.setpassword(password.encode())
        assert z.read(z.namelist()[0]).decode("utf-8-sig").splitlines()[1] == "100000001,横浜 花子"
    path.unlink()
    page.goto(env["url"] + "/exports/")
    page.fill("#media input[name=reported_by]", "○○印刷 山田")
    page.click("#media button:has-text('消去を確認')")
    page.wait_for_url("**/exports/**")
    assert "○○印刷 山田" in page.locator("#media").inner_text()
