"""Requests that take effect only once a second staff member decides them (二人確認): 住登外者
applications, their switches to the register, 支援措置. The models share ``TwoStaffRequest``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.utils import timezone

from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected

from .models import ApplicationState, TwoStaffRequest

R = TypeVar("R", bound=TwoStaffRequest)


def locked_pending(model: type[R], pk: int, what: str, rec: Any = None) -> R:
    """A pending request (``state`` pending) of this city, locked for the decision; ``what`` names it.
    With the door's ``rec``, the request's person is its target even when it is refused as decided."""
    obj = model._default_manager.select_for_update().filter(pk=pk, municipality=settings.MUNICIPALITY_CODE).first()
    if obj is None:
        raise InputRejected(f"{what} {pk} がありません。 / No such request: {pk}.")
    if rec is not None:
        rec.targets = [obj.subject_atena]
    if obj.state != ApplicationState.PENDING:
        raise InputRejected("この申請は既に処理済みです。 / This request has already been decided.")
    return obj


def require_second_staff(obj: TwoStaffRequest, ctx: AccessContext, requester: str = "申請した",
                         requester_en: str = "requested it") -> None:
    """Refuse a confirmation by the staff member who made the request (二人確認)."""
    if obj.requested_by_id == ctx.staff_id:  # type: ignore[attr-defined]
        raise InputRejected(f"{requester}職員とは別の職員が確認してください。"
                            f" / A second staff member must confirm, not the one who {requester_en}.")


def decide(obj: TwoStaffRequest, state: str, ctx: AccessContext, note: str | None = None) -> datetime:
    """Record the decision on a pending request (確認・取下げ) and who made it; returns its time."""
    now = timezone.now()
    obj.state, obj.decided_by_id, obj.decided_at = state, ctx.staff_id, now
    fields = ["state", "decided_by", "decided_at"]
    if note is not None:
        obj.decision_note = note.strip()[:200]  # type: ignore[attr-defined]
        fields.append("decision_note")
    obj.save(update_fields=fields)
    return now
