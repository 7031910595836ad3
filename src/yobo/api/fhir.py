"""A person as a FHIR R4 ``Patient`` (JP Core-like). See docs/decisions/059-rest-fhir.md.

- ``identifier``: the 宛名番号 under a URN of the city (``YOBO_FHIR_ATENA_SYSTEM``, default
  ``urn:yobo:<地方公共団体コード>:atena-no``).
- ``name``: as JP Core does, two ``HumanName`` entries marked with the iso21090-EN-representation
  extension: ``IDE`` (漢字) and ``SYL`` (カナ); family/given split at the first space, ``text``
  always the name as registered.
- ``address``/``telecom`` of a protected person (支援措置) shown to a caller without the right: an
  address carrying only the data-absent-reason ``masked`` extension, and no telecom.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

from yobo.people.lookup import PersonCard

EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
JP_CORE_PATIENT = "http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"
_SPACE = re.compile(r"[\s\u3000]+")
_GENDER = {1: "male", 2: "female"}
RESIDENT, DECEASED = 1, 3


def atena_system() -> str:
    return str(getattr(settings, "YOBO_FHIR_ATENA_SYSTEM", "") or f"urn:yobo:{settings.MUNICIPALITY_CODE}:atena-no")


def _name(text: str, representation: str) -> dict[str, Any]:
    parts = _SPACE.split(text.strip(), maxsplit=1)
    name: dict[str, Any] = {
        "extension": [{"url": EN_REPRESENTATION, "valueCode": representation}],
        "use": "official",
        "text": _SPACE.sub("\u3000", text.strip()),
    }
    if parts and parts[0]:
        name["family"] = parts[0]
    if len(parts) > 1 and parts[1]:
        name["given"] = [parts[1]]
    return name


def replaced_patient(old_atena_no: str, new_atena_no: str) -> dict[str, Any]:
    """The Patient of a 住登外者 switched to the register's 宛名番号 (people.switch): inactive,
    carrying only its old identifier and a ``replaced-by`` link to the person's current Patient —
    FHIR's way to say that a record was merged into another. No other item is repeated here."""
    return {
        "resourceType": "Patient",
        "id": old_atena_no,
        "meta": {"profile": [JP_CORE_PATIENT]},
        "identifier": [{"use": "old", "system": atena_system(), "value": old_atena_no}],
        "active": False,
        "link": [{"other": {"reference": f"Patient/{new_atena_no}"}, "type": "replaced-by"}],
    }


def patient(p: PersonCard) -> dict[str, Any]:
    """The FHIR R4 Patient resource (as a JSON-ready dict) for a person card."""
    res: dict[str, Any] = {
        "resourceType": "Patient",
        "id": p.atena_no,
        "meta": {"profile": [JP_CORE_PATIENT]},
        "identifier": [{"use": "usual", "system": atena_system(), "value": p.atena_no}],
        "active": p.status == RESIDENT,
        "name": [_name(p.name_kanji, "IDE"), _name(p.name_kana, "SYL")],
        "gender": _GENDER.get(p.sex, "unknown"),
        "birthDate": p.birth_date.isoformat(),
    }
    if p.status == DECEASED:
        if p.status_date:
            res["deceasedDateTime"] = p.status_date.isoformat()
        else:
            res["deceasedBoolean"] = True
    if p.masked:
        res["address"] = [{"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "masked"}]}]
        return res
    addr: dict[str, Any] = {"use": "home", "text": " ".join(x for x in (p.address, p.address_extra) if x),
                            "country": "JP"}
    if p.address:
        addr["line"] = [x for x in (p.address, p.address_extra) if x]
    if p.postal_code:
        addr["postalCode"] = f"{p.postal_code[:3]}-{p.postal_code[3:]}" if len(p.postal_code) == 7 else p.postal_code
    res["address"] = [addr]
    if p.phone:
        res["telecom"] = [{"system": "phone", "value": p.phone, "use": "home"}]
    return res
