"""Health-damage relief (健康被害救済給付) pages, purpose R01: the status list by deadline, reception,
one claim with its history and the form for its next step, documents (encrypted; each opening
logged), payments and yearly decisions."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yobo.access.context import context_for_request
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.core.wareki import DateFormatError, parse_date
from yobo.relief import selectors, services
from yobo.relief.services import BenefitType, ClaimState

VACCINES = ("HIB", "PCV", "HEPB", "ROTA", "DPT-IPV-HIB", "DPT-IPV", "BCG", "MR1", "MR2", "VAR", "JE1", "JE2", "DT",
            "HPV", "FLU-B", "PPSV-B", "COVID-B", "HZ-B")


def _ctx(request: HttpRequest) -> AccessContext:
    return context_for_request(request, Purpose.RELIEF)


def _denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)


def _date(raw: str, required: bool = False) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        if required:
            raise InputRejected("日付を入力してください。 / enter the date.")
        return None
    try:
        return parse_date(raw)
    except DateFormatError as exc:
        raise InputRejected(str(exc)) from None


@login_required
@require_GET
def claim_list(request: HttpRequest) -> HttpResponse:
    try:
        ctx = _ctx(request)
        show_all = request.GET.get("all") == "1"
        rows = selectors.status_list(ctx, open_only=not show_all)
    except AccessDenied as exc:
        return _denied(request, exc)
    return render(request, "web/relief/list.html", {"rows": rows, "show_all": show_all})


@login_required
@require_http_methods(["GET", "POST"])
def claim_new(request: HttpRequest) -> HttpResponse:
    try:
        ctx = _ctx(request)
    except AccessDenied as exc:
        return _denied(request, exc)
    error = ""
    data: dict[str, Any] = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        try:
            vaccinations = []
            for i in range(1, 4):
                v, d = data.get(f"vaccine{i}", "").strip(), data.get(f"vdate{i}", "").strip()
                if v or d:
                    day = _date(d, required=True)
                    assert day is not None  # noqa: S101  (required)
                    vaccinations.append(services.Vaccination(v.upper(), day))
            cid = services.receive(
                ctx, data.get("atena", "").strip(), data.get("benefit", ""),
                services.Applicant(data.get("applicant", ""), data.get("relation", ""), data.get("address", ""),
                                   data.get("phone", "")),
                vaccinations, received_on=_date(data.get("received_on", "")),
                harm_summary=data.get("harm_summary", ""), onset_date=_date(data.get("onset_date", "")),
                event_date=_date(data.get("event_date", "")))
            messages.success(request, "請求を受理しました。")
            return HttpResponseRedirect(f"/relief/{cid}/")
        except AccessDenied as exc:
            return _denied(request, exc)
        except InputRejected as exc:
            error = str(exc)
    return render(request, "web/relief/new.html", {
        "error": error, "data": data, "benefits": BenefitType.choices, "vaccines": VACCINES, "rows": (1, 2, 3)},
        status=400 if error else 200)


@login_required
@require_GET
def claim_detail(request: HttpRequest, claim_id: int) -> HttpResponse:
    try:
        c = selectors.claim(_ctx(request), claim_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        return render(request, "web/relief/list.html", {"rows": [], "error": str(exc)}, status=404)
    can_pay = c.decision_result == ClaimState.APPROVED and c.row.state in (ClaimState.NOTIFIED, ClaimState.PAID)
    return render(request, "web/relief/detail.html", {"c": c, "can_pay": can_pay, "today": timezone.localdate()})


@login_required
@require_POST
def claim_move(request: HttpRequest, claim_id: int) -> HttpResponse:
    p = request.POST
    try:
        ctx = _ctx(request)
        doc_id = None
        upload = request.FILES.get("document")
        if upload is not None:
            doc_id = services.attach(ctx, claim_id, p.get("document_kind") or "議事録・通知", upload.name or "document",
                                     upload.read(), upload.content_type or "")
        services.move(ctx, claim_id, p.get("state", ""), on=_date(p.get("on", "")), note=p.get("note", ""),
                      amount_yen=p.get("amount") or None, grade=p.get("grade", ""), document_id=doc_id)
        messages.success(request, f"「{ClaimState(p.get('state', '')).label}」を記録しました。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except (InputRejected, ValueError) as exc:
        messages.error(request, str(exc) if isinstance(exc, InputRejected) else "状態が正しくありません。")
    return HttpResponseRedirect(f"/relief/{claim_id}/")


@login_required
@require_POST
def claim_attach(request: HttpRequest, claim_id: int) -> HttpResponse:
    try:
        upload = request.FILES.get("file")
        if upload is None:
            raise InputRejected("ファイルを選んでください。 / choose a file.")
        services.attach(_ctx(request), claim_id, request.POST.get("kind", ""), upload.name or "document",
                        upload.read(), upload.content_type or "")
        messages.success(request, "書類を添付しました（暗号化して保管）。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(f"/relief/{claim_id}/")


@login_required
@require_POST
def claim_pay(request: HttpRequest, claim_id: int) -> HttpResponse:
    p = request.POST
    try:
        paid_on = _date(p.get("paid_on", ""), required=True)
        assert paid_on is not None  # noqa: S101  (required)
        services.record_payment(_ctx(request), claim_id, paid_on, p.get("amount", ""), period=p.get("period", ""))
        messages.success(request, "支給を記録しました。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(f"/relief/{claim_id}/")


@login_required
@require_POST
def claim_year(request: HttpRequest, claim_id: int) -> HttpResponse:
    p = request.POST
    try:
        fy = int(p.get("fiscal_year", "0") or 0)
        services.decide_year(_ctx(request), claim_id, fy, amount_yen=p.get("amount") or None,
                             basis=p.get("basis", ""), query_pending=p.get("query_pending") == "1")
        messages.success(request, f"{fy}年度の給付額を決定しました。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except (InputRejected, ValueError) as exc:
        messages.error(request, str(exc) if isinstance(exc, InputRejected) else "年度が正しくありません。")
    return HttpResponseRedirect(f"/relief/{claim_id}/")


@login_required
@require_GET
def document(request: HttpRequest, document_id: int) -> HttpResponse:
    try:
        view, data = selectors.open_document(_ctx(request), document_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        return HttpResponse(str(exc), status=404, content_type="text/plain; charset=utf-8")
    from urllib.parse import quote

    resp = HttpResponse(data, content_type=view.content_type or "application/octet-stream")
    resp["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(view.file_name)}"
    resp["Cache-Control"] = "no-store"
    return resp
