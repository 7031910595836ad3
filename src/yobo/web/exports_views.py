"""Approved exports (外部出力申請・承認・媒体管理簿): request, approve or reject, write a registered kind,
record the recipient's deletion report. Every call goes through ``yobo.exports`` (purpose G03)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from yobo.access.context import context_for_request
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import PURPOSE_LABELS, Purpose, parse_purpose
from yobo.exports import registry, selectors, services


def _ctx(request: HttpRequest) -> AccessContext:
    return context_for_request(request, Purpose.EXPORT)


def _denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """外部出力: pending approvals, requests, the media log and overdue deletion reports."""
    try:
        ctx = _ctx(request)
        reqs = selectors.list_requests(ctx)
        media = selectors.media_log(ctx, limit=100)
        late = selectors.overdue(ctx)
    except AccessDenied as exc:
        return _denied(request, exc)
    approver = bool(ctx.duties & services.APPROVER_DUTIES)
    return render(request, "web/exports/index.html", {
        "pending": [r for r in reqs if r.state == "pending"], "requests": reqs, "media": media, "overdue": late,
        "approver": approver, "me": ctx.username,
    })


@login_required
@require_http_methods(["GET", "POST"])
def new(request: HttpRequest) -> HttpResponse:
    """外部出力の申請: choose the kind, then the purpose, items, reason, destination and medium."""
    try:
        ctx = _ctx(request)
    except AccessDenied as exc:
        return _denied(request, exc)
    kinds = registry.all_kinds()
    code = (request.POST.get("kind") or request.GET.get("kind") or (kinds[0].code if kinds else "")).strip()
    kind = registry.get(code)
    allowed = {p.value for p in ctx.allowed_purposes()}
    purposes = [(p, f"{p} {PURPOSE_LABELS[pp]}") for p in sorted(kind.purposes if kind else [])
                if (pp := parse_purpose(p)) is not None and p in allowed]
    error = ""
    if request.method == "POST" and kind is not None:
        try:
            rid = services.request_export(
                ctx, kind=kind.code, purpose=request.POST.get("purpose", ""), items=request.POST.getlist("items"),
                reason=request.POST.get("reason", ""), destination=request.POST.get("destination", ""),
                medium=request.POST.get("medium", ""), encoding=request.POST.get("encoding", "utf-8"),
                delete_within_days=int(request.POST.get("delete_within_days") or 30),
            )
        except AccessDenied as exc:
            return _denied(request, exc)
        except (InputRejected, ValueError) as exc:
            error = str(exc)
        else:
            messages.success(request, f"外部出力申請 {rid} を受け付けました。決裁者の承認を待っています。")
            return HttpResponseRedirect(f"/exports/#request-{rid}")
    return render(request, "web/exports/new.html", {
        "kinds": kinds, "kind": kind, "purposes": purposes, "media": services.Medium.choices, "error": error,
        "post": request.POST if request.method == "POST" else None,
        "checked": set(request.POST.getlist("items")) if request.method == "POST" else set(kind.items if kind else []),
    })


@login_required
@require_POST
def decide(request: HttpRequest, request_id: int) -> HttpResponse:
    """承認・却下・取下げ (POST)."""
    try:
        ctx = _ctx(request)
        if request.POST.get("action") == "approve":
            services.approve(ctx, request_id, request.POST.get("note", ""))
            messages.success(request, f"申請 {request_id} を承認しました。")
        else:
            services.reject(ctx, request_id, request.POST.get("note", ""))
            messages.success(request, f"申請 {request_id} を却下・取下げしました。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(f"/exports/#request-{request_id}")


@login_required
@require_POST
def run(request: HttpRequest, request_id: int) -> HttpResponse:
    """Write an approved request of a kind with a registered producer; the password is shown once."""
    try:
        ctx = _ctx(request)
        res = services.run_registered(ctx, request_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect("/exports/")
    resp = render(request, "web/exports/written.html", {"res": res})
    resp["Cache-Control"] = "no-store"  # the password must not stay in a cache
    return resp


@login_required
@require_POST
def confirm_deletion(request: HttpRequest, serial: str) -> HttpResponse:
    """提供先からの消去報告を記録 (POST)."""
    try:
        services.confirm_deletion(_ctx(request), serial, reported_by=request.POST.get("reported_by", ""),
                                  note=request.POST.get("note", ""))
        messages.success(request, f"媒体 {serial} の消去を確認しました。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect("/exports/#media")


__all__: list[Any] = ["confirm_deletion", "decide", "index", "new", "run"]
