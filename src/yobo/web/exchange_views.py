"""情報連携の画面: send a query for a moved-in person and follow it, see the histories received for a
person, review the answers held for protected persons (支援措置対象者), receive now, and see the
hub's provision records that concern the city.

Each page acts under its own purpose: X01 情報照会 (queries, results, records), X02 情報提供
(review queue, receive). Every read and write goes through ``yobo.exchange`` services and
selectors (and so through the door).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yobo.access.context import context_for_request
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.exchange import selectors, services
from yobo.exchange.client import HubRefused, HubUnavailable
from yobo.exchange.crypto import MessageRejected
from yobo.exchange.items import ITEM_SETS

HUB_DOWN = "中継サーバーに接続できません。照会は保存され、接続が戻りしだい自動で再送されます。"


def _denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)


def _digits(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


class QueryForm(forms.Form):
    atena = forms.RegexField(label="宛名番号（転入者）", regex=r"^\s*[0-9０-９]{1,15}\s*$",
                             error_messages={"invalid": "宛名番号は15桁以内の数字です。 / up to 15 digits."})
    provider = forms.RegexField(label="照会先の地方公共団体コード（転入前）", regex=r"^\s*[0-9０-９]{6}\s*$",
                                error_messages={"invalid": "6桁の地方公共団体コードを入力してください。 / 6 digits."})
    item_set = forms.ChoiceField(label="照会する情報", choices=[(k, v.label) for k, v in ITEM_SETS.items()])

    def clean_atena(self) -> str:
        return _digits(self.cleaned_data["atena"])

    def clean_provider(self) -> str:
        return _digits(self.cleaned_data["provider"])


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """照会一覧と照会の送信 (X01)."""
    try:
        ctx = context_for_request(request, Purpose.EXCHANGE_QUERY)
    except AccessDenied as exc:
        return _denied(request, exc)
    form = QueryForm(request.POST or None, initial={"atena": request.GET.get("atena", "")})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            qid = services.send_query(ctx, d["atena"], d["provider"], d["item_set"])
            q = selectors.query(ctx, qid)
            if q is not None and q.state == "refused":
                messages.error(request, f"照会は拒否されました: {q.last_error}")
            elif q is not None and q.state == "queued":
                messages.warning(request, HUB_DOWN)
            else:
                messages.success(request, "照会を送信しました。回答を受信すると状況が「回答あり」になります。")
            return HttpResponseRedirect(f"/exchange/person/{d['atena']}/")
        except AccessDenied as exc:
            # Usually the linkage code (符号) is not yet acquired and this staff member may not read
            # the My Number to acquire it (M01 + 個人番号の参照権限). Logged by the door already.
            form.add_error(None, f"{exc} 符号が未取得の場合、取得には個人番号の登録権限が必要です。"
                                 "副本登録・符号取得の担当者に依頼してください。")
        except InputRejected as exc:
            form.add_error(None, str(exc))
        except HubUnavailable:
            form.add_error(None, HUB_DOWN)
    try:
        rows = selectors.queries(ctx, limit=100)
        waiting = selectors.outbox(ctx)
    except AccessDenied as exc:
        return _denied(request, exc)
    return render(request, "web/exchange/index.html", {"form": form, "queries": rows, "waiting": waiting})


@login_required
@require_GET
def person(request: HttpRequest, atena_no: str) -> HttpResponse:
    """一人の照会と受信した接種歴 (X01). Asked by htmx (the person page's slot), the fragment only;
    staff without the exchange duty get an empty slot, not a denied entry per person page."""
    slot = request.headers.get("HX-Request") == "true"
    try:
        ctx = context_for_request(request, Purpose.EXCHANGE_QUERY)
        if slot and Purpose.EXCHANGE_QUERY not in ctx.allowed_purposes():
            return HttpResponse("")
        rows = selectors.queries(ctx, atena_no=atena_no)
    except AccessDenied as exc:
        return _denied(request, exc)
    if slot:
        return render(request, "web/exchange/_person_slot.html", {"atena_no": atena_no, "queries": rows})
    return render(request, "web/exchange/person.html", {"atena_no": atena_no, "queries": rows,
                                                          "form": QueryForm(initial={"atena": atena_no})})


@login_required
@require_GET
def held(request: HttpRequest) -> HttpResponse:
    """確認待ちの回答 (支援措置対象者への照会; X02)."""
    try:
        ctx = context_for_request(request, Purpose.EXCHANGE_PROVISION)
        rows = selectors.held(ctx)
        recent = [p for p in selectors.provisions(ctx, limit=50) if p.state != "held"]
        events = selectors.inbox_events(ctx, limit=30)
    except AccessDenied as exc:
        return _denied(request, exc)
    return render(request, "web/exchange/held.html", {"held": rows, "recent": recent, "events": events})


@login_required
@require_POST
def decide(request: HttpRequest, provision_id: int, decision: str) -> HttpResponse:
    """Send a held answer as prepared, or answer that nothing is provided (X02)."""
    try:
        ctx = context_for_request(request, Purpose.EXCHANGE_PROVISION)
        services.decide_held(ctx, provision_id, release=decision == "release")
        messages.success(request, "回答を送信しました。" if decision == "release" else "提供しない旨を回答しました。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    except HubUnavailable:
        messages.warning(request, HUB_DOWN)
    return HttpResponseRedirect("/exchange/held/")


@login_required
@require_POST
def receive(request: HttpRequest) -> HttpResponse:
    """今すぐ受信: take deliveries from the hub, answer and store results (X02)."""
    try:
        ctx = context_for_request(request, Purpose.EXCHANGE_PROVISION)
        s = services.poll(ctx)
        messages.success(request, f"受信 {s.received} 件（拒否 {s.rejected}）: 自動回答 {s.answered}、"
                                  f"確認待ち {s.held}、照会結果 {s.results}")
    except AccessDenied as exc:
        return _denied(request, exc)
    except (HubUnavailable, HubRefused, MessageRejected):
        messages.warning(request, "中継サーバーから受信できませんでした。時間をおいて再度お試しください。")
    return HttpResponseRedirect(request.POST.get("next") or "/exchange/held/")


@login_required
@require_GET
def records(request: HttpRequest) -> HttpResponse:
    """情報提供等記録: the hub's records that concern this city (X01)."""
    rows: list[dict[str, Any]] = []
    error = ""
    try:
        ctx = context_for_request(request, Purpose.EXCHANGE_QUERY)
        rows = services.hub_records(ctx)
    except AccessDenied as exc:
        return _denied(request, exc)
    except (HubUnavailable, HubRefused, MessageRejected):
        error = "中継サーバーに接続できません。"
    return render(request, "web/exchange/records.html", {"records": rows, "error": error})
