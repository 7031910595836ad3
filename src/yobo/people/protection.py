"""Support measures for DV victims and others (支援措置): set and clear with a second staff member's
confirmation, and the questions the rest of the registry asks (is this person protected? may this
staff member see the address?). See docs/decisions/057-protection.md.

Fail-safe in both directions: a pending *set* request already hides the address and blocks
automatic answers (a person at risk is not exposed while waiting for the second staff member); a
pending *clear* request changes nothing until it is confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Duty, Operation

from .models import ApplicationState, Person, ProtectedPerson, ProtectionAction, ProtectionRequest
from .two_staff import decide, locked_pending, require_second_staff

RESOURCE = "people.protection"
# Duties whose holders see a protected person's address and phone (支援措置対象者の住所参照権限).
ADDRESS_RIGHT_DUTIES: frozenset[str] = frozenset({Duty.SUPERVISOR.value})
MASK_LABEL = "支援措置対象：住所非表示"


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def can_see_protected_address(ctx: AccessContext) -> bool:
    """Whether ``ctx``'s staff member holds the right to see protected persons' addresses."""
    return bool(ctx.duties & ADDRESS_RIGHT_DUTIES) and not ctx.contractor


def protected_among(atena_nos: list[str]) -> set[str]:
    """Which of these 宛名番号 are protected or have a pending *set* request. Internal helper for
    selectors that already run inside the door (no log entry of its own)."""
    if not atena_nos:
        return set()
    m = _m()
    out: set[str] = set()
    for i in range(0, len(atena_nos), 500):
        chunk = atena_nos[i:i + 500]
        out.update(ProtectedPerson.objects.filter(municipality=m, atena_no__in=chunk)
                   .values_list("atena_no", flat=True))
        out.update(ProtectionRequest.objects.filter(
            municipality=m, atena_no__in=chunk, action=ProtectionAction.SET, state=ApplicationState.PENDING,
        ).values_list("atena_no", flat=True))
    return out


def is_protected(ctx: AccessContext, atena_no: str) -> bool:
    """Whether the person must never be answered automatically (支援措置対象: in force, or a set
    request pending). For the exchange with other bodies and any automatic reply; logged."""
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=RESOURCE, target=a, detail="is_protected"):
        return bool(protected_among([a]))


@dataclass(frozen=True, slots=True)
class ProtectionRequestView:
    """A set/clear request as staff see it (支援措置の申請)."""

    id: int
    atena_no: str
    action: str
    state: str
    note: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None

    @property
    def action_label(self) -> str:
        return ProtectionAction(self.action).label

    @property
    def state_label(self) -> str:
        return ApplicationState(self.state).label


@dataclass(frozen=True, slots=True)
class ProtectionStatus:
    atena_no: str
    in_force: bool
    since: datetime | None
    pending: ProtectionRequestView | None

    @property
    def masked(self) -> bool:
        """Address hidden from staff without the right (in force, or a set request pending)."""
        return self.in_force or (self.pending is not None and self.pending.action == ProtectionAction.SET)


def _request_view(r: ProtectionRequest) -> ProtectionRequestView:
    return ProtectionRequestView(
        r.pk, r.atena_no, r.action, r.state, r.note, r.requested_by.get_username(), r.requested_at,
        r.decided_by.get_username() if r.decided_by else None, r.decided_at,
    )


def status(ctx: AccessContext, atena_no: str) -> ProtectionStatus:
    """The person's support-measure status and any pending request (支援措置の状況); logged."""
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=RESOURCE, target=a):
        return _status(_m(), a)


def _status(m: str, a: str) -> ProtectionStatus:
    p = ProtectedPerson.objects.filter(municipality=m, atena_no=a).first()
    pending = (
        ProtectionRequest.objects.filter(municipality=m, atena_no=a, state=ApplicationState.PENDING)
        .select_related("requested_by", "decided_by").order_by("-requested_at").first()
    )
    return ProtectionStatus(a, p is not None, p.since if p else None, _request_view(pending) if pending else None)


