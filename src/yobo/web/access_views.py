"""Login, second factor, idle lock, terminal enrolment, staff and terminal administration."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from yobo.access import auth, selectors, services
from yobo.access.context import context_for_request
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import DUTY_LABELS, Duty, Purpose

TERMINAL_COOKIE_MAX_AGE = 5 * 365 * 24 * 3600


def _next(request: HttpRequest) -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}, require_https=request.is_secure()):
        return nxt
    return "/"


# --- login (ログイン) ---


@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    from yobo.web.forms_access import LoginForm

    user: Any = request.user
    if user.is_authenticated:
        return redirect("/" if user.is_verified() else "/login/2fa/")
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        staff = auth.password_step(request, form.cleaned_data["username"], form.cleaned_data["password"])
        if staff is not None:
            if auth.has_second_factor(staff):
                return redirect("/login/2fa/")
            return redirect("/login/enroll/")
        messages.error(request, auth.MSG_LOGIN_FAILED)
        form = LoginForm(initial={"username": form.cleaned_data["username"]})
    return render(request, "web/access/login.html", {"form": form, "next": _next(request)})


@never_cache
def second_factor_view(request: HttpRequest) -> HttpResponse:
    from yobo.web.forms_access import CodeForm

    user: Any = request.user
    if not user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    if user.is_verified():
        return redirect("/")
    if not auth.has_second_factor(user):
        return redirect("/login/enroll/")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if auth.totp_step(request, form.cleaned_data["code"]):
            return redirect(_next(request))
        if not request.user.is_authenticated:  # the account just got locked
            messages.error(request, auth.MSG_LOGIN_FAILED)
            return redirect(settings.LOGIN_URL)
        messages.error(request, auth.MSG_CODE_FAILED)
        form = CodeForm()
    return render(request, "web/access/second_factor.html", {
        "form": form, "has_webauthn": auth.has_webauthn(user), "next": _next(request),
    })


@never_cache
def enroll_totp_view(request: HttpRequest) -> HttpResponse:
    """First login: register an authenticator app (認証アプリの登録)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from yobo.web.forms_access import CodeForm

    user: Any = request.user
    if not user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    if user.is_verified() or auth.has_second_factor(user):
        # A new device for an enrolled account is added from the security page, never here.
        return redirect("/login/2fa/" if not user.is_verified() else "/account/security/")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if auth.confirm_totp_enrolment(request, form.cleaned_data["code"]):
            messages.success(request, "認証アプリを登録しました。次回からは確認コードでログインします。")
            return redirect("/")
        if not request.user.is_authenticated:
            messages.error(request, auth.MSG_LOGIN_FAILED)
            return redirect(settings.LOGIN_URL)
        messages.error(request, auth.MSG_CODE_FAILED)
        form = CodeForm()
    dev: TOTPDevice = auth.start_totp_enrolment(request)
    return render(request, "web/access/enroll_totp.html", {
        "form": form, "qr_svg": auth.qr_svg(dev.config_url), "secret": auth.totp_secret_base32(dev),
    })


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth.logout_step(request)
    messages.info(request, "ログアウトしました。 / Logged out.")
    return redirect(settings.LOGIN_URL)


@never_cache
def lock_view(request: HttpRequest) -> HttpResponse:
    """画面ロック: the password again; the second factor of the session stays verified."""
    from yobo.web.forms_access import UnlockForm

    user: Any = request.user
    if not user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    if not request.session.get(auth.SESSION_LOCKED):
        return redirect("/")
    form = UnlockForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if auth.unlock_step(request, form.cleaned_data["password"]):
            return redirect(_next(request))
        if not request.user.is_authenticated:
            messages.error(request, auth.MSG_LOGIN_FAILED)
            return redirect(settings.LOGIN_URL)
        messages.error(request, "パスワードが正しくありません。もう一度入力してください。 / Wrong password.")
        form = UnlockForm()
    return render(request, "web/access/lock.html", {"form": form, "next": _next(request)})


@require_POST
def ping_view(request: HttpRequest) -> HttpResponse:
    """The browser reports keyboard/mouse activity so a long form does not lock on the server."""
    user: Any = request.user
    if not user.is_authenticated:
        return HttpResponse(status=401)
    return JsonResponse({"idle_lock_seconds": settings.YOBO_IDLE_LOCK_SECONDS})


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


# --- terminal enrolment (端末の登録) ---


