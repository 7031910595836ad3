"""Building the AccessContext (アクセス文脈) for a web request or a CLI operator.

Only this module builds contexts, so holding one means the account was active and the terminal
registered at that moment. A refusal is logged (result ``denied``) before ``AccessDenied`` is raised.
"""

from __future__ import annotations

import os
from typing import Any

from django.http import HttpRequest

from yobo.audit.door import log_event
from yobo.core.context import AccessContext, new_request_id
from yobo.core.errors import AccessDenied
from yobo.core.purposes import Operation, Purpose, Result

from .models import Staff, Terminal


def _build(staff: Staff, terminal: Terminal, purpose: Purpose | str, request_id: str) -> AccessContext:
    return AccessContext(
        staff_id=staff.pk,
        username=staff.username,
        department=staff.department.code if staff.department else "",
        duties=staff.duties(),
        terminal=terminal.name,
        purpose=str(purpose),
        request_id=request_id,
        mynumber_right=staff.mynumber_right,
        contractor=staff.is_contractor,
    )


def context_for_request(request: HttpRequest, purpose: Purpose | str) -> AccessContext:
    """The context of a logged-in, second-factor-verified staff member on a registered terminal."""
    user: Any = request.user
    terminal: Terminal | None = getattr(request, "terminal", None)
    rid = getattr(request, "request_id", "") or new_request_id()
    if terminal is None:
        log_event(None, Operation.READ, result=Result.DENIED, detail="no_terminal",
                  staff=getattr(user, "username", "") or "", request_id=rid)
        raise AccessDenied("no_terminal")
    if not user.is_authenticated or user.inactive_reason() is not None:
        log_event(None, Operation.READ, result=Result.DENIED, detail="account_inactive",
                  staff=getattr(user, "username", "") or "", terminal=terminal.name, request_id=rid)
        raise AccessDenied("account_inactive")
    return _build(user, terminal, purpose, rid)


def context_for_operator(
    purpose: Purpose | str, username: str | None = None, terminal: str | None = None
) -> AccessContext:
    """The context of a CLI operator (``--as`` / ``YOBO_OPERATOR``) on ``YOBO_TERMINAL``."""
    username = username or os.environ.get("YOBO_OPERATOR", "")
    terminal_name = terminal or os.environ.get("YOBO_TERMINAL", "")
    rid = new_request_id()
    staff = Staff.objects.filter(username=username).select_related("department").first() if username else None
    term = Terminal.objects.filter(name=terminal_name, active=True).first() if terminal_name else None
    if term is None:
        log_event(None, Operation.BATCH, result=Result.DENIED, detail="no_terminal", staff=username,
                  terminal=terminal_name[:64], request_id=rid)
        raise AccessDenied("no_terminal")
    if staff is None or staff.inactive_reason() is not None:
        log_event(None, Operation.BATCH, result=Result.DENIED, detail="account_inactive", staff=username,
                  terminal=term.name, request_id=rid)
        raise AccessDenied("account_inactive")
    return _build(staff, term, purpose, rid)


def auth_context(username: str, terminal: Terminal | None, staff: Staff | None = None,
                 request_id: str = "") -> AccessContext:
    """A context for logging login-phase events (purpose A03) before a session exists.

    It carries no duties, so it passes the door for nothing but logging; ``username`` is the name
    as typed (already cleaned by the caller) when no such account exists.
    """
    return AccessContext(
        staff_id=staff.pk if staff else 0,
        username=(staff.username if staff else username)[:150],
        department=staff.department.code if staff and staff.department else "",
        duties=frozenset(),
        terminal=terminal.name if terminal else "",
        purpose=str(Purpose.AUTHENTICATION),
        request_id=request_id or new_request_id(),
    )
