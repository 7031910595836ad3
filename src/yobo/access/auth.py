"""Login in two steps, lockout and the idle lock (ログイン・二要素認証・ロック).

Every attempt is logged under purpose A03 with the username as typed (never the password; a
string of 12 or more digits is masked, in case someone typed a My Number into the wrong box).
Messages to the person are the same whether or not the account exists.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from yobo.audit.door import log_event
from yobo.core.purposes import Operation, Result

from .context import auth_context
from .models import Staff, Terminal

SESSION_LAST = "yobo_last_activity"
SESSION_LOCKED = "yobo_locked"
SESSION_TERMINAL = "yobo_terminal_id"
SESSION_LOGIN_LOGGED = "yobo_login_logged"
SESSION_ENROLL_DEVICE = "yobo_enroll_device_id"

MSG_LOGIN_FAILED = (
    "ログインできませんでした。ユーザーIDとパスワードを確かめて、もう一度入力してください。"
    "続けて失敗するとしばらくロックされます。アカウントの期限切れ・ロックの場合は所属の管理者に連絡してください。"
    " / Login failed. Check your user ID and password. Repeated failures lock the account for a while;"
    " if it has expired or is locked, contact your administrator."
)
MSG_CODE_FAILED = (
    "確認コードが正しくありません。数秒待ってから、認証アプリに表示されている最新の6桁を入力してください。"
    " / The code is not correct. Wait a few seconds, then enter the current 6-digit code from your app."
)

_DIGITS = re.compile(r"\d{12,}")


def clean_username(typed: str) -> str:
    """The username as typed, safe for the log: trimmed, printable, long digit runs masked."""
    s = "".join(ch for ch in (typed or "").strip() if ch.isprintable())[:150]
    return _DIGITS.sub("[digits]", s)


def _terminal(request: HttpRequest) -> Terminal | None:
    return getattr(request, "terminal", None)


def _log(request: HttpRequest, username: str, staff: Staff | None, result: Result, detail: str,
         op: Operation = Operation.LOGIN) -> None:
    ctx = auth_context(username, _terminal(request), staff, getattr(request, "request_id", ""))
    log_event(ctx, op, resource="access.session", result=result, detail=detail)


def _register_failure(staff: Staff) -> bool:
    """Count a failure; lock the account once the threshold is reached. True when now locked."""
    Staff.objects.filter(pk=staff.pk).update(failed_logins=F("failed_logins") + 1)
    staff.refresh_from_db(fields=["failed_logins", "locked_until"])
    if staff.failed_logins >= settings.YOBO_LOCKOUT_THRESHOLD:
        staff.locked_until = timezone.now() + timedelta(minutes=settings.YOBO_LOCKOUT_MINUTES)
        staff.failed_logins = 0
        staff.save(update_fields=["locked_until", "failed_logins"])
        return True
    return False


def password_step(request: HttpRequest, typed_username: str, password: str) -> Staff | None:
    """Step 1: the password. On success the session is logged in but not yet OTP-verified."""
    username = clean_username(typed_username)
    staff = Staff.objects.filter(username=(typed_username or "").strip()).first()
    user: Any = authenticate(request, username=(typed_username or "").strip(), password=password)
    if user is None:
        if staff is None:
            _log(request, username, None, Result.FAILED, "password: unknown_user")
            return None
        reason = staff.inactive_reason()
        if reason is None or reason == "locked":
            # Wrong password (or a guess against a locked account): counts towards the lockout.
            locked_now = reason is None and _register_failure(staff)
            detail = "password: locked" if reason == "locked" else (
                "password: wrong; account now locked" if locked_now else "password: wrong")
        else:
            detail = f"password: account {reason}"
        _log(request, username, staff, Result.FAILED, detail)
        return None
    login(request, user)
    request.session[SESSION_LAST] = timezone.now().timestamp()
    request.session[SESSION_LOCKED] = False
    term = _terminal(request)
    request.session[SESSION_TERMINAL] = term.pk if term else None
    _log(request, user.username, user, Result.OK, "password: ok; second factor pending")
    return user  # type: ignore[no-any-return]


def totp_step(request: HttpRequest, code: str) -> bool:
    """Step 2 with a TOTP code from a confirmed device."""
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user: Any = request.user
    code = re.sub(r"\s", "", code or "")
    for dev in TOTPDevice.objects.filter(user=user, confirmed=True):
        if code.isdigit() and dev.verify_token(code):
            otp_login(request, dev)
            mark_login_complete(request, "totp")
            return True
    second_factor_failed(request, "totp: wrong code")
    return False


def second_factor_failed(request: HttpRequest, detail: str) -> None:
    """Log a failed second factor; it counts towards the lockout, and a lock ends the session."""
    user: Any = request.user
    locked = _register_failure(user)
    _log(request, user.username, user, Result.FAILED, detail + ("; account now locked" if locked else ""))
    if locked:
        logout(request)


def mark_login_complete(request: HttpRequest, method: str) -> None:
    """Called once the second factor passed (TOTP here, WebAuthn from the middleware)."""
    user: Any = request.user
    if request.session.get(SESSION_LOGIN_LOGGED):
        return
    request.session[SESSION_LOGIN_LOGGED] = True
    request.session[SESSION_LAST] = timezone.now().timestamp()
    Staff.objects.filter(pk=user.pk).update(failed_logins=0)
    _log(request, user.username, user, Result.OK, f"second factor: {method}; login complete")


def start_totp_enrolment(request: HttpRequest) -> Any:
    """First login without a device: a new unconfirmed TOTP device kept in the session."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user: Any = request.user
    dev_id = request.session.get(SESSION_ENROLL_DEVICE)
    dev = TOTPDevice.objects.filter(pk=dev_id, user=user, confirmed=False).first() if dev_id else None
    if dev is None:
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        dev = TOTPDevice.objects.create(user=user, name="TOTP", confirmed=False)
        request.session[SESSION_ENROLL_DEVICE] = dev.pk
    return dev


