"""FHIR R4 Immunization read and search by patient: validated with fhir.resources (R4B), logged."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunization import Immunization

from yobo.core.purposes import Duty, Operation, Purpose
from yobo.immunizations import selectors, services
from yobo.immunizations.tests.conftest import add_person, dose
from yobo.web.tests.conftest import log_entries

pytestmark = pytest.mark.django_db
BABY = "1000000001"


@pytest.fixture
def records(make_ctx: Any) -> dict[str, int]:
    add_person(BABY, date(2025, 1, 10))
    add_person("1000000002", date(2020, 1, 10))
    ctx = make_ctx(Purpose.DOSE_ENTRY, duties=[Duty.ENTRY])
    services.load_demo_masters(make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK]))
    from yobo.immunizations import demo

    lot = demo.lot_numbers("PCV20")[-4][0]
    a = services.record_dose(ctx, dose(BABY, "PCV", date(2025, 3, 12), 1, product_code="PCV20", lot_number=lot,
                                       amount_ml="0.5", manufacturer="ファイザー", venue="さくらこどもクリニック",
                                       findings="特記事項なし", reactions="接種部位の発赤"))
    b = services.record_dose(ctx, dose(BABY, "MR1", date(2026, 1, 20), screening_only=True,
                                       reason_not_vaccinated="37.8℃の発熱"))
    c = services.record_dose(ctx, dose(BABY, "BCG", date(2025, 7, 1)))
    services.void_dose(ctx, c.dose_id or 0, "別人の予診票")
    return {"pcv": a.dose_id or 0, "mr1": b.dose_id or 0, "void": c.dose_id or 0}


def test_read_validates_and_maps_the_items(logged_in: Any, make_staff: Any, records: dict[str, int]) -> None:
    c = logged_in(make_staff("api.i", duties=[Duty.CLERK]))
    r = c.get(f"/fhir/Immunization/{records['pcv']}")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/fhir+json")
    data = r.json()
    imm = Immunization.model_validate(data)
    assert imm.status == "completed" and imm.patient.reference == f"Patient/{BABY}"
    codes = {cd.system: cd.code for cd in imm.vaccineCode.coding}
    assert codes["http://hl7.org/fhir/sid/cvx"] == "152" and codes["urn:yobo:vaccine"] == "PCV"
    assert imm.lotNumber and imm.expirationDate is not None and float(imm.doseQuantity.value) == 0.5
    assert imm.protocolApplied[0].doseNumberPositiveInt == 1 and imm.primarySource is True
    assert imm.performer[0].actor.identifier.value == dose(BABY, "PCV", date(2025, 3, 12)).clinic_code
    assert imm.note[0].text == "特記事項なし" and imm.reaction[0].detail.display == "接種部位の発赤"
    reads = log_entries(staff="api.i", operation=Operation.READ, resource="immunizations.dose")
    assert [e.target for e in reads] == [BABY]


def test_screening_only_is_not_done_and_void_is_entered_in_error(
        logged_in: Any, make_staff: Any, records: dict[str, int]) -> None:
    c = logged_in(make_staff("api.j", duties=[Duty.CLERK]))
    nd = Immunization.model_validate(c.get(f"/fhir/Immunization/{records['mr1']}").json())
    assert nd.status == "not-done" and nd.statusReason.text == "37.8℃の発熱"
    void = Immunization.model_validate(c.get(f"/fhir/Immunization/{records['void']}").json())
    assert void.status == "entered-in-error"


def test_search_by_patient_is_a_valid_searchset_of_active_records(
        logged_in: Any, make_staff: Any, records: dict[str, int]) -> None:
    c = logged_in(make_staff("api.k", duties=[Duty.CLERK]))
    for q in (BABY, f"Patient/{BABY}"):
        r = c.get("/fhir/Immunization", {"patient": q})
        assert r.status_code == 200
        b = Bundle.model_validate(r.json())
        assert b.type == "searchset" and b.total == 2
        ids = [e.resource.id for e in b.entry]
        assert ids == [str(records["pcv"]), str(records["mr1"])]  # date order; the void record is left out
        for e in b.entry:
            Immunization.model_validate(e.resource.model_dump())
    assert c.get("/fhir/Immunization", {"patient": "1000000002"}).json()["total"] == 0


def test_errors_are_operation_outcomes(logged_in: Any, make_staff: Any, records: dict[str, int],
                                       tclient: Any) -> None:
    c = logged_in(make_staff("api.l", duties=[Duty.CLERK]))
    assert c.get("/fhir/Immunization/999999").status_code == 404
    assert c.get("/fhir/Immunization", {"patient": "999"}).status_code == 404
    assert c.get("/fhir/Immunization", {"patient": "abc"}).status_code == 400
    r = c.get(f"/fhir/Immunization/{records['pcv']}", HTTP_X_YOBO_PURPOSE="F02")
    assert r.status_code == 403 and r.json()["resourceType"] == "OperationOutcome"
    assert selectors.get_dose  # the selector is the only way in (import contract)
