"""Reads of health-damage relief (purpose R01): the status list with deadlines, one claim with its
events, documents (opened = decrypted, each opening logged), yearly decisions and payments."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected, IntegrityBroken
from yobo.core.purposes import Operation

from . import vault
from .models import AnnualDecision, BenefitAmount, BenefitType, Claim, ClaimEvent, ClaimState, Document, Payment
from .services import MOVES, RESOURCE, RESOURCE_DOC, RESOURCE_SETTING


def _m() -> str:
    return settings.MUNICIPALITY_CODE


@dataclass(frozen=True)
class ClaimRow:
    """A line of the status list (進捗一覧)."""

    id: int
    claim_no: str
    atena_no: str
    benefit_label: str
    applicant_name: str
    state: str
    state_label: str
    state_since: date
    received_on: date
    due_on: date | None
    overdue: bool
    days_in_state: int
    flags: list[str]


@dataclass(frozen=True)
class EventView:
    from_label: str
    to_state: str
    to_label: str
    on_date: date
    note: str
    document_id: int | None
    by: str
    at: datetime


@dataclass(frozen=True)
class DocumentView:
    id: int
    kind: str
    file_name: str
    content_type: str
    size: int
    added_at: datetime


@dataclass(frozen=True)
class ClaimView:
    row: ClaimRow
    benefit: str
    applicant_relation: str
    applicant_address: str
    applicant_phone: str
    vaccinations: list[dict[str, Any]]
    harm_summary: str
    onset_date: date | None
    event_date: date | None
    decision_result: str
    decision_on: date | None
    decision_content: str
    grade: str
    approved_amount_yen: int | None
    continuing: bool
    next_states: list[tuple[str, str]]
    events: list[EventView]
    documents: list[DocumentView]
    annual: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    paid_total_yen: int


def _label(state: str) -> str:
    return ClaimState(state).label if state else ""


def _row(c: Claim, today: date) -> ClaimRow:
    return ClaimRow(c.pk, c.claim_no, c.atena_no, BenefitType(c.benefit).label, c.applicant_name, c.state,
                    _label(c.state), c.state_since, c.received_on, c.due_on,
                    bool(c.due_on and c.due_on < today), (today - c.state_since).days, list(c.flags))


def status_list(ctx: AccessContext, *, state: str = "", open_only: bool = True, limit: int = 200) -> list[ClaimRow]:
    """Claims by deadline (期限順): overdue first, then the nearest deadline, then the oldest."""
    today = timezone.localdate()
    with door(ctx, Operation.SEARCH, resource=RESOURCE) as rec:
        qs = Claim.objects.filter(municipality=_m())
        if state:
            qs = qs.filter(state=state)
        elif open_only:
            qs = qs.exclude(state__in=[ClaimState.PAID, ClaimState.WITHDRAWN])
        rows = [_row(c, today) for c in qs.order_by("received_on", "pk")[:limit]]
        rec.targets = sorted({r.atena_no for r in rows}) or [""]
    rows.sort(key=lambda r: (r.due_on is None, r.due_on or date.max, r.received_on))
    return rows


def claim(ctx: AccessContext, claim_id: int) -> ClaimView:
    today = timezone.localdate()
    with door(ctx, Operation.READ, resource=RESOURCE) as rec:
        c = Claim.objects.filter(municipality=_m(), pk=claim_id).first()
        if c is None:
            raise InputRejected(f"請求 {claim_id} はありません。 / no such claim.")
        rec.targets = [c.atena_no]
        events = [EventView(_label(e.from_state), e.to_state, _label(e.to_state), e.on_date, e.note, e.document_id,
                            e.by.username, e.at)
                  for e in ClaimEvent.objects.filter(claim=c).select_related("by").order_by("at", "pk")]
        docs = [DocumentView(d.pk, d.kind, d.file_name, d.content_type, d.size, d.added_at)
                for d in Document.objects.filter(claim=c).defer("ciphertext", "nonce").order_by("pk")]
        annual = list(AnnualDecision.objects.filter(claim=c).order_by("fiscal_year").values(
            "fiscal_year", "amount_yen", "basis", "query_state", "decided_at"))
        payments = list(Payment.objects.filter(claim=c).order_by("paid_on", "pk").values(
            "paid_on", "amount_yen", "period", "note"))
    nxt = [(s, _label(s)) for s in sorted(MOVES[c.state]) if s != ClaimState.PAID]
    if c.state == ClaimState.NOTIFIED and c.decision_result != ClaimState.APPROVED:
        nxt = [(s, lbl) for s, lbl in nxt if s != ClaimState.PAID]
    if c.state == ClaimState.NOTIFIED and c.decision_result == ClaimState.APPROVED:
        nxt = [(s, lbl) for s, lbl in nxt if s != ClaimState.APPEALED]
    return ClaimView(
        _row(c, today), c.benefit, c.applicant_relation, c.applicant_address, c.applicant_phone, list(c.vaccinations),
        c.harm_summary, c.onset_date, c.event_date, c.decision_result, c.decision_on, c.decision_content, c.grade,
        c.approved_amount_yen, c.continuing, nxt, events, docs, [dict(a) for a in annual],
        [dict(p) for p in payments], sum(int(p["amount_yen"]) for p in payments))


def open_document(ctx: AccessContext, document_id: int) -> tuple[DocumentView, bytes]:
    """Decrypt a document for viewing or download (閲覧). Every opening is logged with the person."""
    with door(ctx, Operation.READ, resource=RESOURCE_DOC, target="") as rec:
        d = Document.objects.select_related("claim").filter(pk=document_id, claim__municipality=_m()).first()
        if d is None:
            raise InputRejected(f"書類 {document_id} はありません。 / no such document.")
        rec.targets = [d.claim.atena_no]
        rec.detail = f"relief claim {d.claim.claim_no} document {d.pk} opened"
        data = vault.open_(d.key_id, bytes(d.nonce), bytes(d.ciphertext),
                           vault.aad(d.claim.municipality, d.claim.claim_no, d.kind, d.file_name))
        if hashlib.sha256(data).hexdigest() != d.sha256:
            raise IntegrityBroken("書類の内容が記録と一致しません。 / the document does not match its digest.")
    return DocumentView(d.pk, d.kind, d.file_name, d.content_type, d.size, d.added_at), data


def amounts(ctx: AccessContext, fiscal_year: int | None = None) -> list[dict[str, Any]]:
    with door(ctx, Operation.READ, resource=RESOURCE_SETTING):
        qs = BenefitAmount.objects.filter(municipality=_m())
        if fiscal_year:
            qs = qs.filter(fiscal_year=fiscal_year)
        return [{"fiscal_year": a.fiscal_year, "benefit": a.benefit, "benefit_label": BenefitType(a.benefit).label,
                 "grade": a.grade, "unit": a.unit, "amount_yen": a.amount_yen}
                for a in qs.order_by("-fiscal_year", "benefit", "grade")]
