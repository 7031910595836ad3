"""Request guards, in this order: registered terminal, second factor, idle lock.

- ``TerminalMiddleware`` refuses requests from unregistered or disabled terminals (403, logged)
  and sets ``request.terminal``. A session opened on one terminal ends if used from another.
- ``SecondFactorMiddleware`` keeps a password-only session to the second-factor pages.
- ``IdleLockMiddleware`` locks a session idle for ``YOBO_IDLE_LOCK_SECONDS``; every page then
  leads to ``/lock/`` (htmx requests get ``HX-Redirect``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string

from yobo.audit.door import log_event
from yobo.core.context import new_request_id
from yobo.core.purposes import Operation, Result

from . import auth
from .terminals import identify

# Paths every terminal may reach: static files, the enrolment link, the health check.
TERMINAL_EXEMPT = ("/terminal/enroll/", "/healthz", "/.well-known/", "/api/v1/openapi.json")
# API calls of system clients carry their own credential, bound to their own terminal; the API
# identifies that terminal per call (yobo.access.clients), so no device cookie is asked of them.
API_PATHS = ("/api/", "/fhir/")


def _system_client_call(request: HttpRequest, path: str) -> bool:
    return path.startswith(API_PATHS) and request.headers.get("Authorization", "").startswith("Bearer ")


# Paths a password-only (not yet OTP-verified) session may reach.
SECOND_FACTOR_PATHS = (
    "/login/", "/logout/", "/webauthn/authentication/", "/webauthn/jsi18n/",
)
# Paths a locked session may reach.
LOCK_PATHS = ("/lock/", "/logout/", "/login/")


def _static(path: str) -> bool:
    return path.startswith(settings.STATIC_URL) or path == "/favicon.ico"


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    if getattr(request, "htmx", False):
        from django_htmx.http import HttpResponseClientRedirect

        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


class _Guard:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response


class TerminalMiddleware(_Guard):
    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = new_request_id()  # type: ignore[attr-defined]
        path = request.path_info
        request.terminal = None  # type: ignore[attr-defined]
        if _static(path) or path.startswith(TERMINAL_EXEMPT) or _system_client_call(request, path):
            return self.get_response(request)
        term, reason = identify(request)
        if term is None:
            user: Any = getattr(request, "user", None)
            username = user.username if user is not None and user.is_authenticated else ""
            log_event(None, Operation.LOGIN, resource="access.terminal", result=Result.DENIED,
                      detail=f"{reason} path={path[:80]}", staff=username or "-",
                      request_id=request.request_id)  # type: ignore[attr-defined]
            if user is not None and user.is_authenticated:
                logout(request)
            html = render_to_string("web/access/terminal_refused.html", {"reason": reason}, request=request)
            return HttpResponse(html, status=403)
        request.terminal = term  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            bound = request.session.get(auth.SESSION_TERMINAL)
            if bound is not None and bound != term.pk:
                # A session cookie carried to another terminal does not travel with its rights.
                auth.logout_step(request, "session used from another terminal; logged out")
                return _redirect(request, settings.LOGIN_URL)
        return self.get_response(request)


class SecondFactorMiddleware(_Guard):
    WEBAUTHN_COMPLETE = "/webauthn/authentication/complete/"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = getattr(request, "user", None)
        path = request.path_info
        if user is None or not user.is_authenticated or _static(path) or path.startswith(TERMINAL_EXEMPT):
            return self.get_response(request)
        if not user.is_verified():
            if not path.startswith(SECOND_FACTOR_PATHS) or path == settings.LOGIN_URL:
                return _redirect(request, "/login/2fa/")
            response = self.get_response(request)
            if path == self.WEBAUTHN_COMPLETE:
                self._after_webauthn(request, response)
            return response
        return self.get_response(request)

    @staticmethod
    def _after_webauthn(request: HttpRequest, response: HttpResponse) -> None:
        # django-otp-webauthn marks the session verified itself; the log entry is written here.
        user: Any = request.user
        if response.status_code == 200 and user.is_authenticated and user.is_verified():
            auth.mark_login_complete(request, "webauthn")
        elif user.is_authenticated:
            auth.second_factor_failed(request, "webauthn: assertion refused")


class IdleLockMiddleware(_Guard):
    PING = "/session/ping/"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = getattr(request, "user", None)
        path = request.path_info
        if user is None or not user.is_authenticated or _static(path):
            return self.get_response(request)
        if not user.is_verified():
            if auth.is_idle(request):
                # A half-finished login left alone: start again from the password.
                auth.logout_step(request, "idle before second factor; logged out")
                return _redirect(request, settings.LOGIN_URL)
            return self.get_response(request)
        if request.session.get(auth.SESSION_LOCKED) or auth.is_idle(request):
            auth.lock(request)
            if path.startswith(LOCK_PATHS):
                return self.get_response(request)
            if path == self.PING:
                return HttpResponse(status=409)
            return _redirect(request, "/lock/")
        auth.touch(request)
        return self.get_response(request)


