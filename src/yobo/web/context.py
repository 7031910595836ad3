"""Template context shared by every page of the shell."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def shell(request: HttpRequest) -> dict[str, object]:
    return {
        "idle_lock_seconds": settings.YOBO_IDLE_LOCK_SECONDS,
        "municipality_code": settings.MUNICIPALITY_CODE,
        "terminal": getattr(request, "terminal", None),
    }
