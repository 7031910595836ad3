"""Reads of exchange: queries and their results, received queries (held answers to review), the
copy of one person, the inbox record and the outbox. Every function takes an ``AccessContext``
and runs inside the audit door."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation, Purpose

from . import conf
from .models import CopyEntry, InboxEvent, LinkageCode, Outbox, Provision, ProvisionState, Query, QueryState
from .services import RESOURCE_COPY, RESOURCE_PROVISION, RESOURCE_QUERY


@dataclass(frozen=True, slots=True)
class QueryView:
    """A query this city sent (情報照会) and its result while kept."""

    query_id: str
    atena_no: str
    provider: str
    item_set: str
    clause: str
    state: str
    requested_by: str
    created_at: datetime
    sent_at: datetime | None
    completed_at: datetime | None
    attempts: int
    last_error: str
    result: list[dict[str, str]] | None
    purged: bool

    @property
    def state_label(self) -> str:
        return QueryState(self.state).label


@dataclass(frozen=True, slots=True)
class ProvisionView:
    """A query this city received (情報提供) and its answer."""

    id: int
    asker: str
    atena_no: str
    item_set: str
    clause: str
    state: str
    answer: list[dict[str, str]] | None
    received_at: datetime
    decided_by: str
    decided_at: datetime | None
    answered_at: datetime | None

    @property
    def state_label(self) -> str:
        return ProvisionState(self.state).label


def _qview(q: Query) -> QueryView:
    return QueryView(q.query_id, q.atena_no, q.provider, q.item_set, q.clause, q.state, q.requested_by, q.created_at,
                     q.sent_at, q.completed_at, q.attempts, q.last_error, q.result, q.purged_at is not None)


def _pview(p: Provision) -> ProvisionView:
    return ProvisionView(p.pk, p.asker, p.atena_no, p.item_set, p.clause, p.state, p.answer, p.received_at,
                         p.decided_by, p.decided_at, p.answered_at)


def queries(ctx: AccessContext, *, atena_no: str | None = None, state: str | None = None,
            limit: int = 100) -> list[QueryView]:
    """Queries sent, newest first (of one person with ``atena_no``)."""
    with door(ctx, Operation.SEARCH if atena_no is None else Operation.READ, resource=RESOURCE_QUERY,
              target=atena_no or "") as rec:
        qs = Query.objects.filter(municipality=conf.municipality())
        if atena_no:
            qs = qs.filter(atena_no=str(atena_no).strip())
        if state:
            qs = qs.filter(state=state)
        rows = list(qs.order_by("-created_at", "-pk")[: max(1, min(limit, 1000))])
        if atena_no is None:
            rec.targets = sorted({q.atena_no for q in rows}) or [""]
    return [_qview(q) for q in rows]


def query(ctx: AccessContext, query_id: str) -> QueryView | None:
    with door(ctx, Operation.READ, resource=RESOURCE_QUERY) as rec:
        q = Query.objects.filter(municipality=conf.municipality(), query_id=query_id).first()
        rec.targets = [q.atena_no if q else ""]
    return _qview(q) if q else None


def provisions(ctx: AccessContext, *, state: str | None = None, limit: int = 100) -> list[ProvisionView]:
    """Queries received, newest first; ``state="held"`` is the review queue (支援措置対象の確認待ち)."""
    with door(ctx, Operation.SEARCH, resource=RESOURCE_PROVISION) as rec:
        qs = Provision.objects.filter(municipality=conf.municipality())
        if state:
            qs = qs.filter(state=state)
        rows = list(qs.order_by("-received_at", "-pk")[: max(1, min(limit, 1000))])
        rec.targets = sorted({p.atena_no for p in rows if p.atena_no}) or [""]
    return [_pview(p) for p in rows]


def held(ctx: AccessContext) -> list[ProvisionView]:
    return provisions(ctx, state=ProvisionState.HELD)


def copy_of(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    """The person's copy (副本): vaccine, dose, date."""
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=RESOURCE_COPY, target=a):
        return [{"vaccine": v, "dose": d, "date": g} for v, d, g in CopyEntry.objects.filter(
            municipality=conf.municipality(), atena_no=a).order_by("vaccine", "dose").values_list(
            "vaccine", "dose", "given_on")]


def has_code(ctx: AccessContext, atena_no: str) -> bool:
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource="exchange.code", target=a):
        return LinkageCode.objects.filter(municipality=conf.municipality(), atena_no=a).exists()


def inbox_events(ctx: AccessContext, *, limit: int = 100) -> list[dict[str, Any]]:
    """Deliveries received or refused (with the reason), newest first. No person is named."""
    with door(ctx, Operation.SEARCH, resource="exchange.inbox"):
        return [dict(r) for r in InboxEvent.objects.filter(municipality=conf.municipality()).order_by("-at", "-pk")
                    .values("at", "sender", "msg_id", "kind", "outcome", "reason")[:limit]]


def outbox(ctx: AccessContext) -> list[dict[str, Any]]:
    """Messages not yet accepted by the hub (送信待ち), with attempts and the last error."""
    with door(ctx, Operation.SEARCH, resource="exchange.outbox"):
        return [dict(r) for r in Outbox.objects.filter(municipality=conf.municipality(), sent_at__isnull=True)
                .order_by("pk").values("msg_id", "kind", "receiver", "created_at", "attempts", "next_attempt_at",
                                       "last_error")]


def waiting_work() -> list[tuple[str, str, int]]:
    """Answers held for review (a protected person asked about), as (purpose code, label, count)."""
    n = Provision.objects.filter(municipality=conf.municipality(), state=ProvisionState.HELD).count()
    return [(Purpose.EXCHANGE_PROVISION.value, "確認待ち", n)] if n else []
