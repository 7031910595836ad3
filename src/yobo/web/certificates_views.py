"""Vaccination certificates (接種証明書の交付, seed 001 7-①..④): application → search → pick → issue → PDF.

Every page acts under purpose C01 (接種証明書の交付). The search by the three basic items is a GET
(htmx swaps the candidates in); the My Number search is a POST (the number never goes into a URL or
the log) and offered only to staff with the My Number right. A search that finds several persons
lists them all: staff pick one explicitly; nothing is picked for them, even when only one is found.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yobo.access.context import context_for_request
from yobo.certificates import doses as certificate_doses
from yobo.certificates import pdf, selectors, services
from yobo.certificates.services import IDENTITY_DOCUMENTS, ApplicationInput
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.core.wareki import DateFormatError, parse_date

T = "web/certificates/"


def _ctx(request: HttpRequest) -> AccessContext:
    return context_for_request(request, Purpose.CERTIFICATE_ISSUANCE)


def _denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)


class ApplicationForm(forms.Form):
    applicant_kind = forms.ChoiceField(label="申請者", choices=[("self", "本人"), ("agent", "代理人")],
                                       widget=forms.RadioSelect, initial="self")
    applicant_name = forms.CharField(label="申請者の氏名", max_length=100)
    agent_relationship = forms.CharField(label="本人との関係（代理人）", max_length=50, required=False)
    documents_seen = forms.MultipleChoiceField(label="確認した本人確認書類", choices=list(IDENTITY_DOCUMENTS.items()),
                                               widget=forms.CheckboxSelectMultiple, required=False)
    letter_of_authority_seen = forms.BooleanField(label="委任状を確認した（代理人）", required=False)
    language = forms.ChoiceField(label="証明書", choices=[("ja", "日本語（国内用）"), ("en", "英語（海外用）")],
                                 widget=forms.RadioSelect, initial="ja")
    romanised_name = forms.CharField(label="ローマ字氏名（旅券の表記）", max_length=100, required=False)
    passport_no = forms.CharField(label="旅券番号", max_length=20, required=False)
    nationality = forms.CharField(label="国籍（ISO 3文字、例 JPN）", max_length=3, required=False)
    note = forms.CharField(label="備考", max_length=200, required=False)

    def to_input(self) -> ApplicationInput:
        d = self.cleaned_data
        return ApplicationInput(
            d["applicant_kind"], d["applicant_name"], tuple(d.get("documents_seen") or ()),
            d.get("agent_relationship") or "", bool(d.get("letter_of_authority_seen")), d["language"],
            d.get("romanised_name") or "", d.get("nationality") or "", d.get("passport_no") or "", d.get("note") or "")


class ThreeItemsForm(forms.Form):
    address = forms.CharField(label="住所", max_length=100)
    name = forms.CharField(label="氏名（漢字・カナ）", max_length=100)
    birth = forms.CharField(label="生年月日（西暦・和暦）", max_length=20,
                            help_text="例: 2020-05-01, 令和2年5月1日, R2.5.1")

    def clean_birth(self) -> date:
        try:
            return parse_date((self.cleaned_data.get("birth") or "").strip())
        except DateFormatError as exc:
            raise forms.ValidationError(str(exc)) from None


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """7-① 申請・受理: the application form, and the latest applications."""
    try:
        ctx = _ctx(request)
        form = ApplicationForm(request.POST or None)
        error = ""
        if request.method == "POST" and form.is_valid():
            try:
                app_id = services.receive_application(ctx, form.to_input())
            except InputRejected as exc:
                error = str(exc)
            else:
                messages.success(request, f"申請 {app_id} を受け付けました。対象者を検索してください。")
                return HttpResponseRedirect(f"/certificates/applications/{app_id}/")
        recent = selectors.recent_applications(ctx)
    except AccessDenied as exc:
        return _denied(request, exc)
    return render(request, T + "index.html", {"form": form, "error": error, "recent": recent},
                  status=400 if error or form.errors else 200)


def _application_page(request: HttpRequest, ctx: AccessContext, app_id: int, **extra: Any) -> HttpResponse:
    app = selectors.application(ctx, app_id)
    context: dict[str, Any] = {"app": app, "three": extra.pop("three", None) or ThreeItemsForm(),
                               "mynumber_right": ctx.mynumber_right, **extra}
    if app.atena_no and app.state == "identified":
        from yobo.people import lookup

        context["person"] = lookup.get_card(ctx, app.atena_no)
        context["doses"] = certificate_doses.certifiable_doses(ctx, app.atena_no)
        context["issued_before"] = selectors.certificates_for(ctx, app.atena_no)
    if app.state == "issued":
        context["certificates"] = [c for c in selectors.certificates_for(ctx, app.atena_no)
                                   if c.application_id == app.id]
    template = T + "_candidates.html" if getattr(request, "htmx", False) and "candidates" in extra else \
        T + "application.html"
    return render(request, template, context)


@login_required
@require_GET
def application(request: HttpRequest, app_id: str) -> HttpResponse:
    """7-② 照会: search by the three items (or voucher number) and list the candidates."""
    try:
        ctx = _ctx(request)
        extra: dict[str, Any] = {}
        if "voucher" in request.GET:
            try:
                extra["candidates"] = selectors.search_voucher(ctx, request.GET.get("voucher", ""))
            except InputRejected as exc:
                extra["search_error"] = str(exc)
                extra["candidates"] = None
        elif any(k in request.GET for k in ("address", "name", "birth")):
            three = ThreeItemsForm(request.GET)
            extra["three"] = three
            if three.is_valid():
                d = three.cleaned_data
                try:
                    extra["candidates"] = selectors.search_three_items(
                        ctx, address=d["address"], name=d["name"], birth_date=d["birth"])
                except InputRejected as exc:
                    extra["search_error"] = str(exc)
            if "candidates" not in extra:
                extra["candidates"] = None
        return _application_page(request, ctx, int(app_id), **extra)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        return render(request, T + "not_found.html", {"message": str(exc)}, status=404)


@login_required
@require_POST
def search_mynumber(request: HttpRequest, app_id: str) -> HttpResponse:
    """個人番号による照会 (POST: the number is in no URL and no log entry)."""
    try:
        ctx = _ctx(request)
        try:
            found = selectors.search_mynumber(ctx, request.POST.get("mynumber", ""))
            return _application_page(request, ctx, int(app_id), candidates=found)
        except InputRejected as exc:
            return _application_page(request, ctx, int(app_id), candidates=None, search_error=str(exc))
    except AccessDenied as exc:
        return _denied(request, exc)


@login_required
@require_POST
def identify(request: HttpRequest, app_id: str) -> HttpResponse:
    """The person staff picked among the candidates."""
    try:
        ctx = _ctx(request)
        services.identify(ctx, int(app_id), request.POST.get("atena_no", ""), request.POST.get("method", ""))
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(f"/certificates/applications/{app_id}/")


@login_required
@require_POST
def issue(request: HttpRequest, app_id: str) -> HttpResponse:
    """7-③④ 印刷・交付: sign and record; the certificate page offers the PDF."""
    try:
        ctx = _ctx(request)
        issued = services.issue(ctx, int(app_id))
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(f"/certificates/applications/{app_id}/")
    messages.success(request, f"証明書 {issued.certificate_id} を交付しました。PDFを印刷して交付してください。")
    return HttpResponseRedirect(f"/certificates/{issued.certificate_id}/")


@login_required
@require_POST
def withdraw(request: HttpRequest, app_id: str) -> HttpResponse:
    try:
        services.withdraw(_ctx(request), int(app_id))
        messages.success(request, f"申請 {app_id} を取り下げました。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect("/certificates/")


@login_required
@require_GET
def certificate(request: HttpRequest, certificate_id: str) -> HttpResponse:
    try:
        ctx = _ctx(request)
        cert = selectors.certificate(ctx, certificate_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        return render(request, T + "not_found.html", {"message": str(exc)}, status=404)
    return render(request, T + "certificate.html", {"cert": cert})


@login_required
@require_GET
def certificate_pdf(request: HttpRequest, certificate_id: str) -> HttpResponse:
    """The PDF, drawn from the certificate as issued (its signed cards)."""
    try:
        ctx = _ctx(request)
        doc = selectors.certificate_document(ctx, certificate_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        return render(request, T + "not_found.html", {"message": str(exc)}, status=404)
    with tempfile.TemporaryDirectory() as tmp:
        path = pdf.render(doc, Path(tmp) / "c.pdf", settings.MUNICIPALITY_CODE)
        body = path.read_bytes()
    resp = HttpResponse(body, content_type="application/pdf")
    resp["Content-Disposition"] = f'attachment; filename="{doc.certificate.certificate_id}.pdf"'
    resp["Cache-Control"] = "no-store"
    return resp


@login_required
@require_GET
def certificate_shc(request: HttpRequest, certificate_id: str) -> HttpResponse:
    """The card as a ``.smart-health-card`` file (for a wallet app)."""
    import json

    try:
        cert = selectors.certificate(_ctx(request), certificate_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        return render(request, T + "not_found.html", {"message": str(exc)}, status=404)
    resp = HttpResponse(json.dumps({"verifiableCredential": list(cert.cards)}),
                        content_type="application/smart-health-card")
    resp["Content-Disposition"] = f'attachment; filename="{cert.certificate_id}.smart-health-card"'
    resp["Cache-Control"] = "no-store"
    return resp


@login_required
@require_POST
def revoke(request: HttpRequest, certificate_id: str) -> HttpResponse:
    """誤交付の取消: the card's revocation id goes into the public revocation list."""
    try:
        services.revoke(_ctx(request), certificate_id, request.POST.get("reason", ""))
        messages.success(request, f"証明書 {certificate_id} を取り消しました。検証アプリでは無効と表示されます。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(f"/certificates/{certificate_id}/")


@login_required
@require_GET
def person_certificates(request: HttpRequest, atena_no: str) -> HttpResponse:
    """接種証明書の交付歴 (fragment of the person page): 証明書ID and 発行年月日 per certificate, read
    under the purpose the person page was opened with."""
    purpose = request.GET.get("purpose") or request.session.get("people_purpose") or Purpose.PERSON_INQUIRY.value
    try:
        ctx = context_for_request(request, Purpose.PERSON_INQUIRY).for_purpose(str(purpose).strip().upper())
        rows = selectors.certificates_for(ctx, atena_no)
    except AccessDenied as exc:
        return HttpResponse(f'<p class="error" role="alert">{escape(str(exc))}</p>', status=403)
    return render(request, T + "_person.html", {"certificates": rows, "atena_no": atena_no})
