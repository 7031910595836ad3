"""REST person and FHIR Patient reads: through the session and the door, validated as FHIR R4."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.patient import Patient

from yobo.api import fhir
from yobo.core.purposes import Duty, Operation, Purpose
from yobo.mynumber import keys
from yobo.people import protection
from yobo.people.models import ProtectionAction
from yobo.people.tests.test_registry_staff import add_person
from yobo.web.tests.conftest import log_entries

pytestmark = pytest.mark.django_db


@pytest.fixture
def city(key_dir: Path) -> None:
    keys.ensure_keys()
    add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(1985, 4, 1), relationship="世帯主")
    add_person("1000000009", "𠮷田　花子", "ヨシダ　ハナコ", date(1940, 2, 29), sex=2, status=3)


def test_fhir_patient_validates_and_carries_kanji_and_kana(logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("api.a", duties=[Duty.CLERK]))
    r = c.get("/fhir/Patient/1000000001")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/fhir+json")
    data = r.json()
    p = Patient.model_validate(data)
    assert p.id == "1000000001" and p.gender == "male" and str(p.birthDate) == "1985-04-01" and p.active
    assert p.identifier[0].value == "1000000001" and p.identifier[0].system == fhir.atena_system()
    reps = {n.extension[0].valueCode: n for n in p.name}
    assert reps["IDE"].family == "山田" and reps["IDE"].given == ["太郎"]
    assert reps["SYL"].family == "ヤマダ" and reps["SYL"].text == "ヤマダ　タロウ"
    assert p.address[0].postalCode == "231-0005" and "本町" in p.address[0].text
    reads = log_entries(staff="api.a", operation=Operation.READ, target="1000000001")
    assert reads and reads[-1].purpose == Purpose.PERSON_INQUIRY


def test_fhir_deceased_rare_kanji_and_purpose_header(logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("api.b", duties=[Duty.CLERK]))
    data = c.get("/fhir/Patient/1000000009", HTTP_X_YOBO_PURPOSE="C01").json()
    p = Patient.model_validate(data)
    assert p.active is False and p.deceasedBoolean is True and p.name[0].family == "𠮷田"
    assert log_entries(staff="api.b", target="1000000009")[-1].purpose == "C01"
    r = c.get("/fhir/Patient/1000000009", HTTP_X_YOBO_PURPOSE="A01")  # not the clerk's purpose
    assert r.status_code == 403 and r.json()["resourceType"] == "OperationOutcome"
    assert c.get("/fhir/Patient/1999999999").status_code == 404


def test_protected_patient_address_masked_without_the_right(
        logged_in: Any, make_staff: Any, make_ctx: Any, city: None) -> None:
    rid = protection.request_change(make_ctx(Purpose.PROTECTION_MEASURE), "1000000001", ProtectionAction.SET)
    protection.confirm(make_ctx(Purpose.PROTECTION_MEASURE), rid)
    c = logged_in(make_staff("api.c", duties=[Duty.CLERK]))
    data = c.get("/fhir/Patient/1000000001").json()
    p = Patient.model_validate(data)
    assert p.address[0].text is None and p.address[0].extension[0].valueCode == "masked" and not p.telecom
    assert "本町" not in str(data)
    rest = c.get("/api/v1/persons/1000000001").json()
    assert rest["masked"] and rest["address"] is None and rest["phone"] is None
    c.post("/logout/")
    boss = logged_in(make_staff("api.d", duties=[Duty.SUPERVISOR]))
    assert "本町" in boss.get("/fhir/Patient/1000000001").json()["address"][0]["text"]


def test_rest_person_json(logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("api.e", duties=[Duty.CLERK]))
    data = c.get("/api/v1/persons/1000000001").json()
    assert data["atena_no"] == "1000000001" and data["name_kana"] == "ヤマダ　タロウ"
    assert data["birth_date"] == "1985-04-01" and data["birth_wareki"] == "昭和60年4月1日"


def test_api_needs_a_session_on_a_registered_terminal(tclient: Any, city: None) -> None:
    r = tclient.get("/fhir/Patient/1000000001")
    assert r.status_code == 401 and r.json()["resourceType"] == "OperationOutcome"
    assert tclient.get("/api/v1/persons/1000000001").status_code == 401
    from django.test import Client

    assert Client().get("/fhir/Patient/1000000001").status_code == 403  # no registered terminal
