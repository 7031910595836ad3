"""Login with two factors, lockout, generic messages, terminals and the idle lock (Django test client)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from yobo.access import auth
from yobo.access.models import Staff, Terminal
from yobo.core.purposes import Duty, Operation, Purpose, Result

from .conftest import TOKEN, log_entries, totp_now

pytestmark = pytest.mark.django_db
PW = "correct horse battery staple"


def _page(r: Any) -> str:
    return r.content.decode()


def _without_csrf(html: str) -> str:
    return re.sub(r"\b[A-Za-z0-9]{64}\b", "TOKEN", html)


# --- terminals ---


def test_browser_without_device_cookie_is_refused_in_japanese_and_logged(terminal: Any) -> None:
    r = Client().get("/login/")
    assert r.status_code == 403
    assert "この端末は登録されていません" in _page(r)
    assert "管理者" in _page(r)
    denied = log_entries(result=Result.DENIED, resource="access.terminal")
    assert denied and denied[-1].detail.startswith("no_terminal_token")


def test_unknown_device_cookie_is_refused(terminal: Any) -> None:
    c = Client()
    c.cookies[settings.YOBO_TERMINAL_COOKIE] = "forged"
    assert c.get("/login/").status_code == 403
    assert log_entries(result=Result.DENIED)[-1].detail.startswith("unregistered_token")


def test_registered_cookie_reaches_login_and_disabled_terminal_is_refused(tclient: Client, terminal: Any) -> None:
    assert tclient.get("/login/").status_code == 200
    Terminal.objects.filter(pk=terminal.pk).update(active=False)
    r = tclient.get("/login/")
    assert r.status_code == 403
    assert log_entries(result=Result.DENIED)[-1].detail.startswith("terminal_disabled")


def test_static_enrolment_and_health_are_exempt(db: Any) -> None:
    c = Client()
    assert c.get("/healthz").status_code == 200
    assert c.get("/terminal/enroll/nothing/").status_code == 200  # the confirmation page


FP = hashlib.sha256(b"test client certificate").hexdigest()
FP_COLONS = ":".join(FP[i:i + 2] for i in range(0, 64, 2)).upper()


@override_settings(YOBO_TERMINAL_CERT_HEADER="X-Client-Cert-SHA256")
def test_certificate_header_identifies_a_terminal_when_configured(db: Any) -> None:
    Terminal.objects.create(name="cert-pc", cert_fingerprint=FP)
    assert Client().get("/login/", HTTP_X_CLIENT_CERT_SHA256=FP_COLONS).status_code == 200
    r = Client().get("/login/", HTTP_X_CLIENT_CERT_SHA256="ab" * 32)
    assert r.status_code == 403
    assert log_entries(result=Result.DENIED)[-1].detail.startswith("unregistered_certificate")


def test_certificate_header_is_ignored_when_not_configured(db: Any) -> None:
    Terminal.objects.create(name="cert-pc", cert_fingerprint=FP)
    assert settings.YOBO_TERMINAL_CERT_HEADER == ""
    assert Client().get("/login/", HTTP_X_CLIENT_CERT_SHA256=FP).status_code == 403


def test_enrolment_link_sets_the_device_cookie_once(db: Any, make_ctx: Any) -> None:
    from yobo.access.services import register_terminal

    ctx = make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN])
    nt = register_terminal(ctx, name="kiosk-2")
    c = Client()
    url = f"/terminal/enroll/{nt.enroll_code}/"
    assert c.get(url).status_code == 200  # a GET (e.g. a link preview) does not use it up
    r = c.post(url)
    assert r.status_code == 200
    token = r.cookies[settings.YOBO_TERMINAL_COOKIE].value
    assert Terminal.objects.get(name="kiosk-2").token_hash == Terminal.hash_token(token)
    assert c.get("/login/").status_code == 200
    assert Client().post(url).status_code == 400  # one time only


def test_expired_enrolment_link_is_refused(db: Any, make_ctx: Any) -> None:
    from yobo.access.services import register_terminal

    nt = register_terminal(make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN]), name="kiosk-3")
    Terminal.objects.filter(pk=nt.terminal.pk).update(enroll_expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().post(f"/terminal/enroll/{nt.enroll_code}/").status_code == 400


# --- password step, generic messages, lockout ---


def test_wrong_password_and_unknown_user_get_the_same_message(tclient: Client, make_staff: Any) -> None:
    make_staff("tanaka")
    r1 = tclient.post("/login/", {"username": "tanaka", "password": "wrong password!"})
    r2 = tclient.post("/login/", {"username": "nobody", "password": "wrong password!"})
    assert r1.status_code == r2.status_code == 200
    assert "ログインできませんでした" in _page(r1)
    assert _without_csrf(_page(r1)).replace("tanaka", "X") == _without_csrf(_page(r2)).replace("nobody", "X")
    failed = log_entries(operation=Operation.LOGIN, result=Result.FAILED)
    assert [e.staff for e in failed] == ["tanaka", "nobody"]
    assert [e.detail for e in failed] == ["password: wrong", "password: unknown_user"]
    assert all(e.purpose == Purpose.AUTHENTICATION and e.terminal == "madoguchi-01" for e in failed)
    assert not any("wrong password" in e.detail for e in log_entries())


def test_a_my_number_typed_as_username_is_masked_in_the_log(tclient: Client) -> None:
    tclient.post("/login/", {"username": "123456789018", "password": "x"})
    assert log_entries(result=Result.FAILED)[-1].staff == "[digits]"


@override_settings(YOBO_LOCKOUT_THRESHOLD=3, YOBO_LOCKOUT_MINUTES=30)
def test_lockout_after_consecutive_failures(tclient: Client, make_staff: Any) -> None:
    s = make_staff("suzuki")
    for _ in range(3):
        tclient.post("/login/", {"username": "suzuki", "password": "nope nope nope"})
    s.refresh_from_db()
    assert s.locked_until is not None and s.inactive_reason() == "locked"
    r = tclient.post("/login/", {"username": "suzuki", "password": PW})
    assert "ログインできませんでした" in _page(r)
    assert "_auth_user_id" not in tclient.session
    details = [e.detail for e in log_entries(staff="suzuki", result=Result.FAILED)]
    assert details == ["password: wrong", "password: wrong", "password: wrong; account now locked",
                       "password: locked"]


@pytest.mark.parametrize("change", [
    {"expires_on": timezone.localdate() - timedelta(days=1)},
    {"revoked_at": timezone.now()},
])
def test_expired_or_revoked_account_is_refused_with_the_generic_message(
        tclient: Client, make_staff: Any, change: dict[str, Any]) -> None:
    make_staff("sato", **change)
    r = tclient.post("/login/", {"username": "sato", "password": PW})
    assert "ログインできませんでした" in _page(r)
    detail = log_entries(staff="sato", result=Result.FAILED)[-1].detail
    assert detail in {"password: account expired", "password: account revoked"}


# --- second factor ---


def test_password_alone_reaches_only_the_second_factor_pages(tclient: Client, make_staff: Any,
                                                             totp_device: Any) -> None:
    s = make_staff("ito")
    totp_device(s)
    r = tclient.post("/login/", {"username": "ito", "password": PW})
    assert r["Location"] == "/login/2fa/"
    for url in ("/", "/staff/", "/terminals/", "/account/security/", "/webauthn/registration/begin/"):
        r = tclient.get(url)
        assert r.status_code == 302 and r["Location"] == "/login/2fa/", url
    assert tclient.get("/login/2fa/").status_code == 200


@override_settings(OTP_TOTP_THROTTLE_FACTOR=0)  # django-otp delays retries after a failure; not tested here
def test_totp_code_completes_the_login_and_is_logged(tclient: Client, make_staff: Any, totp_device: Any) -> None:
    s = make_staff("kato")
    dev = totp_device(s)
    tclient.post("/login/", {"username": "kato", "password": PW})
    r = tclient.post("/login/2fa/", {"code": "000000" if totp_now(dev) != "000000" else "111111"})
    assert "確認コードが正しくありません" in _page(r)
    r = tclient.post("/login/2fa/", {"code": totp_now(dev)})
    assert r["Location"] == "/"
    home = tclient.get("/")
    assert home.status_code == 200 and "業務メニュー" in _page(home)
    details = [(e.result, e.detail) for e in log_entries(staff="kato", operation=Operation.LOGIN)]
    assert details == [
        (Result.OK, "password: ok; second factor pending"),
        (Result.FAILED, "totp: wrong code"),
        (Result.OK, "second factor: totp; login complete"),
    ]


def test_first_login_forces_totp_enrolment(tclient: Client, make_staff: Any) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    s = make_staff("yamada")
    r = tclient.post("/login/", {"username": "yamada", "password": PW})
    assert r["Location"] == "/login/enroll/"
    assert tclient.get("/").status_code == 302
    page = tclient.get("/login/enroll/")
    assert page.status_code == 200 and "<svg" in _page(page)
    dev = TOTPDevice.objects.get(user=s, confirmed=False)
    r = tclient.post("/login/enroll/", {"code": totp_now(dev)})
    assert r["Location"] == "/"
    assert TOTPDevice.objects.get(user=s).confirmed
    assert tclient.get("/").status_code == 200


def test_enrolment_page_cannot_add_a_device_to_an_enrolled_account(tclient: Client, make_staff: Any,
                                                                  totp_device: Any) -> None:
    s = make_staff("kimura")
    totp_device(s)
    tclient.post("/login/", {"username": "kimura", "password": PW})
    r = tclient.get("/login/enroll/")
    assert r["Location"] == "/login/2fa/"


def test_logout_is_logged(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff("hayashi"))
    r = c.post("/logout/")
    assert r["Location"] == settings.LOGIN_URL
    assert log_entries(staff="hayashi", operation=Operation.LOGOUT)[-1].detail == "logout"
    assert c.get("/")["Location"].startswith("/login/")


def test_session_moved_to_another_terminal_is_ended(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff("mori"))
    Terminal.objects.create(name="other-pc", token_hash=Terminal.hash_token("other-token"))
    c.cookies[settings.YOBO_TERMINAL_COOKIE] = "other-token"
    r = c.get("/")
    assert r.status_code == 302 and r["Location"] == settings.LOGIN_URL
    assert "another terminal" in log_entries(staff="mori", operation=Operation.LOGOUT)[-1].detail
    c.cookies[settings.YOBO_TERMINAL_COOKIE] = TOKEN
    assert c.get("/")["Location"].startswith("/login/")


def test_revoked_during_a_session_is_logged_out(logged_in: Any, make_staff: Any) -> None:
    s = make_staff("abe")
    c = logged_in(s)
    Staff.objects.filter(pk=s.pk).update(revoked_at=timezone.now())
    assert c.get("/")["Location"].startswith("/login/")


# --- idle lock ---


def _age_session(c: Client, seconds: float) -> None:
    session = c.session
    session[auth.SESSION_LAST] = session[auth.SESSION_LAST] - seconds
    session.save()


@override_settings(YOBO_IDLE_LOCK_SECONDS=60)
def test_idle_session_is_locked_and_unlocked_with_the_password(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff("ogawa"))
    assert c.get("/").status_code == 200
    _age_session(c, 61)
    r = c.get("/staff/")
    assert r.status_code == 302 and r["Location"] == "/lock/"
    assert c.get("/").status_code == 302  # stays locked
    r = c.get("/", headers={"HX-Request": "true"})
    assert r["HX-Redirect"] == "/lock/"
    assert c.post("/session/ping/").status_code == 409
    page = c.get("/lock/")
    assert page.status_code == 200 and "画面をロックしています" in _page(page)
    r = c.post("/lock/", {"password": "not it at all"})
    assert "パスワードが正しくありません" in _page(r)
    r = c.post("/lock/", {"password": PW, "next": "/"})
    assert r["Location"] == "/"
    assert c.get("/").status_code == 200  # the second factor stayed verified
    details = [e.detail for e in log_entries(staff="ogawa")]
    assert "idle lock" in details and "unlock: wrong password" in details and "unlock" in details


@override_settings(YOBO_IDLE_LOCK_SECONDS=60)
def test_activity_within_the_period_keeps_the_session_open(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff("ueda"))
    _age_session(c, 50)
    assert c.post("/session/ping/").status_code == 200
    _age_session(c, 50)  # 50 s after the ping: still within the period
    assert c.get("/").status_code == 200


@override_settings(YOBO_IDLE_LOCK_SECONDS=60)
def test_half_finished_login_left_idle_starts_again(tclient: Client, make_staff: Any, totp_device: Any) -> None:
    s = make_staff("noda")
    totp_device(s)
    tclient.post("/login/", {"username": "noda", "password": PW})
    _age_session(tclient, 120)
    r = tclient.get("/login/2fa/")
    assert r["Location"] == settings.LOGIN_URL
    assert "_auth_user_id" not in tclient.session


# --- WebAuthn as the second factor (django-otp-webauthn) ---


def test_webauthn_is_offered_as_a_second_factor_once_registered(tclient: Client, make_staff: Any,
                                                                 totp_device: Any) -> None:
    from django_otp_webauthn.models import WebAuthnCredential

    s = make_staff("fujita")
    totp_device(s)
    tclient.post("/login/", {"username": "fujita", "password": PW})
    assert "passkey-verification-placeholder" not in _page(tclient.get("/login/2fa/"))
    WebAuthnCredential.objects.create(user=s, name="key", credential_id=b"\x01" * 16, public_key=b"\x02" * 32,
                                      confirmed=True)
    page = _page(tclient.get("/login/2fa/"))
    assert "passkey-verification-placeholder" in page and "otp_webauthn_config" in page
    # The ceremony endpoints are reachable before the second factor; registration is not.
    assert tclient.post("/webauthn/authentication/begin/", content_type="application/json").status_code == 200
    assert tclient.post("/webauthn/registration/begin/")["Location"] == "/login/2fa/"


def test_a_refused_webauthn_assertion_is_logged_as_failed(tclient: Client, make_staff: Any,
                                                         totp_device: Any) -> None:
    s = make_staff("hara")
    totp_device(s)
    tclient.post("/login/", {"username": "hara", "password": PW})
    r = tclient.post("/webauthn/authentication/complete/", data="{}", content_type="application/json")
    assert r.status_code >= 400
    assert log_entries(staff="hara", result=Result.FAILED)[-1].detail == "webauthn: assertion refused"


def test_passwordless_webauthn_login_is_disabled(tclient: Client) -> None:
    r = tclient.post("/webauthn/authentication/begin/", content_type="application/json")
    assert r.status_code == 403
