"""``GET /fhir/ImmunizationRecommendation?patient=<宛名番号>[&date=YYYY-MM-DD]`` (FHIR R4 searchset),
``GET /api/v1/persons/<宛名番号>/schedule[?as_of=YYYY-MM-DD]`` (CONTRACTS.md §2 objects) and
``GET /api/v1/persons/<宛名番号>/certificates`` (証明書ID・発行年月日).

Same callers and purpose rules as ``views.py`` (``auth.context``); the dose history and the
certificates are read through their apps' selectors, so each call is a logged READ of the 宛名番号.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from yobo.certificates import selectors as certificates
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.immunizations import selectors as doses
from yobo.people.selectors import PersonNotFound

from . import auth, recommendation

FHIR_JSON = "application/fhir+json"
_PATIENT = re.compile(r"^(?:Patient/)?([0-9]{1,15})$")


def _outcome(code: str, text: str, status: int) -> JsonResponse:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
    return JsonResponse(body, status=status, content_type=FHIR_JSON, json_dumps_params={"ensure_ascii": False})


def _error(code: str, text: str, status: int) -> JsonResponse:
    return JsonResponse({"error": code, "message": text}, status=status, json_dumps_params={"ensure_ascii": False})


def _day(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InputRejected("日付は YYYY-MM-DD です。 / Dates are YYYY-MM-DD.") from None


def _call(request: HttpRequest, fhir: bool, work: Callable[[AccessContext], JsonResponse]) -> JsonResponse:
    err = _outcome if fhir else _error
    if not auth.authenticated(request):
        return err("login", "認証が必要です。 / Authentication required.", 401)
    try:
        ctx = auth.context(request, Purpose.PERSON_INQUIRY)
        return work(ctx)
    except AccessDenied as exc:
        return err("forbidden" if fhir else exc.reason, str(exc), 401 if exc.reason == auth.BAD_CREDENTIAL else 403)
    except InputRejected as exc:
        status = 404 if isinstance(exc, PersonNotFound) else 400
        return err("not-found" if status == 404 and fhir else "invalid" if fhir else "rejected", str(exc), status)


@require_GET
def recommendation_search(request: HttpRequest) -> JsonResponse:
    def work(ctx: AccessContext) -> JsonResponse:
        m = _PATIENT.match(request.GET.get("patient", "").strip())
        if m is None:
            raise InputRejected("patient=<宛名番号> を指定してください。 / Give patient=<atena number>.")
        as_of = _day(request.GET.get("date"))
        hist = doses.person_history(ctx, m.group(1), as_of=as_of)
        found = [recommendation.recommendation(hist.atena_no, hist.as_of, hist.series)] if hist.series else []
        body = recommendation.searchset(found, request.build_absolute_uri())
        return JsonResponse(body, content_type=FHIR_JSON, json_dumps_params={"ensure_ascii": False})

    return _call(request, True, work)


@require_GET
def person_schedule(request: HttpRequest, atena_no: str) -> JsonResponse:
    def work(ctx: AccessContext) -> JsonResponse:
        hist = doses.person_history(ctx, atena_no, as_of=_day(request.GET.get("as_of")))
        body: dict[str, Any] = {"atena_no": hist.atena_no, "as_of": hist.as_of.isoformat(),
                                "series": [s.as_contract() for s in hist.series]}
        return JsonResponse(body, json_dumps_params={"ensure_ascii": False})

    return _call(request, False, work)


@require_GET
def person_certificates(request: HttpRequest, atena_no: str) -> JsonResponse:
    def work(ctx: AccessContext) -> JsonResponse:
        from yobo.people import selectors as people

        people.get_person(ctx, atena_no)  # 404 for an unknown person rather than an empty list
        rows = certificates.certificates_for(ctx, atena_no)
        body = {"atena_no": atena_no, "certificates": [
            {"certificate_id": c.certificate_id, "issue_date": c.issue_date.isoformat(), "language": c.language,
             "dose_count": c.dose_count, "revoked": c.revoked,
             "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None} for c in rows]}
        return JsonResponse(body, json_dumps_params={"ensure_ascii": False})

    return _call(request, False, work)