@never_cache
def terminal_enroll_view(request: HttpRequest, code: str) -> HttpResponse:
    """A one-time link: GET shows a confirmation (link previews must not use it up); POST enrols."""
    if request.method != "POST":
        return render(request, "web/access/terminal_enroll.html", {"code": code})
    result = services.enroll_terminal(code)
    if result is None:
        return render(request, "web/access/terminal_enroll.html", {"code": code, "failed": True}, status=400)
    term, token = result
    resp = render(request, "web/access/terminal_enrolled.html", {"terminal_name": term.name})
    resp.set_cookie(settings.YOBO_TERMINAL_COOKIE, token, max_age=TERMINAL_COOKIE_MAX_AGE, httponly=True,
                    samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
    return resp


# --- my account: passkeys (セキュリティ設定) ---


@login_required
def security_view(request: HttpRequest) -> HttpResponse:
    from django_otp import devices_for_user

    devices = [{"name": d.name, "kind": type(d).__name__} for d in devices_for_user(request.user)]
    return render(request, "web/access/security.html", {"devices": devices})


# --- administration (職員・端末の管理): only through services, so every action is logged ---


def admin_view(fn: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(fn)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            ctx = context_for_request(request, Purpose.ADMINISTRATION)
            services.require_admin(ctx)
            return fn(request, ctx, *args, **kwargs)
        except AccessDenied as exc:
            return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)

    return wrapper


def _duty_names(duties: frozenset[str] | set[str]) -> str:
    out = []
    for d in sorted(duties):
        try:
            out.append(DUTY_LABELS[Duty(d)])
        except ValueError:
            out.append(d)
    return "・".join(out)


@admin_view
def staff_list_view(request: HttpRequest, ctx: AccessContext) -> HttpResponse:
    rows = [{"s": s, "duties": _duty_names(s.duties()), "inactive": s.inactive_reason()}
            for s in selectors.list_staff(ctx)]
    return render(request, "web/access/staff_list.html", {"rows": rows})


@admin_view
def staff_create_view(request: HttpRequest, ctx: AccessContext) -> HttpResponse:
    from yobo.web.forms_access import StaffCreateForm

    form = StaffCreateForm(request.POST or None, departments=selectors.department_choices())
    if request.method == "POST" and form.is_valid():
        c = form.cleaned_data
        try:
            if c["contractor_company"]:
                acc = services.create_contractor(
                    ctx, username=c["username"], last_name=c["last_name"], first_name=c["first_name"],
                    company=c["contractor_company"], expires_on=c["expires_on"], department=c["department"] or None)
            else:
                acc = services.create_staff(
                    ctx, username=c["username"], last_name=c["last_name"], first_name=c["first_name"],
                    department=c["department"] or None, duties=c["duties"], expires_on=c["expires_on"],
                    mynumber_right=c["mynumber_right"])
        except InputRejected as exc:
            form.add_error(None, str(exc))
        else:
            return render(request, "web/access/staff_created.html", {"s": acc.staff, "password": acc.password})
    return render(request, "web/access/staff_form.html", {"form": form, "title": "職員アカウントの発行"})


@admin_view
def staff_detail_view(request: HttpRequest, ctx: AccessContext, username: str) -> HttpResponse:
    from yobo.web.forms_access import RevokeForm, StaffEditForm

    try:
        staff = selectors.get_staff(ctx, username)
    except InputRejected as exc:
        return render(request, "web/access/denied.html", {"message": str(exc)}, status=404)
    initial = {"last_name": staff.last_name, "first_name": staff.first_name,
               "department": staff.department.code if staff.department else "",
               "duties": sorted(staff.duties()), "expires_on": staff.expires_on}
    depts = selectors.department_choices()
    form = StaffEditForm(initial=initial, departments=depts, contractor=staff.is_contractor)
    revoke_form = RevokeForm()
    new_password = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "update":
                form = StaffEditForm(request.POST, departments=depts, contractor=staff.is_contractor)
                if form.is_valid():
                    c = form.cleaned_data
                    services.update_staff(ctx, username, duties=c["duties"], department=c["department"] or "",
                                          expires_on=c["expires_on"], last_name=c["last_name"],
                                          first_name=c["first_name"])
                    messages.success(request, "変更を保存しました。")
                    return redirect(f"/staff/{username}/")
            elif action == "revoke":
                revoke_form = RevokeForm(request.POST)
                if revoke_form.is_valid():
                    services.revoke_staff(ctx, username, revoke_form.cleaned_data["reason"])
                    messages.success(request, "アカウントを失効させました。")
                    return redirect(f"/staff/{username}/")
            elif action in {"grant_mynumber", "withdraw_mynumber"}:
                services.set_mynumber_right(ctx, username, action == "grant_mynumber")
                messages.success(request, "個人番号参照権限を変更しました。")
                return redirect(f"/staff/{username}/")
            elif action == "unlock":
                services.unlock_staff(ctx, username)
                messages.success(request, "ロックを解除しました。")
                return redirect(f"/staff/{username}/")
            elif action == "reset":
                new_password = services.reset_credentials(ctx, username).password
        except InputRejected as exc:
            messages.error(request, str(exc))
        staff = selectors.get_staff(ctx, username)
    return render(request, "web/access/staff_detail.html", {
        "s": staff, "form": form, "revoke_form": revoke_form, "duties": _duty_names(staff.duties()),
        "inactive": staff.inactive_reason(), "new_password": new_password,
    })


@admin_view
def terminal_list_view(request: HttpRequest, ctx: AccessContext) -> HttpResponse:
    from yobo.web.forms_access import TerminalForm

    action = request.POST.get("action", "register") if request.method == "POST" else ""
    form = TerminalForm(request.POST if action == "register" else None, departments=selectors.department_choices())
    link = ""
    link_for = ""
    if request.method == "POST":
        try:
            if action == "register" and form.is_valid():
                c = form.cleaned_data
                nt = services.register_terminal(ctx, name=c["name"], kind=c["kind"],
                                                department=c["department"] or None, location=c["location"],
                                                cert_fingerprint=c["cert_fingerprint"])
                link_for = nt.terminal.name
                link = request.build_absolute_uri(f"/terminal/enroll/{nt.enroll_code}/") if nt.enroll_code else ""
                messages.success(request, f"端末「{nt.terminal.name}」を登録しました。")
                form = TerminalForm(departments=selectors.department_choices())
            elif action == "link":
                link_for = request.POST.get("name", "")
                code = services.issue_enrolment(ctx, link_for)
                link = request.build_absolute_uri(f"/terminal/enroll/{code}/")
            elif action in {"disable", "enable"}:
                services.set_terminal_active(ctx, request.POST.get("name", ""), action == "enable")
                messages.success(request, "端末の状態を変更しました。")
                return redirect("/terminals/")
        except InputRejected as exc:
            messages.error(request, str(exc))
    return render(request, "web/access/terminal_list.html", {
        "terminals": selectors.list_terminals(ctx), "form": form, "link": link, "link_for": link_for,
        "enroll_minutes": services.ENROLL_MINUTES_DEFAULT,
    })