def pending_requests(ctx: AccessContext) -> list[ProtectionRequestView]:
    """Requests waiting for a second staff member (確認待ちの支援措置申請), oldest first."""
    with door(ctx, Operation.SEARCH, resource=RESOURCE) as rec:
        rows = list(
            ProtectionRequest.objects.filter(municipality=_m(), state=ApplicationState.PENDING)
            .select_related("requested_by", "decided_by").order_by("requested_at", "pk")
        )
        rec.targets = [r.atena_no for r in rows] or [""]
        rec.detail = f"pending protection requests={len(rows)}"
    return [_request_view(r) for r in rows]


def request_change(ctx: AccessContext, atena_no: str, action: ProtectionAction | str, note: str = "") -> int:
    """Ask to set or clear a support measure (支援措置の設定・解除の申請; purpose P04); returns the
    request id. Takes effect only when another staff member confirms it."""
    a = str(atena_no).strip()
    act = ProtectionAction(action)
    with door(ctx, Operation.CREATE, resource=RESOURCE, target=a, detail=f"request {act.value}"):
        m = _m()
        if not Person.objects.filter(municipality=m, atena_no=a).exists():
            raise InputRejected(f"宛名番号 {a} の住民は登録されていません。 / No person with 宛名番号 {a}.")
        # Serialise requests for one person: lock their person row.
        Person.objects.select_for_update().filter(municipality=m, atena_no=a).first()
        if ProtectionRequest.objects.filter(municipality=m, atena_no=a, state=ApplicationState.PENDING).exists():
            raise InputRejected(
                "この宛名には確認待ちの支援措置申請があります。先にその申請を確認または取り下げてください。"
                " / A request for this person is already waiting for confirmation."
            )
        in_force = ProtectedPerson.objects.filter(municipality=m, atena_no=a).exists()
        if act == ProtectionAction.SET and in_force:
            raise InputRejected("既に支援措置の対象です。 / The person is already protected.")
        if act == ProtectionAction.CLEAR and not in_force:
            raise InputRejected("支援措置の対象ではありません。 / The person is not protected.")
        r = ProtectionRequest.objects.create(
            municipality=m, atena_no=a, action=act, note=note.strip()[:200], requested_by_id=ctx.staff_id,
            requested_at=timezone.now(),
        )
        return r.pk


def confirm(ctx: AccessContext, request_id: int) -> None:
    """Confirm a set/clear request (二人確認): by a staff member other than the requester."""
    with door(ctx, Operation.UPDATE, resource=RESOURCE) as rec:
        r = locked_pending(ProtectionRequest, request_id, "支援措置申請", rec)
        require_second_staff(r, ctx)
        now = decide(r, ApplicationState.CONFIRMED, ctx)
        if r.action == ProtectionAction.SET:
            ProtectedPerson.objects.create(municipality=r.municipality, atena_no=r.atena_no, since=now, request=r)
            rec.detail = "confirm set"
        else:
            ProtectedPerson.objects.filter(municipality=r.municipality, atena_no=r.atena_no).delete()
            rec.detail = "confirm clear"


def withdraw(ctx: AccessContext, request_id: int) -> None:
    """Withdraw or refuse a pending request (取下げ・却下); by the requester or another staff member."""
    with door(ctx, Operation.UPDATE, resource=RESOURCE, detail="withdraw") as rec:
        r = locked_pending(ProtectionRequest, request_id, "支援措置申請", rec)
        decide(r, ApplicationState.WITHDRAWN, ctx)


def protected_households() -> set[str]:
    """Household numbers with a protected member (or a pending set request): their addresses are
    the protected person's too. Internal helper for selectors already inside the door."""
    m = _m()
    atenas = set(ProtectedPerson.objects.filter(municipality=m).values_list("atena_no", flat=True))
    atenas.update(ProtectionRequest.objects.filter(
        municipality=m, action=ProtectionAction.SET, state=ApplicationState.PENDING).values_list("atena_no", flat=True))
    if not atenas:
        return set()
    out: set[str] = set()
    ids = sorted(atenas)
    for i in range(0, len(ids), 500):
        out.update(Person.objects.filter(municipality=m, atena_no__in=ids[i:i + 500])
                   .exclude(household_no="").values_list("household_no", flat=True))
    return out
