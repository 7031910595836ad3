"""FHIR R4 ``ImmunizationRecommendation`` from the schedule engine (定期接種の接種時期).

One resource per person and date: a ``recommendation`` per vaccine series the person is, was or will
be a target of (CONTRACTS.md §2 statuses), with

- ``vaccineCode``: CVX (the series' unspecified-formulation code) and yobo's series code;
- ``forecastStatus``: HL7's immunization-recommendation-status where one fits (``due``,
  ``complete``) and always yobo's own status (``due``, ``upcoming``, ``complete``, ``expired``:
  HL7's ``overdue`` means "still to give" and does not say "no longer routine");
- ``dateCriterion``: LOINC 30981-5 earliest date to give (window start), 30980-7 date vaccine due
  (the next dose's earliest date once intervals are met), 59777-3 latest date to give (window end);
- ``doseNumberPositiveInt``: the next dose (for ``complete`` the plan's last dose).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from yobo.certificates.shc import CVX, CVX_CODES, YOBO_VACCINE
from yobo.schedule.api import SeriesStatus
from yobo.schedule.rules import load_series

HL7_STATUS = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"
YOBO_STATUS = "urn:yobo:schedule-status"
LOINC = "http://loinc.org"
STATUS_LABELS = {"due": "接種時期", "upcoming": "接種時期前", "complete": "完了", "expired": "定期接種の期間終了"}
_HL7 = {"due": "due", "complete": "complete"}
EARLIEST, DUE, LATEST = ("30981-5", "Earliest date to give"), ("30980-7", "Date vaccine due"), (
    "59777-3", "Latest date to give immunization")


def _criterion(code: tuple[str, str], value: date) -> dict[str, Any]:
    return {"code": {"coding": [{"system": LOINC, "code": code[0], "display": code[1]}]}, "value": value.isoformat()}


def _usable(d: date) -> bool:
    return date.min < d < date.max


def recommendation(atena_no: str, as_of: date, series: list[SeriesStatus]) -> dict[str, Any]:
    names = {code: s.name_ja for code, s in load_series().items()}
    recs = []
    for s in series:
        codings: list[dict[str, Any]] = []
        if s.vaccine in CVX_CODES:
            codings.append({"system": CVX, "code": CVX_CODES[s.vaccine]})
        codings.append({"system": YOBO_VACCINE, "code": s.vaccine, "display": names.get(s.vaccine, s.vaccine)})
        status = [{"system": YOBO_STATUS, "code": s.status, "display": STATUS_LABELS.get(s.status, s.status)}]
        if s.status in _HL7:
            status.insert(0, {"system": HL7_STATUS, "code": _HL7[s.status]})
        criteria = []
        if _usable(s.eligible_from):
            criteria.append(_criterion(EARLIEST, s.eligible_from))
        if s.status == "due" and _usable(s.earliest):
            criteria.append(_criterion(DUE, s.earliest))
        if _usable(s.eligible_until):
            criteria.append(_criterion(LATEST, s.eligible_until))
        rec: dict[str, Any] = {
            "vaccineCode": [{"coding": codings}],
            "forecastStatus": {"coding": status, "text": STATUS_LABELS.get(s.status, s.status)},
            "series": names.get(s.vaccine, s.vaccine),
        }
        if criteria:
            rec["dateCriterion"] = criteria
        if s.dose > 0:
            rec["doseNumberPositiveInt"] = s.dose
        recs.append(rec)
    out: dict[str, Any] = {
        "resourceType": "ImmunizationRecommendation",
        "id": f"{atena_no}-{as_of:%Y%m%d}",
        "patient": {"reference": f"Patient/{atena_no}"},
        "date": as_of.isoformat(),
        "recommendation": recs,
    }
    return out


def searchset(resources: list[dict[str, Any]], self_url: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [{"fullUrl": f"ImmunizationRecommendation/{r['id']}", "resource": r, "search": {"mode": "match"}}
                  for r in resources],
    }
