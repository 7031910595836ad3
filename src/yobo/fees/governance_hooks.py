"""What fees plugs into governance (decision 092): record types and the person's disclosure part.

All three are money records of the city: kept 5 years (地方自治法第236条, the 5-year limitation of
the city's monetary claims and debts), a city may lengthen them.

- ``fees.status`` 税・福祉情報 — a person's tax/welfare status row falls due 5 years after it was
  last refreshed (an import or an exchange answer updates it in place).
- ``fees.decision`` 実費徴収免除の決定 — a decision (not one still pending) falls due 5 years after it
  was made, with the tax queries it sent (they are part of it).
- ``fees.claim`` 委託料請求と明細 — a clinic claim falls due 5 years after it was built, with its
  lines (each names a dose and its person); the payment run, which names clinics only, stays.

The person's part shows their status rows, their decisions (result, reason, queries) **without** the
household basis, which names other members' tax status, and the claim lines about their doses.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation
from yobo.governance import registry

from . import selectors
from .models import ClaimLine, ClinicClaim, DecisionResult, ExemptionDecision, StatusRecord, TaxQuery
from .payments import RESOURCE_CLAIM
from .services import RESOURCE_DECISION, RESOURCE_STATUS

BASIS = "地方自治法第236条 (金銭債権の時効 5年)"


def _m() -> str:
    from django.conf import settings

    return str(settings.MUNICIPALITY_CODE)


def _start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.get_current_timezone())


def _status_due(cutoff: date) -> QuerySet[StatusRecord]:
    return StatusRecord.objects.filter(municipality=_m(), updated_at__lt=_start(cutoff))


def _decisions_due(cutoff: date) -> QuerySet[ExemptionDecision]:
    return ExemptionDecision.objects.filter(municipality=_m(), decided_at__lt=_start(cutoff)).exclude(
        result=DecisionResult.PENDING)


def _claims_due(cutoff: date) -> QuerySet[ClinicClaim]:
    return ClinicClaim.objects.filter(municipality=_m(), built_at__lt=_start(cutoff))


def _status_purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource=RESOURCE_STATUS, detail=f"retention before={cutoff}") as rec:
        qs = _status_due(cutoff)
        n = int(qs._raw_delete(qs.db))  # one DELETE with the filter; nothing refers to these rows
        rec.detail = f"retention delete before={cutoff} n={n}"
    return n


def _decision_purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource=RESOURCE_DECISION, detail=f"retention before={cutoff}") as rec:
        queries = int(TaxQuery.objects.filter(decision_id__in=_decisions_due(cutoff).values("id"))._raw_delete(
            TaxQuery.objects.db))
        n = int(_decisions_due(cutoff)._raw_delete(ExemptionDecision.objects.db))
        rec.detail = f"retention delete before={cutoff} decisions={n} tax_queries={queries}"
    return n


def _claim_purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource=RESOURCE_CLAIM, detail=f"retention before={cutoff}") as rec:
        lines = int(ClaimLine.objects.filter(claim_id__in=_claims_due(cutoff).values("id"))._raw_delete(
            ClaimLine.objects.db))
        n = int(_claims_due(cutoff)._raw_delete(ClinicClaim.objects.db))
        rec.detail = f"retention delete before={cutoff} claims={n} lines={lines}"
    return n


def _part(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    a = str(atena_no).strip()
    out: list[dict[str, Any]] = []
    for d in reversed(selectors.decisions(ctx, atena_no=a, limit=1000)):
        out.append({"record": "実費徴収免除の決定", "decision_no": d.decision_no, "vaccine": d.vaccine,
                    "applied_on": d.applied_on, "fiscal_year": d.fiscal_year, "result": d.result_label,
                    "category": d.category_label, "reason": d.reason, "amount_due_yen": d.amount_due_yen,
                    "decided_at": d.decided_at, "certificates": d.certificate_count,
                    "tax_queries": "; ".join(f"{q.tax_year}年度 {q.state_label}" for q in d.queries)})
    with door(ctx, Operation.READ, resource=RESOURCE_STATUS, target=a, detail="disclosure status"):
        for s in StatusRecord.objects.filter(municipality=_m(), atena_no=a).order_by("kind", "key"):
            out.append({"record": "税・福祉情報", "kind": s.kind, "tax_year": s.tax_year, "tax_status": s.tax_status,
                        "valid_from": s.valid_from, "valid_until": s.valid_until, "source": s.source,
                        "updated_at": s.updated_at})
    with door(ctx, Operation.READ, resource=RESOURCE_CLAIM, target=a, detail="disclosure claim lines"):
        for r in ClaimLine.objects.filter(claim__municipality=_m(), atena_no=a).order_by("dose_date", "id").values(
                "claim__claim_no", "claim__claim_month", "claim__clinic_code", "vaccine", "dose_date", "included",
                "reason"):
            out.append({"record": "接種委託料の請求明細", "claim_no": r["claim__claim_no"],
                        "claim_month": r["claim__claim_month"], "clinic": r["claim__clinic_code"],
                        "vaccine": r["vaccine"], "dose_date": r["dose_date"], "included": r["included"],
                        "reason": r["reason"]})
    return out


def register() -> None:
    registry.register_record_type(registry.RecordType(
        "fees.status", "税・福祉情報 (免除判定用)", 5, BASIS + "; 最後の更新から", "delete",
        lambda ctx, cutoff: int(_status_due(cutoff).count()), _status_purge, min_years=1,
        count_held=lambda ctx: int(StatusRecord.objects.filter(municipality=_m()).count())))
    registry.register_record_type(registry.RecordType(
        "fees.decision", "実費徴収免除の決定と税情報照会", 5, BASIS, "delete",
        lambda ctx, cutoff: int(_decisions_due(cutoff).count()), _decision_purge, min_years=5,
        count_held=lambda ctx: int(ExemptionDecision.objects.filter(municipality=_m()).count())))
    registry.register_record_type(registry.RecordType(
        "fees.claim", "接種委託料の請求と明細", 5, BASIS, "delete",
        lambda ctx, cutoff: int(_claims_due(cutoff).count()), _claim_purge, min_years=5,
        count_held=lambda ctx: int(ClinicClaim.objects.filter(municipality=_m()).count())))
    registry.register_disclosure(registry.DisclosurePart(
        "fees", "実費徴収の免除・税福祉情報・委託料請求", _part, order=60))
