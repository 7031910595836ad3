"""Governance pages (/governance/): residents' requests (開示・訂正・利用停止), retention and deletion
runs (保存期間と削除), and the live PIA evidence (実施状況報告・変更箇所). Every call goes through
``yobo.governance`` (purposes G01, G02, A02, A01)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from yobo.access.context import context_for_request
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.governance import pia, requests, retention


def _denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)


def _guard(purpose: Purpose, back: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Build the context for ``purpose``; map refusals to the denied page and bad input to a message."""

    def wrap(fn: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        def view(request: HttpRequest, *args: Any, **kw: Any) -> HttpResponse:
            try:
                ctx = context_for_request(request, purpose)
                return fn(request, ctx, *args, **kw)
            except AccessDenied as exc:
                return _denied(request, exc)
            except InputRejected as exc:
                messages.error(request, str(exc))
                return HttpResponseRedirect(back)

        view.__name__ = fn.__name__
        view.__doc__ = fn.__doc__
        return view

    return wrap


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "web/governance/index.html", {})


# --- 開示・訂正・利用停止請求 ---------------------------------------------------------------------------


@_guard(Purpose.DISCLOSURE_REQUEST, "/governance/requests/")
def request_list(request: HttpRequest, ctx: Any) -> HttpResponse:
    if request.method == "POST":
        rid = requests.register(ctx, kind=request.POST.get("kind", ""), atena_no=request.POST.get("atena", ""),
                                identity_check=request.POST.get("identity_check", ""),
                                requester=request.POST.get("requester", "本人"),
                                detail=request.POST.get("detail", ""))
        messages.success(request, f"請求 {rid} を受け付けました。")
        return HttpResponseRedirect(f"/governance/requests/{rid}/")
    return render(request, "web/governance/requests.html", {"rows": requests.list_requests(ctx)})


@_guard(Purpose.DISCLOSURE_REQUEST, "/governance/requests/")
def request_detail(request: HttpRequest, ctx: Any, request_id: int) -> HttpResponse:
    if request.method == "POST":
        act = request.POST.get("action")
        if act == "decide":
            requests.decide(ctx, request_id, request.POST.get("decision", ""), request.POST.get("reason", ""))
        elif act == "close":
            requests.close(ctx, request_id)
        elif act == "correct":
            requests.record_correction(ctx, request_id, item=request.POST.get("item", ""),
                                       before=request.POST.get("before", ""), after=request.POST.get("after", ""),
                                       decision=request.POST.get("decision", ""),
                                       reason=request.POST.get("reason", ""))
        elif act == "suspend":
            requests.decide_suspension(ctx, request_id, grant=request.POST.get("grant") == "1",
                                       reason=request.POST.get("reason", ""), scope=request.POST.get("scope", ""))
        messages.success(request, "記録しました。")
        return HttpResponseRedirect(f"/governance/requests/{request_id}/")
    return render(request, "web/governance/request.html", {"r": requests.get(ctx, request_id)})


@_guard(Purpose.DISCLOSURE_REQUEST, "/governance/requests/")
def disclosure(request: HttpRequest, ctx: Any, request_id: int, fmt: str) -> HttpResponse:
    """The disclosure set as PDF or JSON (downloaded to the staff terminal, handed to the resident)."""
    tmp = Path(tempfile.mkdtemp(prefix="yobo-disclosure-"))
    jpath, ppath, _ = requests.write_disclosure(ctx, request_id, tmp)
    path = ppath if fmt == "pdf" else jpath
    data = path.read_bytes()
    for p in (jpath, ppath):
        p.unlink(missing_ok=True)
    tmp.rmdir()
    resp = HttpResponse(data, content_type="application/pdf" if fmt == "pdf" else "application/json")
    resp["Content-Disposition"] = f'attachment; filename="{path.name}"'
    resp["Cache-Control"] = "no-store"
    return resp


# --- 保存期間と削除 ------------------------------------------------------------------------------------


@_guard(Purpose.RETENTION, "/governance/retention/")
def retention_page(request: HttpRequest, ctx: Any) -> HttpResponse:
    if request.method == "POST":
        act = request.POST.get("action")
        if act == "set":
            retention.set_rule(ctx, request.POST.get("record_type", ""), int(request.POST.get("years") or 0),
                               request.POST.get("basis", ""))
        elif act == "plan":
            retention.plan(ctx, note=request.POST.get("note", ""))
        elif act in ("approve", "reject", "execute"):
            run_id = int(request.POST.get("run_id") or 0)
            {"approve": retention.approve, "reject": retention.reject, "execute": retention.execute}[act](ctx, run_id)
        messages.success(request, "記録しました。")
        return HttpResponseRedirect("/governance/retention/")
    return render(request, "web/governance/retention.html", {
        "rules": retention.rules(ctx), "due": retention.due(ctx), "runs": retention.runs(ctx)})


# --- PIA ---------------------------------------------------------------------------------------------


@_guard(Purpose.AUDIT_REVIEW, "/governance/")
def pia_page(request: HttpRequest, ctx: Any) -> HttpResponse:
    today = timezone.localdate()
    d_from = _day(request.GET.get("from")) or today - timedelta(days=365)
    d_to = _day(request.GET.get("to")) or today
    rep = pia.build_report(ctx, d_from, d_to)
    fmt = request.GET.get("format")
    if fmt == "json":
        resp = HttpResponse(json.dumps(rep, ensure_ascii=False, indent=1, default=str),
                            content_type="application/json")
        resp["Content-Disposition"] = f'attachment; filename="pia-{d_to}.json"'
        return resp
    if fmt == "pdf":
        tmp = Path(tempfile.mkdtemp(prefix="yobo-pia-"))
        path = tmp / f"pia-{d_to}.pdf"
        pia.write_pdf(rep, path)
        data = path.read_bytes()
        path.unlink()
        tmp.rmdir()
        resp = HttpResponse(data, content_type="application/pdf")
        resp["Content-Disposition"] = f'attachment; filename="{path.name}"'
        return resp
    return render(request, "web/governance/pia.html", {"rep": rep, "from": d_from, "to": d_to})


@_guard(Purpose.ADMINISTRATION, "/governance/changes/")
def changes_page(request: HttpRequest, ctx: Any) -> HttpResponse:
    if request.method == "POST":
        act = request.POST.get("action")
        if act == "detect":
            ids = pia.detect_changes(ctx)
            messages.success(request, f"{len(ids)}件の変更を記録しました。")
        elif act == "assess":
            warn = pia.assess_change(ctx, int(request.POST.get("id") or 0),
                                     important=request.POST.get("important") == "1",
                                     submission=request.POST.get("submission", ""),
                                     explanation=request.POST.get("explanation", ""))
            if warn:
                messages.warning(request, warn)
        return HttpResponseRedirect("/governance/changes/")
    return render(request, "web/governance/changes.html", {"changes": pia.changes(ctx)})


def _day(s: str | None) -> date | None:
    try:
        return date.fromisoformat(s) if s else None
    except ValueError:
        return None


__all__ = ["changes_page", "disclosure", "index", "pia_page", "request_detail", "request_list", "require_POST",
           "retention_page"]
