"""Fee exemption (実費徴収の免除, purpose F01) and clinic payments (接種委託料, purpose F02) pages."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from yobo.access.context import context_for_request
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.core.wareki import DateFormatError, parse_date
from yobo.fees import payments, selectors, services

from .relief_views import VACCINES


def _f01(request: HttpRequest) -> AccessContext:
    return context_for_request(request, Purpose.FEE_EXEMPTION)


def _f02(request: HttpRequest) -> AccessContext:
    return context_for_request(request, Purpose.CLINIC_PAYMENT)


def _denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)


def _pdf(path: Path, name: str) -> HttpResponse:
    resp = HttpResponse(path.read_bytes(), content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="{name}"'
    resp["Cache-Control"] = "no-store"
    return resp


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """免除の可否確認: the application form, decisions pending a query, open queries."""
    try:
        ctx = _f01(request)
        pending = selectors.decisions(ctx, result="pending")
        queries = selectors.pending_queries(ctx)
    except AccessDenied as exc:
        return _denied(request, exc)
    return render(request, "web/fees/index.html", {"pending": pending, "queries": queries, "vaccines": VACCINES,
                                                    "today": timezone.localdate()})


@login_required
@require_POST
def check(request: HttpRequest) -> HttpResponse:
    p = request.POST
    try:
        ctx = _f01(request)
        raw = (p.get("applied_on") or "").strip()
        on = parse_date(raw) if raw else None
        did = services.check_exemption(ctx, p.get("atena", ""), p.get("vaccine", ""), on)
        return HttpResponseRedirect(f"/fees/decisions/{did}/")
    except AccessDenied as exc:
        return _denied(request, exc)
    except (InputRejected, DateFormatError) as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect("/fees/")


@login_required
@require_GET
def decision(request: HttpRequest, decision_id: int) -> HttpResponse:
    try:
        d = selectors.decision(_f01(request), decision_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect("/fees/")
    return render(request, "web/fees/decision.html", {"d": d})


@login_required
@require_POST
def certificate(request: HttpRequest, decision_id: int) -> HttpResponse:
    try:
        ctx = _f01(request)
        with tempfile.TemporaryDirectory() as tmp:
            path = services.issue_certificate(ctx, decision_id, Path(tmp))
            return _pdf(path, path.name)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(f"/fees/decisions/{decision_id}/")


@login_required
@require_POST
def answer(request: HttpRequest, query_id: int) -> HttpResponse:
    try:
        did = services.answer_query(_f01(request), query_id, int(request.POST.get("tax_status", "0") or 0))
        messages.success(request, "照会結果を登録し、免除の可否を判定し直しました。")
        return HttpResponseRedirect(f"/fees/decisions/{did}/")
    except AccessDenied as exc:
        return _denied(request, exc)
    except (InputRejected, ValueError) as exc:
        messages.error(request, str(exc) if isinstance(exc, InputRejected) else "課税区分を選んでください。")
    return HttpResponseRedirect("/fees/")


# --- clinic payments (F02) ---------------------------------------------------------------------------


def _default_month() -> str:
    today = timezone.localdate()
    return f"{today.year}{today.month:02d}"


@login_required
@require_GET
def claims(request: HttpRequest) -> HttpResponse:
    month = (request.GET.get("month") or _default_month()).replace("-", "")
    error = ""
    rows: list[payments.ClaimView] = []
    try:
        ctx = _f02(request)
        rows = payments.claims(ctx, month)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        error = str(exc)
    total = sum(c.total_yen for c in rows if c.state == "approved")
    return render(request, "web/fees/claims.html", {"month": month, "rows": rows, "error": error,
                                                    "approved_total": total, "me": request.user.get_username(),
                                                    "today": timezone.localdate()})


@login_required
@require_POST
def claims_build(request: HttpRequest) -> HttpResponse:
    month = request.POST.get("month", "")
    try:
        s = payments.build_claims(_f02(request), month)
        messages.success(request, f"請求を作成しました: 支払対象 {s.included}件 / 除外 {s.excluded}件 / "
                                  f"合計 {s.total_yen:,}円")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(f"/fees/claims/?month={month.replace('-', '')}")


@login_required
@require_POST
def claim_approve(request: HttpRequest, claim_id: int) -> HttpResponse:
    try:
        payments.approve(_f02(request), claim_id)
        messages.success(request, "承認しました。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(f"/fees/claims/?month={request.POST.get('month', '')}")


@login_required
@require_POST
def claims_pay(request: HttpRequest) -> HttpResponse:
    month = request.POST.get("month", "")
    try:
        pay_on = parse_date(request.POST.get("pay_on", ""))
        out = Path(settings.VAR_DIR) / "payments"
        r = payments.pay(_f02(request), month, pay_on, out)
        messages.success(request, f"支払処理をしました: {r.clinics}医療機関 {r.total_yen:,}円。"
                                  f"振込ファイル {r.transfer}")
    except AccessDenied as exc:
        return _denied(request, exc)
    except (InputRejected, DateFormatError) as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(f"/fees/claims/?month={month}")


@login_required
@require_GET
def claim_statement(request: HttpRequest, claim_id: int) -> HttpResponse:
    try:
        ctx = _f02(request)
        with tempfile.TemporaryDirectory() as tmp:
            path = payments.statement_pdf(ctx, claim_id, Path(tmp))
            return _pdf(path, path.name)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        return HttpResponse(str(exc), status=404, content_type="text/plain; charset=utf-8")
