"""FHIR R4 ``Immunization``: ``GET /fhir/Immunization/<id>`` (read) and
``GET /fhir/Immunization?patient=<宛名番号>`` (searchset of the person's active records).

Read through ``immunizations.selectors`` with the caller's context (``auth.context``, purpose from
``X-Yobo-Purpose``, default P02), so every call is a logged READ of the 宛名番号. The mapping:

- ``status``: ``completed``; ``not-done`` for 予診のみ (``statusReason`` the reason given);
  ``entered-in-error`` for a record since corrected (訂正前) or cancelled (取消), readable by id only.
- ``vaccineCode``: CVX (unspecified formulation of the series) and yobo's series code, plus the
  product code (``urn:yobo:<市町村>:vaccine-product``) with its name when the record names one.
- ``patient``: ``Patient/<宛名番号>`` (the same id ``/fhir/Patient`` serves).
- ``occurrenceDateTime`` (接種日), ``recorded`` (入力日), ``primarySource`` (true for the clinic's
  own report: keyed 予診票, clinic CSV, HL7; false for VRS, exchange, API), ``lotNumber``,
  ``expirationDate`` (from the lot master), ``manufacturer.display``, ``doseQuantity`` (mL, UCUM),
  ``performer`` (the clinic by its 医療機関コード), ``location.display`` (接種会場),
  ``protocolApplied`` (series code and the reported dose number), ``programEligibility`` (実施区分),
  ``note`` (予診の所見), ``reaction.detail.display`` (副反応).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from yobo.certificates.shc import CVX, CVX_CODES, YOBO_VACCINE
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.immunizations import selectors as doses
from yobo.immunizations.selectors import DoseView
from yobo.schedule.rules import load_series

from .schedule_views import FHIR_JSON, _call, _outcome

_PATIENT = re.compile(r"^(?:Patient/)?([0-9]{1,15})$")
UCUM = "http://unitsofmeasure.org"
PRIMARY_SOURCES = frozenset({"keyed", "clinic_csv", "hl7"})
CATEGORY_LABELS = {"routine": "定期接種", "voluntary": "任意接種（助成）", "catch_up": "キャッチアップ接種",
                   "special": "長期療養等の特例"}


def product_system() -> str:
    return f"urn:yobo:{settings.MUNICIPALITY_CODE}:vaccine-product"


def clinic_system() -> str:
    return f"urn:yobo:{settings.MUNICIPALITY_CODE}:medical-institution-code"


def dose_system() -> str:
    return f"urn:yobo:{settings.MUNICIPALITY_CODE}:dose-id"


def immunization(d: DoseView, *, product_names: dict[str, str] | None = None,
                 lot_expiry: dict[tuple[str, str], str] | None = None) -> dict[str, Any]:
    """A dose record as a FHIR R4 Immunization (JSON-ready dict)."""
    names = {c: s.name_ja for c, s in load_series().items()}
    coding: list[dict[str, Any]] = []
    if d.vaccine in CVX_CODES:
        coding.append({"system": CVX, "code": CVX_CODES[d.vaccine]})
    coding.append({"system": YOBO_VACCINE, "code": d.vaccine, "display": names.get(d.vaccine, d.vaccine)})
    if d.product_code:
        prod: dict[str, Any] = {"system": product_system(), "code": d.product_code}
        if product_names and d.product_code in product_names:
            prod["display"] = product_names[d.product_code]
        coding.append(prod)
    res: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": str(d.id),
        "identifier": [{"system": dose_system(), "value": str(d.id)}],
        "status": "completed",
        "vaccineCode": {"coding": coding, "text": names.get(d.vaccine, d.vaccine)},
        "patient": {"reference": f"Patient/{d.atena_no}"},
        "occurrenceDateTime": d.date.isoformat(),
        "recorded": d.entered_on.isoformat(),
        "primarySource": d.source in PRIMARY_SOURCES,
    }
    if d.state != "active":
        res["status"] = "entered-in-error"
    elif d.screening_only:
        res["status"] = "not-done"
        if d.reason_not_vaccinated:
            res["statusReason"] = {"text": d.reason_not_vaccinated}
    if d.lot_number:
        res["lotNumber"] = d.lot_number
        exp = (lot_expiry or {}).get((d.product_code, d.lot_number.upper()))
        if exp:
            res["expirationDate"] = exp
    if d.manufacturer:
        res["manufacturer"] = {"display": d.manufacturer}
    if d.amount_ml is not None:
        res["doseQuantity"] = {"value": float(d.amount_ml), "unit": "mL", "system": UCUM, "code": "mL"}
    if d.clinic_code:
        res["performer"] = [{"actor": {"identifier": {"system": clinic_system(), "value": d.clinic_code},
                                       "display": d.venue or d.clinic_code}}]
    if d.venue:
        res["location"] = {"display": d.venue}
    protocol: dict[str, Any] = {"series": d.vaccine, "targetDisease": [{"text": names.get(d.vaccine, d.vaccine)}]}
    if d.dose_number:
        protocol["doseNumberPositiveInt"] = d.dose_number
    else:
        protocol["doseNumberString"] = "不明"
    res["protocolApplied"] = [protocol]
    res["programEligibility"] = [{"text": CATEGORY_LABELS.get(d.category, d.category)}]
    if d.findings:
        res["note"] = [{"text": d.findings}]
    if d.reactions:
        res["reaction"] = [{"detail": {"display": d.reactions}, "reported": True}]
    return res


def _masters() -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    names = {p.code: p.name for p in doses.products()}
    expiry = {(lot.product_code, lot.lot_number.upper()): lot.expiry.isoformat() for lot in doses.lots()
              if lot.expiry}
    return names, expiry


def _json(body: dict[str, Any]) -> JsonResponse:
    return JsonResponse(body, content_type=FHIR_JSON, json_dumps_params={"ensure_ascii": False})


@require_GET
def immunization_read(request: HttpRequest, id: str) -> JsonResponse:
    def work(ctx: AccessContext) -> JsonResponse:
        try:
            d = doses.get_dose(ctx, int(id))
        except InputRejected as exc:
            return _outcome("not-found", str(exc), 404)
        names, expiry = _masters()
        return _json(immunization(d, product_names=names, lot_expiry=expiry))

    return _call(request, True, work)


@require_GET
def immunization_search(request: HttpRequest) -> JsonResponse:
    def work(ctx: AccessContext) -> JsonResponse:
        m = _PATIENT.match(request.GET.get("patient", "").strip())
        if m is None:
            raise InputRejected("patient=<宛名番号> を指定してください。 / Give patient=<atena number>.")
        atena = m.group(1)
        found = doses.person_history(ctx, atena).doses  # a logged READ; unknown persons are 404
        names, expiry = _masters()
        resources = [immunization(c.dose, product_names=names, lot_expiry=expiry) for c in reversed(found)]
        return _json({
            "resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "link": [{"relation": "self", "url": request.build_absolute_uri()}],
            "entry": [{"fullUrl": request.build_absolute_uri(f"/fhir/Immunization/{r['id']}"), "resource": r,
                       "search": {"mode": "match"}} for r in resources],
        })

    return _call(request, True, work)
