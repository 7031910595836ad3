"""Money settings pages (金額の設定): fee amounts (実費徴収額, F01), clinic unit prices (委託単価, F02),
clinic bank accounts (振込先口座, F02) and relief benefit amounts (給付額, R01).

Amounts are integer yen (the services refuse anything else). No approval is needed for a setting, but
every change goes through the owning service's door: the access-log entry carries the value before and
after, and the page shows both right after the change.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from yobo.access.context import context_for_request
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.core.wareki import fiscal_year
from yobo.fees import payments, selectors, services
from yobo.immunizations import selectors as doses
from yobo.relief import selectors as relief_selectors
from yobo.relief import services as relief

from .relief_views import VACCINES

FEE_CATEGORIES = [(c.value, c.label) for c in services.FeeCategory]
BENEFITS = [(b.value, b.label) for b in relief.BenefitType]


def _fy(text: str | None, default: int | None = None) -> int:
    """A fiscal year typed as ``2026`` (full-width digits too)."""
    t = unicodedata.normalize("NFKC", text or "").replace("年度", "").strip()
    if not t and default is not None:
        return default
    if not (t.isdigit() and 2000 <= int(t) <= 2100):
        raise InputRejected("年度は西暦4桁で入力してください（例 2026）。 / fiscal year as 4 digits.")
    return int(t)


def _this_fy() -> int:
    return fiscal_year(timezone.localdate())


def _page(request: HttpRequest, purpose: Purpose, template: str, url: str,
          read: Callable[[AccessContext, int | None], dict[str, Any]],
          write: Callable[[AccessContext, Any], tuple[str, str, str]]) -> HttpResponse:
    """GET: the list and the form; POST: one change through the service, then back with before/after."""
    try:
        ctx = context_for_request(request, purpose)
        if request.method == "POST":
            try:
                what, before, after = write(ctx, request.POST)
                messages.success(request, f"{what}を変更しました。変更前: {before} → 変更後: {after}")
            except InputRejected as exc:
                messages.error(request, str(exc))
            fy = unicodedata.normalize("NFKC", request.POST.get("fiscal_year", "")).strip()
            return HttpResponseRedirect(url + (f"?fy={fy}" if fy.isdigit() else ""))
        try:
            shown_fy: int | None = _fy(request.GET.get("fy"), 0) or None
        except InputRejected as exc:
            messages.error(request, str(exc))
            shown_fy = None
        data = read(ctx, shown_fy)
    except AccessDenied as exc:
        return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)
    return render(request, template, {**data, "fy": shown_fy, "this_fy": _this_fy(), "vaccines": VACCINES})


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """金額の設定: the four settings pages the staff member's duties open."""
    try:
        ctx = context_for_request(request, Purpose.AUTHENTICATION)
    except AccessDenied as exc:
        return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)
    allowed = ctx.allowed_purposes()
    pages = [
        ("/fees/settings/fees/", "実費徴収額（ワクチン・年度・負担区分）", Purpose.FEE_EXEMPTION),
        ("/fees/settings/prices/", "接種委託単価・予診料（ワクチン・年度）", Purpose.CLINIC_PAYMENT),
        ("/fees/settings/accounts/", "医療機関の振込先口座", Purpose.CLINIC_PAYMENT),
        ("/fees/settings/relief/", "健康被害救済の給付額（給付・年度・等級）", Purpose.RELIEF),
    ]
    return render(request, "web/fees/settings.html", {
        "pages": [{"url": u, "label": label, "code": p.value, "ok": p in allowed} for u, label, p in pages]})


@login_required
@require_http_methods(["GET", "POST"])
def fees(request: HttpRequest) -> HttpResponse:
    def read(ctx: AccessContext, fy: int | None) -> dict[str, Any]:
        return {"rows": selectors.fees(ctx, fy), "categories": FEE_CATEGORIES}

    def write(ctx: AccessContext, p: Any) -> tuple[str, str, str]:
        fy = _fy(p.get("fiscal_year"))
        before, after = services.set_fee(ctx, fy, p.get("vaccine", ""), p.get("category", ""), p.get("amount", ""))
        label = dict(FEE_CATEGORIES).get(p.get("category", ""), "")
        return f"実費徴収額（{fy}年度 {p.get('vaccine', '')} {label}）", before, after

    return _page(request, Purpose.FEE_EXEMPTION, "web/fees/settings_fees.html", "/fees/settings/fees/", read, write)


@login_required
@require_http_methods(["GET", "POST"])
def prices(request: HttpRequest) -> HttpResponse:
    def read(ctx: AccessContext, fy: int | None) -> dict[str, Any]:
        return {"rows": payments.unit_prices(ctx, fy)}

    def write(ctx: AccessContext, p: Any) -> tuple[str, str, str]:
        fy = _fy(p.get("fiscal_year"))
        before, after = payments.set_unit_price(ctx, fy, p.get("vaccine", ""), p.get("amount", ""),
                                                p.get("screening", "").strip() or None)
        return f"委託単価（{fy}年度 {p.get('vaccine', '')}）", before, after

    return _page(request, Purpose.CLINIC_PAYMENT, "web/fees/settings_prices.html", "/fees/settings/prices/", read,
                 write)


@login_required
@require_http_methods(["GET", "POST"])
def accounts(request: HttpRequest) -> HttpResponse:
    def read(ctx: AccessContext, fy: int | None) -> dict[str, Any]:
        return {"rows": payments.accounts(ctx), "clinics": doses.clinics()}

    def write(ctx: AccessContext, p: Any) -> tuple[str, str, str]:
        code = p.get("clinic_code", "")
        before, after = payments.set_account(ctx, code, p.get("bank_code", ""), p.get("branch_code", ""),
                                             p.get("account_type", ""), p.get("account_no", ""),
                                             p.get("holder_kana", ""))
        return f"振込先口座（{code}）", before, after

    return _page(request, Purpose.CLINIC_PAYMENT, "web/fees/settings_accounts.html", "/fees/settings/accounts/",
                 read, write)


@login_required
@require_http_methods(["GET", "POST"])
def relief_amounts(request: HttpRequest) -> HttpResponse:
    def read(ctx: AccessContext, fy: int | None) -> dict[str, Any]:
        rows = [{**a, "unit_label": relief.AMOUNT_UNITS.get(a["unit"], a["unit"])}
                for a in relief_selectors.amounts(ctx, fy)]
        return {"rows": rows, "benefits": BENEFITS,
                "units": list(relief.AMOUNT_UNITS.items())}

    def write(ctx: AccessContext, p: Any) -> tuple[str, str, str]:
        fy = _fy(p.get("fiscal_year"))
        grade = unicodedata.normalize("NFKC", p.get("grade", "")).strip()
        if len(grade) > 4:
            raise InputRejected("等級は4文字までです（例 1級）。 / grade up to 4 characters.")
        before, after = relief.set_amount(ctx, fy, p.get("benefit", ""), p.get("amount", ""), grade=grade,
                                          unit=p.get("unit", "year"))
        label = dict(BENEFITS).get(p.get("benefit", ""), "")
        return f"給付額（{fy}年度 {label}{' ' + grade if grade else ''}）", before, after

    return _page(request, Purpose.RELIEF, "web/fees/settings_relief.html", "/fees/settings/relief/", read, write)
