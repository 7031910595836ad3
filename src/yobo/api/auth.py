"""Who is calling the API: a system client (``Authorization: Bearer``) or a staff session.

System clients are resolved by ``yobo.access.clients`` (their own terminal and service account);
staff use their verified session on a registered terminal. Either way the purpose comes from
``X-Yobo-Purpose`` (default: the client's first purpose, or P02 for staff) and the door checks it.
There is no anonymous access.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from yobo.access import clients
from yobo.access.context import context_for_request
from yobo.core.context import AccessContext
from yobo.core.purposes import Purpose

BAD_CREDENTIAL = "client_credential"


def bearer(request: HttpRequest) -> str | None:
    auth = request.headers.get("Authorization", "")
    return auth[7:].strip() if auth.startswith("Bearer ") else None


def authenticated(request: HttpRequest) -> bool:
    """A credential was presented, or a logged-in staff session (not yet whether it is valid)."""
    if bearer(request) is not None:
        return True
    user: Any = getattr(request, "user", None)
    return user is not None and user.is_authenticated


def context(request: HttpRequest, default: Purpose = Purpose.PERSON_INQUIRY) -> AccessContext:
    """The caller's context; ``AccessDenied`` (logged) when the credential or session is refused."""
    stated = request.headers.get("X-Yobo-Purpose", "").strip().upper()
    rid = getattr(request, "request_id", "")
    token = bearer(request)
    if token is not None:
        return clients.context_for_token(token, stated, rid)
    return context_for_request(request, default).for_purpose(stated or default.value)
