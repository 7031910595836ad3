"""The apps' disclosure parts in a real disclosure set, and a resident's correction request applied to a
dose record: for a person with doses (one corrected on request), a voucher, a certificate, an exchange
query and a fee decision, the set holds each part and every access-log entry about them, and nothing
about anyone else."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yobo.audit.models import AccessLogEntry
from yobo.core.purposes import Duty, Purpose
from yobo.governance import requests
from yobo.governance.tests.test_hooks_retention import at, person

pytestmark = pytest.mark.django_db
A = "910001"
OTHER = "910002"


@pytest.fixture(autouse=True)
def _city(settings: Any) -> None:
    settings.MUNICIPALITY_CODE = "141003"


def _records(staff: Any) -> None:
    """A voucher, a certificate, an exchange query and a fee decision of A (and a household basis
    that names another person)."""
    from yobo.certificates.models import Application, Certificate
    from yobo.exchange.models import Provision, Query
    from yobo.fees.models import ExemptionDecision
    from yobo.notices.models import PrintBatch, TargetList, Voucher

    lst = TargetList.objects.create(municipality="141003", vaccine="MR2", as_of=date(2026, 4, 1), created_by=staff,
                                    created_at=at(date(2026, 4, 1)), terminal="t")
    b = PrintBatch.objects.create(municipality="141003", kind="issue", target_list=lst, created_by=staff,
                                  created_at=at(date(2026, 4, 2)), terminal="t")
    Voucher.objects.create(municipality="141003", number="2000000001", ocr="x", atena_no=A, vaccine="MR2", dose=2,
                           batch=b, target_list=lst, issued_at=at(date(2026, 4, 2)))
    app = Application.objects.create(municipality="141003", applicant_kind="self", applicant_name="開示 太郎",
                                     atena_no=A, received_by=staff, terminal="t", received_at=at(date(2026, 5, 1)),
                                     state="issued")
    Certificate.objects.create(municipality="141003", certificate_id="CERT-A-1", atena_no=A, application=app,
                               language="ja", issue_date=date(2026, 5, 1), issued_by=staff, terminal="t", kid="k",
                               rid="r1", nbf=at(date(2026, 5, 1)), cards=["secret.card.jws"])
    Query.objects.create(municipality="141003", query_id="QA1", atena_no=A, provider="131016",
                         item_set="immunization_history", state="answered", requested_by=staff.username, terminal="t",
                         created_at=at(date(2026, 6, 1)), completed_at=at(date(2026, 6, 2)),
                         result=[{"vaccine": "MR1", "date": "2026-01-20"}])
    Provision.objects.create(municipality="141003", msg_id="PA1", query_id="x", asker="271004", permit_id="p",
                             item_set="immunization_history", atena_no=A, state="withheld",
                             answer=[{"vaccine": "MR1"}], received_at=at(date(2026, 7, 1)))
    ExemptionDecision.objects.create(
        municipality="141003", decision_no="2026-0001", atena_no=A, household_no="H1", vaccine="HZ",
        applied_on=date(2026, 8, 1), fiscal_year=2026, tax_year=2026, result="exempt", category="tax_exempt",
        basis=[{"atena_no": OTHER, "tax_status": 1}], decided_by=staff, decided_at=at(date(2026, 8, 1)))


def test_disclosure_set_holds_every_part_and_every_log_entry(
        make_staff: Callable[..., Any], make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    from yobo.certificates import selectors as cert_selectors
    from yobo.immunizations import governance_hooks as imm_hooks
    from yobo.immunizations import services as imm_services
    from yobo.immunizations.demo import clinic_code
    from yobo.immunizations.inputs import DoseInput, Source
    from yobo.notices import selectors as notice_selectors
    from yobo.people import selectors as people_selectors

    person(A, born=date(2025, 1, 10))
    person(OTHER, born=date(1980, 1, 1))
    staff = make_staff(duties=[Duty.CLERK, Duty.ENTRY])
    imm_services.load_demo_masters(make_ctx(Purpose.DOSE_IMPORT, staff=staff))
    v01 = make_ctx(Purpose.DOSE_ENTRY, staff=staff)
    first = imm_services.record_dose(v01, DoseInput(atena_no=A, vaccine="MR1", date=date(2026, 1, 20), dose_number=1,
                                                    clinic_code=clinic_code(0), source=Source.KEYED,
                                                    product_code="MR-BIKEN", lot_number="MR25000Z"))
    assert first.dose_id
    _records(staff)
    look = make_ctx(Purpose.PERSON_INQUIRY, staff=staff)
    people_selectors.get_person(look, A)
    people_selectors.get_person(look, OTHER)
    notice_selectors.vouchers_of(make_ctx(Purpose.VOUCHER_ISSUANCE, staff=staff), A)
    cert_selectors.certificates_for(make_ctx(Purpose.CERTIFICATE_ISSUANCE, staff=staff), A)

    # 訂正請求: recorded in governance, decided, then applied to the dose through immunizations
    desk = make_ctx(Purpose.DISCLOSURE_REQUEST, staff=staff)
    cid = requests.register(desk, kind="correction", atena_no=A, identity_check="マイナンバーカード",
                            detail="MR1 のロット番号が違う")
    requests.record_correction(desk, cid, item="接種記録 MR1 2026-01-20 ロット番号", before="MR25000Z",
                               after="MR25001A", decision="accepted", reason="医療機関の記録で確認")
    requests.decide(desk, cid, "granted")
    new_id = imm_hooks.apply_correction(desk, first.dose_id, request_ref=f"G{cid}", reason="ロット番号の誤り",
                                        lot_number="MR25001A")
    assert new_id != first.dose_id

    rid = requests.register(desk, kind="disclosure", atena_no=A, identity_check="運転免許証")
    _, _, data = requests.write_disclosure(desk, rid, tmp_path)
    parts = {p["code"]: p["rows"] for p in data["parts"]}
    doses = parts["immunizations.doses"]
    assert [(d["state"], d["lot_number"], d["source"]) for d in doses] == [
        ("superseded", "MR25000Z", "keyed"), ("active", "MR25001A", "keyed")]
    (corr,) = parts["immunizations.corrections"]
    assert corr["before"]["lot_number"] == "MR25000Z" and corr["after"]["lot_number"] == "MR25001A"
    assert corr["reason"].startswith(f"訂正請求 G{cid}")
    assert [v["number"] for v in parts["notices.vouchers"]] == ["2000000001"]
    (cert,) = parts["certificates"]
    assert cert["certificate_id"] == "CERT-A-1" and cert["applicant"] == "開示 太郎"
    ex = {r["record"]: r for r in parts["exchange"]}
    assert ex["情報照会 (当市から)"]["content"] == [{"vaccine": "MR1", "date": "2026-01-20"}]
    assert ex["情報提供 (当市から)"]["content"] == "" and ex["情報提供 (当市から)"]["other_body"] == ""  # withheld
    (fee,) = parts["fees"]
    assert fee["decision_no"] == "2026-0001" and fee["result"] == "免除"

    text = json.dumps(data, ensure_ascii=False, default=str)
    assert OTHER not in text  # not the household member in the fee basis, nor their log entries
    assert "secret.card.jws" not in text and "271004" not in text

    # every access-log entry about the person is in the set, but the ones written after it was read
    got = [r["seq"] for r in data["access_log"]]
    about = dict(AccessLogEntry.objects.filter(target=A).values_list("seq", "request_id"))
    assert set(got) <= set(about)
    assert all(about[s] == desk.request_id for s in about if s not in got)
    resources = set(AccessLogEntry.objects.filter(seq__in=got).values_list("resource", flat=True))
    assert {"immunizations.dose", "notices.voucher", "certificates.certificate", "people.person"} <= resources
