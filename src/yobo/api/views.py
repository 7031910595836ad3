"""``GET /api/v1/persons/<宛名番号>`` (JSON) and ``GET /fhir/Patient/<宛名番号>`` (FHIR R4).

Callers are system clients with a bearer credential (their own terminal and service account) or
staff with a verified session on a registered terminal (``api/auth.py``). The purpose is taken
from the ``X-Yobo-Purpose`` header (default P02 対象者の照会, or the client's first purpose) and
checked by the door, which logs the read with the 宛名番号.
"""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.views.decorators.http import require_GET

from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.people import lookup, switch

from . import auth, fhir

FHIR_JSON = "application/fhir+json"


def _ctx(request: HttpRequest) -> AccessContext:
    return auth.context(request, Purpose.PERSON_INQUIRY)


def _unauthenticated(request: HttpRequest) -> bool:
    return not auth.authenticated(request)


def _denied_status(exc: AccessDenied) -> int:
    return 401 if exc.reason == auth.BAD_CREDENTIAL else 403


def _read(ctx: AccessContext, atena_no: str) -> lookup.PersonCard:
    return lookup.get_card(ctx, atena_no)


@require_GET
def person_json(request: HttpRequest, atena_no: str) -> HttpResponse:
    if _unauthenticated(request):
        return JsonResponse({"error": "unauthenticated", "message": "ログインが必要です。 / Log in first."},
                            status=401)
    try:
        p = _read(_ctx(request), atena_no)
    except AccessDenied as exc:
        return JsonResponse({"error": exc.reason, "message": str(exc)}, status=_denied_status(exc))
    except InputRejected as exc:
        new = _replaced_by(request, atena_no)
        if new is not None:  # a 住登外者 switched to the register's 宛名番号: the same person is there
            return HttpResponsePermanentRedirect(f"/api/v1/persons/{new}")
        return JsonResponse({"error": "not_found", "message": str(exc)}, status=404)
    data = asdict(p)
    data["birth_date"] = p.birth_date.isoformat()
    data["status_date"] = p.status_date.isoformat() if p.status_date else None
    data["birth_wareki"] = p.birth_wareki
    if p.masked:
        data.update({f: None for f in lookup.MASKED_FIELDS})
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})


def _outcome(code: str, text: str, status: int) -> JsonResponse:
    body = {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
    return JsonResponse(body, status=status, content_type=FHIR_JSON, json_dumps_params={"ensure_ascii": False})


@require_GET
def patient_read(request: HttpRequest, atena_no: str) -> JsonResponse:
    if _unauthenticated(request):
        return _outcome("login", "ログインが必要です。 / Authentication required.", 401)
    try:
        p = _read(_ctx(request), atena_no)
    except AccessDenied as exc:
        return _outcome("forbidden", str(exc), _denied_status(exc))
    except InputRejected as exc:
        new = _replaced_by(request, atena_no)
        if new is None:
            return _outcome("not-found", str(exc), 404)
        # FHIR's way to say a record was merged into another: an inactive Patient linking to it.
        return JsonResponse(fhir.replaced_patient(atena_no, new), content_type=FHIR_JSON)
    return JsonResponse(fhir.patient(p), content_type=FHIR_JSON, json_dumps_params={"ensure_ascii": False})


def _replaced_by(request: HttpRequest, atena_no: str) -> str | None:
    try:
        return switch.replaced_by(_ctx(request), atena_no)
    except (AccessDenied, InputRejected):
        return None
