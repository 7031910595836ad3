"""Reads of fee exemption (purpose F01): decisions, open tax queries, fee settings, status imports.
Every function takes an ``AccessContext`` and runs inside the audit door.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation

from .models import DecisionResult, ExemptionDecision, FeeCategory, FeeSetting, QueryState, StatusImport, TaxQuery
from .services import RESOURCE_DECISION, RESOURCE_QUERY, RESOURCE_SETTING, RESOURCE_STATUS


def _m() -> str:
    return settings.MUNICIPALITY_CODE


@dataclass(frozen=True)
class QueryView:
    id: int
    atena_no: str
    tax_year: int
    state: str
    state_label: str
    exchange_ref: str
    answer_status: int | None
    created_at: datetime


@dataclass(frozen=True)
class DecisionView:
    id: int
    decision_no: str
    atena_no: str
    household_no: str
    vaccine: str
    applied_on: date
    fiscal_year: int
    tax_year: int
    result: str
    result_label: str
    category: str
    category_label: str
    reason: str
    basis: list[dict[str, Any]]
    history: list[dict[str, Any]]
    amount_due_yen: int | None
    decided_at: datetime
    certificate_count: int
    queries: list[QueryView]

    @property
    def exempt(self) -> bool:
        return self.result == DecisionResult.EXEMPT


def _qview(q: TaxQuery) -> QueryView:
    return QueryView(q.pk, q.atena_no, q.tax_year, q.state, QueryState(q.state).label, q.exchange_ref,
                     q.answer_status, q.created_at)


def _dview(d: ExemptionDecision) -> DecisionView:
    return DecisionView(
        d.pk, d.decision_no, d.atena_no, d.household_no, d.vaccine, d.applied_on, d.fiscal_year, d.tax_year, d.result,
        DecisionResult(d.result).label, d.category, FeeCategory(d.category).label, d.reason, d.basis, d.history,
        d.amount_due_yen, d.decided_at, d.certificate_count, [_qview(q) for q in d.queries.order_by("pk")],
    )


def decision(ctx: AccessContext, decision_id: int) -> DecisionView:
    with door(ctx, Operation.READ, resource=RESOURCE_DECISION) as rec:
        d = ExemptionDecision.objects.filter(municipality=_m(), pk=decision_id).first()
        if d is None:
            raise InputRejected(f"免除決定 {decision_id} はありません。 / no such decision.")
        rec.targets = [d.atena_no]
        return _dview(d)


def decisions(ctx: AccessContext, *, atena_no: str = "", result: str = "", limit: int = 100) -> list[DecisionView]:
    """Recent decisions (newest first), optionally of one person or one result (e.g. ``pending``)."""
    with door(ctx, Operation.SEARCH, resource=RESOURCE_DECISION) as rec:
        qs = ExemptionDecision.objects.filter(municipality=_m())
        if atena_no:
            qs = qs.filter(atena_no=atena_no.strip())
        if result:
            qs = qs.filter(result=result)
        rows = list(qs.order_by("-decided_at", "-pk")[:limit])
        rec.targets = sorted({d.atena_no for d in rows}) or [""]
        return [_dview(d) for d in rows]


def pending_queries(ctx: AccessContext) -> list[QueryView]:
    """Tax queries not yet answered (照会中の一覧), oldest first."""
    with door(ctx, Operation.READ, resource=RESOURCE_QUERY) as rec:
        rows = list(TaxQuery.objects.filter(municipality=_m()).exclude(state=QueryState.ANSWERED).order_by("pk"))
        rec.targets = [q.atena_no for q in rows] or [""]
        return [_qview(q) for q in rows]


def tax_status_for_exchange(ctx: AccessContext, atena_no: str,
                            params: dict[str, Any]) -> list[dict[str, object]] | None:
    """The resident-tax status this city assessed for ``params["tax_year"]`` (地方税関係情報), for an
    answer through the exchange (decision 083; called with the exchange's X02 context). Only what
    this city's own tax system reported (source ``import``), never an answer this city received
    from elsewhere. None: nothing held, so nothing is released."""
    from .models import StatusRecord
    from .statusfile import StatusKind

    try:
        year = int(str(params.get("tax_year")))
    except ValueError:
        return None
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=RESOURCE_STATUS, target=a, detail=f"tax status {year} for exchange"):
        row = (StatusRecord.objects.filter(municipality=_m(), atena_no=a, kind=int(StatusKind.RESIDENT_TAX),
                                           tax_year=year, source="import", tax_status__isnull=False)
               .values_list("tax_status", flat=True).first())
    return None if row is None else [{"tax_year": year, "tax_status": int(row)}]


@dataclass(frozen=True)
class FeeView:
    fiscal_year: int
    vaccine: str
    category: str
    category_label: str
    amount_yen: int


def fees(ctx: AccessContext, fiscal_year: int | None = None) -> list[FeeView]:
    """Fee settings (no personal data; read through the door for the purpose check)."""
    with door(ctx, Operation.READ, resource=RESOURCE_SETTING):
        qs = FeeSetting.objects.filter(municipality=_m())
        if fiscal_year:
            qs = qs.filter(fiscal_year=fiscal_year)
        return [FeeView(f.fiscal_year, f.vaccine, f.category, FeeCategory(f.category).label, f.amount_yen)
                for f in qs.order_by("-fiscal_year", "vaccine", "category")]


def status_imports(ctx: AccessContext, limit: int = 20) -> list[dict[str, Any]]:
    """Recent tax/welfare imports (counts only)."""
    with door(ctx, Operation.READ, resource=RESOURCE_STATUS):
        return [dict(r) for r in StatusImport.objects.filter(municipality=_m()).order_by("-started_at", "-pk").values(
            "id", "status", "file_name", "started_at", "rows_read", "inserted", "updated", "unchanged", "problems",
        )[:limit]]