def confirm_totp_enrolment(request: HttpRequest, code: str) -> bool:
    from django_otp import login as otp_login

    dev = start_totp_enrolment(request)
    code = re.sub(r"\s", "", code or "")
    if code.isdigit() and dev.verify_token(code):
        dev.confirmed = True
        dev.save(update_fields=["confirmed"])
        request.session.pop(SESSION_ENROLL_DEVICE, None)
        otp_login(request, dev)
        user: Any = request.user
        _log(request, user.username, user, Result.OK, "totp enrolled", op=Operation.ADMIN)
        mark_login_complete(request, "totp (enrolment)")
        return True
    second_factor_failed(request, "totp enrolment: wrong code")
    return False


def has_second_factor(user: Any) -> bool:
    from django_otp import user_has_device

    return bool(user_has_device(user, confirmed=True))


def has_webauthn(user: Any) -> bool:
    from django_otp_webauthn.models import WebAuthnCredential

    return WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()


def totp_secret_base32(dev: Any) -> str:
    from base64 import b32encode

    return b32encode(dev.bin_key).decode()


def qr_svg(data: str) -> str:
    """The provisioning URI as an inline SVG QR code (no image file, no external service)."""
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue().decode()


def logout_step(request: HttpRequest, detail: str = "logout") -> None:
    user: Any = request.user
    if user.is_authenticated:
        _log(request, user.username, user, Result.OK, detail, op=Operation.LOGOUT)
    logout(request)


# --- idle lock (画面ロック) ---


def is_idle(request: HttpRequest) -> bool:
    last = request.session.get(SESSION_LAST)
    if last is None:
        return False
    return bool(timezone.now().timestamp() - float(last) > settings.YOBO_IDLE_LOCK_SECONDS)


def touch(request: HttpRequest) -> None:
    request.session[SESSION_LAST] = timezone.now().timestamp()


def lock(request: HttpRequest) -> None:
    if not request.session.get(SESSION_LOCKED):
        request.session[SESSION_LOCKED] = True
        user: Any = request.user
        _log(request, user.username, user, Result.OK, "idle lock", op=Operation.LOGOUT)


def unlock_step(request: HttpRequest, password: str) -> bool:
    """Unlock with the password again; the second factor of the session stays verified."""
    user: Any = request.user
    fresh = Staff.objects.get(pk=user.pk)
    if fresh.inactive_reason() is None and fresh.check_password(password or ""):
        request.session[SESSION_LOCKED] = False
        touch(request)
        Staff.objects.filter(pk=user.pk).update(failed_logins=0)
        _log(request, user.username, user, Result.OK, "unlock")
        return True
    locked = fresh.inactive_reason() is None and _register_failure(fresh)
    _log(request, user.username, user, Result.FAILED,
         "unlock: wrong password" + ("; account now locked" if locked else ""))
    if locked or fresh.inactive_reason() is not None:
        logout(request)
    return False
