"""Template context shared by every page of the shell."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from yobo.core.purposes import Duty


def shell(request: HttpRequest) -> dict[str, object]:
    user: Any = getattr(request, "user", None)
    is_admin = False
    if user is not None and user.is_authenticated:
        is_admin = str(Duty.ADMIN) in user.duties()
    return {
        "idle_lock_seconds": settings.YOBO_IDLE_LOCK_SECONDS,
        "municipality_code": settings.MUNICIPALITY_CODE,
        "terminal": getattr(request, "terminal", None),
        "shell_is_admin": is_admin,
    }
