"""What relief plugs into governance (decision 092): the record type of relief claims and the person's
disclosure part.

``relief.claim`` 健康被害救済給付の請求・審査・支給の記録 — kept long: a pension (障害年金, 障害児養育年金,
遺族年金) is paid for decades, and a later claim (再請求, 遺族給付 after a death) is judged against the
earlier file. A claim falls due only when it is closed (支給済, 取下げ, or 否認 and notified) and its last
activity — the state change, the last payment, the last yearly amount decision — is older than the
cutoff: 30 years by default, at least 10. The claim goes with its events, documents (sealed in the
database), yearly decisions and payments, in one DELETE per table.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation
from yobo.governance import registry

from .models import AnnualDecision, Claim, ClaimEvent, ClaimState, Document, Payment
from .services import RESOURCE

BASIS = "給付終了後30年 (年金は最後の支給から; 再請求・遺族給付の審査に必要) — 市の定め"
CLOSED = Q(state__in=[ClaimState.PAID, ClaimState.WITHDRAWN]) | (
    Q(state__in=[ClaimState.NOTIFIED, ClaimState.REJECTED]) & ~Q(decision_result=ClaimState.APPROVED))


def _m() -> str:
    from django.conf import settings

    return str(settings.MUNICIPALITY_CODE)


def _start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.get_current_timezone())


def _due(cutoff: date) -> QuerySet[Claim]:
    return (Claim.objects.filter(CLOSED, municipality=_m(), state_since__lt=cutoff)
            .exclude(Exists(Payment.objects.filter(claim_id=OuterRef("pk"), paid_on__gte=cutoff)))
            .exclude(Exists(AnnualDecision.objects.filter(claim_id=OuterRef("pk"), decided_at__gte=_start(cutoff))))
            .exclude(Exists(ClaimEvent.objects.filter(claim_id=OuterRef("pk"), on_date__gte=cutoff))))


def _purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource=RESOURCE, detail=f"retention before={cutoff}") as rec:
        ids = _due(cutoff).values("id")
        parts = {}
        for name, model in (("events", ClaimEvent), ("payments", Payment), ("annual", AnnualDecision),
                            ("documents", Document)):
            parts[name] = int(model.objects.filter(claim_id__in=ids)._raw_delete(model.objects.db))  # type: ignore[attr-defined]
        n = int(_due(cutoff)._raw_delete(Claim.objects.db))
        rec.detail = f"retention delete before={cutoff} claims={n} " + " ".join(f"{k}={v}" for k, v in parts.items())
    return n


def _part(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    """The claims where the person is the one harmed or the applicant: the claim, its course, its
    documents (listed, not opened), yearly decisions and payments."""
    a = str(atena_no).strip()
    out: list[dict[str, Any]] = []
    with door(ctx, Operation.READ, resource=RESOURCE, target=a, detail="disclosure relief"):
        for c in Claim.objects.filter(Q(atena_no=a) | Q(applicant_atena_no=a), municipality=_m()).order_by("pk"):
            out.append({
                "record": "請求", "claim_no": c.claim_no, "role": "被接種者" if c.atena_no == a else "請求者",
                "benefit": c.get_benefit_display(), "applicant": c.applicant_name, "relation": c.applicant_relation,
                "received_on": c.received_on, "state": c.get_state_display(), "state_since": c.state_since,
                "harm_summary": c.harm_summary, "onset_date": c.onset_date, "decision_result": c.decision_result,
                "decision_on": c.decision_on, "decision_content": c.decision_content, "grade": c.grade,
                "approved_amount_yen": c.approved_amount_yen,
                "events": "; ".join(f"{e.on_date} {e.from_state}→{e.to_state} {e.note}".strip()
                                    for e in c.events.order_by("at", "pk")),
                "documents": "; ".join(f"{d.kind} {d.file_name}" for d in
                                       c.documents.defer("ciphertext", "nonce").order_by("pk")),
                "annual": "; ".join(f"{y.fiscal_year}年度 {y.amount_yen}円" for y in c.annual.order_by("fiscal_year")),
                "payments": "; ".join(f"{p.paid_on} {p.amount_yen}円 {p.period}".strip()
                                      for p in c.payments.order_by("paid_on", "pk")),
            })
    return out


def register() -> None:
    registry.register_record_type(registry.RecordType(
        "relief.claim", "健康被害救済給付の請求・審査・支給の記録", 30, BASIS, "delete",
        lambda ctx, cutoff: int(_due(cutoff).count()), _purge, min_years=10,
        count_held=lambda ctx: int(Claim.objects.filter(municipality=_m()).count())))
    registry.register_disclosure(registry.DisclosurePart(
        "relief", "健康被害救済給付", _part, order=70))
