"""Target extraction, vouchers and reminders (対象者抽出・接種券・勧奨) for staff.

Each page acts under its own purpose: extraction N01, vouchers N02, reminders N03; the door
refuses and logs a staff member whose duties do not allow it. Batches are written under
``$YOBO_VAR_DIR/notices/`` and downloaded through the batch record (never by a path in the URL).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yobo.access.context import context_for_request
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.core.wareki import DateFormatError, parse_date, to_wareki
from yobo.notices import extraction, selectors, services
from yobo.notices.vouchers import VoucherNumberError
from yobo.schedule.rules import load_series


def _denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)


def _ctx(request: HttpRequest, purpose: Purpose) -> AccessContext:
    return context_for_request(request, purpose)


def _vaccines() -> list[tuple[str, str]]:
    return [(c, f"{c} {s.name_ja}") for c, s in load_series().items()]


def _next_april() -> date:
    t = timezone.localdate()
    return date(t.year + 1 if t.month >= 4 else t.year, 4, 1)


class DateField(forms.Field):
    """A date in Western or 和暦 form (2027-04-01, 令和9年4月1日, R9.4.1)."""

    widget = forms.TextInput(attrs={"maxlength": "20"})

    def to_python(self, value: Any) -> date | None:
        raw = str(value or "").strip()
        if not raw:
            return None
        try:
            return parse_date(raw)
        except DateFormatError:
            raise forms.ValidationError("日付の形式が正しくありません（例: 2027-04-01, 令和9年4月1日）。") from None


class ExtractForm(forms.Form):
    vaccine = forms.ChoiceField(label="ワクチン", choices=_vaccines)
    as_of = DateField(label="基準日（西暦・和暦）")
    cohort = forms.CharField(label="生年月日の範囲（任意, FROM:UNTIL）", required=False, max_length=30)


class RemindForm(forms.Form):
    vaccine = forms.ChoiceField(label="ワクチン", choices=_vaccines)
    as_of = DateField(label="基準日")
    months = forms.IntegerField(label="期限まで（か月以内）", min_value=1, max_value=60, initial=3)


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """The notices menu: run an extraction or a reminder list, recent lists and batches."""
    try:
        ctx = _ctx(request, Purpose.TARGET_EXTRACTION)
        ex = ExtractForm(request.POST if request.method == "POST" and "extract" in request.POST else None,
                         initial={"vaccine": "MR2", "as_of": _next_april().isoformat()})
        if ex.is_bound and ex.is_valid():
            try:
                s = extraction.extract_targets(ctx, ex.cleaned_data["vaccine"], ex.cleaned_data["as_of"],
                                               cohort=ex.cleaned_data["cohort"] or None)
            except InputRejected as exc:
                ex.add_error(None, str(exc))
            else:
                messages.success(request, f"対象者 {s.count} 人を抽出しました（リスト {s.list_id}）。")
                return HttpResponseRedirect(f"/notices/lists/{s.list_id}/")
        lists = selectors.lists(ctx, kind="targets", limit=20)
    except AccessDenied as exc:
        return _denied(request, exc)
    reminders: list[Any] = []
    batches: list[Any] = []
    try:
        reminders = selectors.lists(_ctx(request, Purpose.RECOMMENDATION), kind="reminders", limit=10)
        batches = selectors.batches(_ctx(request, Purpose.VOUCHER_ISSUANCE), limit=10)
    except AccessDenied:
        pass
    return render(request, "web/notices/index.html", {
        "form": ex, "remind_form": RemindForm(prefix="r", initial={"vaccine": "MR2", "months": 3,
                                                       "as_of": timezone.localdate().isoformat()}),
        "lists": lists, "reminders": reminders, "batches": batches,
    })


@login_required
@require_POST
def remind(request: HttpRequest) -> HttpResponse:
    try:
        ctx = _ctx(request, Purpose.RECOMMENDATION)
        f = RemindForm(request.POST, prefix="r")
        if f.is_valid():
            try:
                s = extraction.extract_reminders(ctx, f.cleaned_data["vaccine"], f.cleaned_data["as_of"],
                                                 months=f.cleaned_data["months"])
            except InputRejected as exc:
                messages.error(request, str(exc))
                return HttpResponseRedirect("/notices/")
            messages.success(request, f"勧奨対象 {s.count} 人（リスト {s.list_id}）。")
            return HttpResponseRedirect(f"/notices/lists/{s.list_id}/")
        messages.error(request, "入力を確認してください。" + " ".join(str(e) for e in f.errors.values()))
        return HttpResponseRedirect("/notices/")
    except AccessDenied as exc:
        return _denied(request, exc)


@login_required
@require_GET
def list_detail(request: HttpRequest, list_id: int) -> HttpResponse:
    try:
        base = _ctx(request, Purpose.TARGET_EXTRACTION)
        lv = selectors.get_list(base, list_id)
        follow: list[Any] = []
        if lv.kind == "reminders":
            ctx = base.for_purpose(Purpose.RECOMMENDATION)
            follow = selectors.follow_up(ctx, list_id)
        d = selectors.diff(base, list_id) if lv.previous_id else None
        batches = selectors.batches(base.for_purpose(Purpose.VOUCHER_ISSUANCE), list_id=list_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected:
        raise Http404 from None
    series = load_series().get(lv.vaccine)
    return render(request, "web/notices/list.html", {
        "l": lv, "vaccine_name": series.name_ja if series else lv.vaccine, "as_of_wareki": to_wareki(lv.as_of),
        "diff": d, "follow": follow, "batches": batches,
    })


def _out_dir(kind: str) -> Path:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S-%f")
    return Path(settings.VAR_DIR) / "notices" / f"{kind}-{stamp}"


@login_required
@require_POST
def issue(request: HttpRequest, list_id: int) -> HttpResponse:
    try:
        ctx = _ctx(request, Purpose.VOUCHER_ISSUANCE)
        try:
            r = services.issue_batch(ctx, list_id, _out_dir("issue"))
        except InputRejected as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(f"/notices/lists/{list_id}/")
    except AccessDenied as exc:
        return _denied(request, exc)
    labels = {"already_issued": "発行済み", "not_resident": "住民でない"}
    skipped = "、".join(f"{labels[k]} {v}" for k, v in r.skipped.items() if v)
    messages.success(request, f"接種券 {r.count} 件を発行しました（バッチ {r.batch_id}）。"
                     + (f"除外: {skipped}" if skipped else ""))
    return HttpResponseRedirect(f"/notices/batches/{r.batch_id}/")


@login_required
@require_POST
def letters(request: HttpRequest, list_id: int) -> HttpResponse:
    try:
        ctx = _ctx(request, Purpose.RECOMMENDATION)
        try:
            r = services.print_reminders(ctx, list_id, _out_dir("remind"))
        except InputRejected as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(f"/notices/lists/{list_id}/")
    except AccessDenied as exc:
        return _denied(request, exc)
    messages.success(request, f"勧奨通知 {r.count} 件を作成しました（バッチ {r.batch_id}）。")
    return HttpResponseRedirect(f"/notices/batches/{r.batch_id}/")


@login_required
@require_POST
def follow_up_result(request: HttpRequest, list_id: int) -> HttpResponse:
    try:
        ctx = _ctx(request, Purpose.RECOMMENDATION)
        try:
            services.record_reminder(ctx, list_id, request.POST.get("atena", ""), channel="phone",
                                     result=request.POST.get("result", ""))
            messages.success(request, "電話勧奨の結果を記録しました。")
        except InputRejected as exc:
            messages.error(request, str(exc))
    except AccessDenied as exc:
        return _denied(request, exc)
    return HttpResponseRedirect(f"/notices/lists/{list_id}/")


@login_required
@require_GET
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    try:
        ctx = _ctx(request, Purpose.VOUCHER_ISSUANCE)
        b = selectors.get_batch(ctx, batch_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected:
        raise Http404 from None
    return render(request, "web/notices/batch.html", {"b": b})


@login_required
@require_GET
def batch_pdf(request: HttpRequest, batch_id: int) -> HttpResponse | FileResponse:
    try:
        ctx = _ctx(request, Purpose.VOUCHER_ISSUANCE)
        b = selectors.get_batch(ctx, batch_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected:
        raise Http404 from None
    try:
        k = int(request.GET.get("v", "1"))
    except ValueError:
        raise Http404 from None
    if not 1 <= k <= len(b.volumes):
        raise Http404
    p = Path(b.volumes[k - 1])
    if not p.is_file():
        raise Http404("PDF がありません（保存期間経過で削除済みの可能性）")
    return FileResponse(p.open("rb"), content_type="application/pdf", as_attachment=True, filename=p.name)


@login_required
@require_POST
def batch_reprint(request: HttpRequest, batch_id: int) -> HttpResponse:
    try:
        ctx = _ctx(request, Purpose.VOUCHER_ISSUANCE)
        try:
            r = services.reprint(ctx, batch_id, request.POST.get("reason", ""), _out_dir("reprint"))
        except InputRejected as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(f"/notices/batches/{batch_id}/")
    except AccessDenied as exc:
        return _denied(request, exc)
    messages.success(request, f"再印刷しました（バッチ {r.batch_id}、{r.count} 件）。")
    return HttpResponseRedirect(f"/notices/batches/{r.batch_id}/")


@login_required
@require_http_methods(["GET", "POST"])
def voucher(request: HttpRequest) -> HttpResponse:
    """Look up a voucher by number (POST keeps the number out of the URL); record returned mail or
    reissue it."""
    v = None
    try:
        ctx = _ctx(request, Purpose.VOUCHER_ISSUANCE)
        if request.method == "POST":
            number = request.POST.get("number", "")
            action = request.POST.get("action", "show")
            try:
                if action == "returned":
                    services.record_returned(ctx, number, request.POST.get("note", ""))
                    messages.success(request, "宛先不明（返戻）を記録しました。")
                elif action == "reissue":
                    r = services.reissue(ctx, number, request.POST.get("reason", ""), _out_dir("reissue"))
                    messages.success(request, f"再発行しました。旧券は無効になりました（バッチ {r.batch_id}）。")
                    return HttpResponseRedirect(f"/notices/batches/{r.batch_id}/")
                v = selectors.find_voucher(ctx, number)
            except (InputRejected, VoucherNumberError) as exc:
                messages.error(request, str(exc))
    except AccessDenied as exc:
        return _denied(request, exc)
    return render(request, "web/notices/voucher.html", {"v": v})
