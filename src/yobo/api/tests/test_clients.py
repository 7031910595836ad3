"""System clients (bearer credential on their own terminal), ImmunizationRecommendation, the SHC key set
and revocation lists, and the OpenAPI document (true to the routes; schemathesis finds no server error)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunizationrecommendation import ImmunizationRecommendation

from yobo.access import clients
from yobo.api import openapi
from yobo.core.purposes import Duty, Operation, Purpose, Result
from yobo.web.tests.conftest import log_entries

pytestmark = pytest.mark.django_db


@pytest.fixture
def city(key_dir: Path, make_ctx: Any) -> None:
    from yobo.certificates import issuer_keys
    from yobo.immunizations import demo, services
    from yobo.immunizations.inputs import DoseInput, Source
    from yobo.mynumber import keys
    from yobo.people.tests.test_registry_staff import add_person

    keys.ensure_keys()
    issuer_keys.ensure_keys()
    add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(2025, 3, 1))
    clerk = make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK])
    services.load_demo_masters(clerk)
    for n, on in ((1, date(2025, 5, 10)), (2, date(2025, 6, 14))):
        services.record_dose(clerk, DoseInput(atena_no="1000000001", vaccine="HIB", date=on, dose_number=n,
                                              clinic_code=demo.clinic_code(0), source=Source.KEYED))


@pytest.fixture
def token(make_ctx: Any, city: None) -> str:
    admin = make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN])
    _info, tok = clients.register(admin, "kenshin", duties=[Duty.CLERK], purposes=["P02", "N03"])
    return tok


def bearer(tok: str, **headers: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {tok}", **headers}


def test_system_client_reads_without_a_terminal_cookie_and_is_logged(token: str) -> None:
    c = Client()  # no device cookie, no session
    r = c.get("/fhir/Patient/1000000001", **bearer(token))
    assert r.status_code == 200 and r.json()["resourceType"] == "Patient"
    entry = log_entries(operation=Operation.READ, target="1000000001", resource="people.person")[-1]
    assert (entry.staff, entry.terminal, entry.purpose, entry.result) == ("api.kenshin", "api-kenshin", "P02", "ok")
    r = c.get("/api/v1/persons/1000000001", **bearer(token, HTTP_X_YOBO_PURPOSE="N03"))
    assert r.status_code == 200 and log_entries(target="1000000001")[-1].purpose == "N03"


def test_refusals(token: str, make_ctx: Any) -> None:
    c = Client()
    # nothing presented: the terminal guard refuses (no device cookie, no credential)
    assert c.get("/api/v1/persons/1000000001").status_code == 403
    r = c.get("/api/v1/persons/1000000001", **bearer("yobo_not-a-real-credential"))
    assert r.status_code == 401
    assert log_entries(result=Result.DENIED, detail="client_credential")
    r = c.get("/fhir/Patient/1000000001", **bearer(token, HTTP_X_YOBO_PURPOSE="C01"))  # not given to this client
    assert r.status_code == 403 and r.json()["resourceType"] == "OperationOutcome"
    assert log_entries(result=Result.DENIED, detail="purpose_not_permitted", staff="api.kenshin")
    new = clients.rotate(make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN]), "kenshin")
    assert c.get("/fhir/Patient/1000000001", **bearer(token)).status_code == 401  # the old credential is dead
    assert c.get("/fhir/Patient/1000000001", **bearer(new)).status_code == 200
    clients.revoke(make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN]), "kenshin", "system retired")
    assert c.get("/fhir/Patient/1000000001", **bearer(new)).status_code == 401


def test_register_refuses_admin_duty_and_foreign_purposes(make_ctx: Any, db: Any) -> None:
    from yobo.core.errors import AccessDenied, InputRejected

    admin = make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN])
    with pytest.raises(InputRejected):
        clients.register(admin, "bad", duties=[Duty.ADMIN], purposes=["P02"])
    with pytest.raises(InputRejected):
        clients.register(admin, "bad", duties=[Duty.CERTIFICATE], purposes=["V01"])
    with pytest.raises(AccessDenied):
        clients.register(make_ctx(Purpose.ADMINISTRATION, duties=[Duty.CLERK]), "x", duties=[Duty.CLERK],
                         purposes=["P02"])


def test_immunization_recommendation_validates(token: str) -> None:
    r = Client().get("/fhir/ImmunizationRecommendation?patient=Patient/1000000001&date=2025-07-01", **bearer(token))
    assert r.status_code == 200 and r["Content-Type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(r.json())
    assert bundle.type == "searchset" and bundle.total == 1
    rec = ImmunizationRecommendation.model_validate(r.json()["entry"][0]["resource"])
    assert rec.patient.reference == "Patient/1000000001" and str(rec.date)[:10] == "2025-07-01"
    by_code = {next(c.code for c in x.vaccineCode[0].coding if c.system == "urn:yobo:vaccine"): x
               for x in rec.recommendation}
    hib = by_code["HIB"]
    assert hib.doseNumberPositiveInt == 3
    assert {c.code for c in hib.forecastStatus.coding} == {"due"}
    assert any(c.code == "17" for c in hib.vaccineCode[0].coding)
    assert {d.code.coding[0].code for d in hib.dateCriterion} >= {"30981-5", "59777-3"}
    assert log_entries(operation=Operation.READ, target="1000000001", resource="immunizations.dose")
    c = Client()
    assert c.get("/fhir/ImmunizationRecommendation", **bearer(token)).status_code == 400
    assert c.get("/fhir/ImmunizationRecommendation?patient=1999999999", **bearer(token)).status_code == 404
    sched = c.get("/api/v1/persons/1000000001/schedule?as_of=2025-07-01", **bearer(token)).json()
    assert {"vaccine": "HIB", "dose": 3, "status": "due"}.items() <= next(
        s for s in sched["series"] if s["vaccine"] == "HIB").items()


def test_jwks_and_crl_are_public(city: None, make_ctx: Any) -> None:
    from yobo.certificates import services
    from yobo.certificates.services import ApplicationInput

    c = Client()  # no terminal, no login
    r = c.get("/.well-known/jwks.json")
    assert r.status_code == 200 and r["Access-Control-Allow-Origin"] == "*"
    keys = r.json()["keys"]
    assert len(keys) == 1 and "d" not in keys[0] and keys[0]["crlVersion"] == 1
    kid = keys[0]["kid"]
    assert c.get(f"/.well-known/crl/{kid}.json").json() == {"kid": kid, "method": "rid", "ctr": 1, "rids": []}
    assert c.get("/.well-known/crl/unknownkid.json").status_code == 404
    ctx = make_ctx(Purpose.CERTIFICATE_ISSUANCE, duties=[Duty.CERTIFICATE])
    app = services.receive_application(ctx, ApplicationInput("self", "山田　太郎", ("passport",)))
    services.identify(ctx, app, "1000000001", "three_items")
    issued = services.issue(ctx, app)
    services.revoke(ctx, issued.certificate_id, "誤交付")
    assert c.get(f"/.well-known/crl/{kid}.json").json()["rids"] == [issued.rid]
    assert c.get("/.well-known/jwks.json").json()["keys"][0]["crlVersion"] == 2


def test_openapi_document_is_true_to_the_routes(db: Any) -> None:
    r = Client().get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    names = {name for name, path, _ in openapi._routes() if path != "/api/v1/openapi.json"}
    missing = names - set(openapi.OPERATIONS)
    assert not missing, f"describe these routes in api/openapi.py: {missing}"
    assert set(openapi.OPERATIONS) <= names, "OPERATIONS describes a route that does not exist"
    assert not [p for p, ops in doc["paths"].items() if ops["get"].get("x-undocumented")]
    assert "/api/v1/persons/{atena_no}/schedule" in doc["paths"] and "/fhir/ImmunizationRecommendation" in doc["paths"]
    from django.urls import resolve

    for path in doc["paths"]:
        assert resolve(path.replace("{atena_no}", "1000000001").replace("{id}", "1")).url_name in names
