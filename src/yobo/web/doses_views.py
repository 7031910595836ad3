"""Staff pages of dose records (接種記録). This part: the vaccination history shown on the person
page (予防接種歴), loaded as an htmx fragment so the person page stays one READ of the register and
the history its own READ of the dose records, both logged with the 宛名番号.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from yobo.access.context import context_for_request
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.core.wareki import to_wareki
from yobo.immunizations import selectors

# The person page remembers the staff member's purpose under this session key (people_views).
PEOPLE_SESSION_PURPOSE = "people_purpose"

STATUS_LABELS = {"due": "接種時期", "upcoming": "今後対象", "complete": "完了", "expired": "期間終了"}
STATUS_CLASS = {"due": "warn", "upcoming": "", "complete": "ok", "expired": "bad"}
REASON_LABELS = {"valid": "有効", "too_young": "月齢不足", "too_soon": "間隔不足", "too_old": "年齢超過",
                 "extra_dose": "回数超過"}


@login_required
@require_GET
def history(request: HttpRequest, atena_no: str) -> HttpResponse:
    """予防接種歴 (fragment): each dose with its validity, and each series' state today."""
    purpose = (request.GET.get("purpose") or request.session.get(PEOPLE_SESSION_PURPOSE)
               or Purpose.PERSON_INQUIRY.value)
    try:
        ctx = context_for_request(request, Purpose.PERSON_INQUIRY).for_purpose(str(purpose).strip().upper())
        h = selectors.person_history(ctx, atena_no, include_inactive=request.GET.get("all") == "1")
    except AccessDenied as exc:
        return render(request, "web/doses/history_denied.html", {"message": str(exc)}, status=403)
    except InputRejected as exc:
        return render(request, "web/doses/history_denied.html", {"message": str(exc)}, status=404)
    rows = [{
        "c": c, "d": c.dose, "wareki": to_wareki(c.dose.date),
        "validity": "予診のみ" if c.dose.screening_only else (
            "—" if c.valid is None else REASON_LABELS.get(c.reason, c.reason)),
        "ok": c.valid, "warnings": [p.get("message", "") for p in c.dose.problems],
    } for c in h.doses]
    series: list[dict[str, Any]] = [{
        "s": s, "label": STATUS_LABELS.get(s.status, s.status), "cls": STATUS_CLASS.get(s.status, ""),
        "until": s.eligible_until if s.eligible_until != date.min else None,
        "earliest": s.earliest if s.status == "due" and s.earliest not in (date.min, date.max) else None,
    } for s in h.series]
    return render(request, "web/doses/history.html", {
        "h": h, "rows": rows, "series": series, "due": [x for x, s in zip(series, h.series, strict=True)
                                                        if s.status == "due"],
        "show_all": request.GET.get("all") == "1",
    })
