"""Access-log viewer (アクセスログ閲覧): filters, keyset paging, and the latest verification result.

Only staff whose duties allow アクセスログの点検・監査 (A02) see it: the door refuses the others, and
the refusal is logged. Every page of the list is itself a logged search of the log.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from yobo.access.context import context_for_request
from yobo.audit.selectors import LogFilter, latest_verify_run, list_entries
from yobo.audit.services import run_verify
from yobo.core.errors import AccessDenied
from yobo.core.purposes import OPERATION_LABELS, PURPOSE_LABELS, Purpose, Result
from yobo.people import switch

RESULT_LABELS = {Result.OK: "成功", Result.DENIED: "拒否", Result.FAILED: "失敗", Result.ERROR: "エラー"}
PER_PAGE = 50


class LogFilterForm(forms.Form):
    date_from = forms.DateField(label="期間(開始)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="期間(終了)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    staff = forms.CharField(label="職員ID", required=False, max_length=150)
    target = forms.RegexField(label="宛名番号", required=False, regex=r"^\d{1,15}$",
                              error_messages={"invalid": "宛名番号は15桁以内の数字で入力してください。"})
    purpose = forms.ChoiceField(
        label="処理事由", required=False,
        choices=[("", "すべて"), *((p.value, f"{p.value} {lbl}") for p, lbl in PURPOSE_LABELS.items())],
    )
    operation = forms.ChoiceField(label="操作", required=False,
                                  choices=[("", "すべて"), *((o.value, lbl) for o, lbl in OPERATION_LABELS.items())])
    result = forms.ChoiceField(label="結果", required=False,
                               choices=[("", "すべて"), *((r.value, lbl) for r, lbl in RESULT_LABELS.items())])

    def to_filter(self) -> LogFilter:
        d = self.cleaned_data
        return LogFilter(
            date_from=d.get("date_from"), date_to=d.get("date_to"), staff=(d.get("staff") or "").strip(),
            target=d.get("target") or "", purpose=d.get("purpose") or "", operation=d.get("operation") or "",
            result=d.get("result") or "",
        )


def _denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return render(request, "audit/denied.html", {"message": str(exc)}, status=403)


def _rows(entries: list[Any]) -> list[dict[str, Any]]:
    purposes: dict[str, str] = {p.value: lbl for p, lbl in PURPOSE_LABELS.items()}
    ops: dict[str, str] = {o.value: lbl for o, lbl in OPERATION_LABELS.items()}
    results: dict[str, str] = {r.value: lbl for r, lbl in RESULT_LABELS.items()}
    return [
        {
            "e": e,
            "purpose_label": purposes.get(e.purpose, ""),
            "operation_label": ops.get(e.operation, e.operation),
            "result_label": results.get(e.result, e.result),
        }
        for e in entries
    ]


@login_required
@require_GET
def log_list(request: HttpRequest) -> HttpResponse:
    """The list with filters; an htmx request gets only the results part."""
    try:
        ctx = context_for_request(request, Purpose.AUDIT_REVIEW)
    except AccessDenied as exc:
        return _denied(request, exc)
    form = LogFilterForm(request.GET or None)
    page = None
    before_raw = request.GET.get("before", "")
    before = int(before_raw) if before_raw.isdigit() else None
    flt: LogFilter | None = LogFilter()
    if form.is_bound:
        flt = form.to_filter() if form.is_valid() else None
    try:
        if flt is not None and flt.target:
            # A 住登外者 switched to the register's 宛名番号: their entries under the old one too.
            flt = replace(flt, former=tuple(switch.former_atenas(ctx, flt.target)))
        if flt is not None:
            page = list_entries(ctx, flt, before=before, per_page=PER_PAGE)
    except AccessDenied as exc:
        return _denied(request, exc)
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "form": form,
        "page": page,
        "rows": _rows(page.entries) if page else [],
        "query": query.urlencode(),
        "paged": before is not None,
        "former": flt.former if flt else (),
        "verify": latest_verify_run(),
    }
    template = "audit/_results.html" if getattr(request, "htmx", False) else "audit/log_list.html"
    return render(request, template, context)


@login_required
@require_POST
def verify_now(request: HttpRequest) -> HttpResponse:
    """Run the verification (htmx button) and show its result."""
    try:
        ctx = context_for_request(request, Purpose.AUDIT_REVIEW)
        run_verify(ctx)
    except AccessDenied as exc:
        return _denied(request, exc)
    return render(request, "audit/_verify.html", {"verify": latest_verify_run(), "fresh": True})
