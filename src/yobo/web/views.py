"""Home page: the menu of the areas the staff member's duties allow (業務メニュー)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from yobo.access.context import context_for_request
from yobo.core.errors import AccessDenied
from yobo.core.purposes import PURPOSE_LABELS, Purpose
from yobo.exchange import selectors as exchange
from yobo.exports import selectors as exports
from yobo.governance import requests, retention
from yobo.people import selectors as people

# Where each purpose's work is done in the web UI; purposes done on the batch terminal instead (files,
# keys, scheduled jobs) show where, in BATCH_WORK.
PURPOSE_PAGES: dict[Purpose, str] = {
    Purpose.ADMINISTRATION: "/staff/",
    Purpose.AUDIT_REVIEW: "/audit/",
    Purpose.RESIDENT_SYNC: "/people/batches/",
    Purpose.PERSON_INQUIRY: "/people/?purpose=P02",
    Purpose.NONRESIDENT_REGISTRATION: "/people/nonresidents/",
    Purpose.PROTECTION_MEASURE: "/people/?purpose=P04",
    Purpose.CERTIFICATE_ISSUANCE: "/certificates/",
    Purpose.EXPORT: "/exports/",
    Purpose.DISCLOSURE_REQUEST: "/governance/requests/",
    Purpose.RETENTION: "/governance/retention/",
    Purpose.TARGET_EXTRACTION: "/notices/",
    Purpose.VOUCHER_ISSUANCE: "/notices/",
    Purpose.RECOMMENDATION: "/notices/#remind-form",
    Purpose.DOSE_ENTRY: "/doses/entry/",
    Purpose.DOSE_IMPORT: "/doses/import/",
    Purpose.VRS_MATCHING: "/doses/vrs/",
    Purpose.FEE_EXEMPTION: "/fees/",
    Purpose.CLINIC_PAYMENT: "/fees/claims/",
    Purpose.RELIEF: "/relief/",
    Purpose.EXCHANGE_QUERY: "/exchange/",
    Purpose.EXCHANGE_PROVISION: "/exchange/held/",
    Purpose.STATISTICS: "/doses/stats/",
}

# Where the waiting work of a purpose is listed, when that is not its usual page
WAITING_PAGES: dict[Purpose, str] = {Purpose.PROTECTION_MEASURE: "/people/protection/"}

BATCH_WORK: dict[Purpose, str] = {
    Purpose.MYNUMBER_REGISTRATION: "住民は住民記録の取込、住登外者は P03 の申請で登録します",
    Purpose.MYNUMBER_MAINTENANCE: "バッチ端末で yobo mynumber rotate-keys / reindex",
    Purpose.COPY_REGISTRATION: "定時処理 yobo exchange register-copies",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    try:
        ctx = context_for_request(request, Purpose.AUTHENTICATION)
    except AccessDenied as exc:
        return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)
    purposes = sorted(ctx.allowed_purposes() - {Purpose.AUTHENTICATION}, key=lambda p: p.value)
    waiting = _waiting(purposes)
    menu = [{"code": p.value, "label": PURPOSE_LABELS[p], "url": _page(p, p in waiting),
             "elsewhere": BATCH_WORK.get(p, "準備中"), "waiting": waiting.get(p, [])} for p in purposes]
    admin = Purpose.ADMINISTRATION in ctx.allowed_purposes()
    return render(request, "web/home.html", {"menu": menu, "is_admin": admin, "ctx": ctx})


def _page(p: Purpose, has_waiting: bool) -> str:
    page = PURPOSE_PAGES.get(p, "")
    return WAITING_PAGES.get(p, page) if has_waiting else page


def _waiting(purposes: list[Purpose]) -> dict[Purpose, list[tuple[str, int]]]:
    """Work waiting under each of the staff member's purposes (items to review, requests to confirm or
    approve), from each owning app: counts only, no person is read, nothing to log."""
    mine = {p.value: p for p in purposes}
    out: dict[Purpose, list[tuple[str, int]]] = {}
    for source in (people.waiting_work, exports.waiting_work, exchange.waiting_work, retention.waiting_work,
                   requests.waiting_work):
        for code, label, n in source():
            if code in mine:
                out.setdefault(mine[code], []).append((label, n))
    return out
