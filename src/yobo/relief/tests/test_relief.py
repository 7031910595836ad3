"""Health-damage relief: reception checked against the dose records, every state with its rules,
encrypted documents opened only through the door, yearly decisions and payments."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Duty, Operation, Purpose
from yobo.fees.tests.helpers import add_dose
from yobo.relief import selectors, services
from yobo.relief.services import Applicant, Vaccination


@pytest.fixture
def child(db: Any) -> Any:
    from yobo.people.tests.test_registry_staff import add_person

    p = add_person("1000000101", "川口　陽太", "カワグチ　ヨウタ", date(2024, 5, 1), household="2000000101")
    add_dose(p, "MR1", date(2025, 5, 20))
    return p


@pytest.fixture
def r01(make_ctx: Any) -> Any:
    return make_ctx(Purpose.RELIEF, duties=[Duty.RELIEF])


def _receive(ctx: Any, **kw: Any) -> int:
    return services.receive(ctx, "1000000101", kw.pop("benefit", "medical"), Applicant("川口　花子", "母"),
                            kw.pop("vaccinations", [Vaccination("MR1", date(2025, 5, 20))]),
                            received_on=kw.pop("received_on", date(2026, 4, 10)), **kw)


def test_claim_without_a_recorded_vaccination_is_refused_and_a_partial_one_flagged(child: Any, r01: Any) -> None:
    with pytest.raises(InputRejected, match="記録がありません"):
        _receive(r01, vaccinations=[Vaccination("HIB", date(2024, 7, 1))])
    cid = _receive(r01, vaccinations=[Vaccination("MR1", date(2025, 5, 20)), Vaccination("VAR", date(2025, 5, 20))])
    c = selectors.claim(r01, cid)
    assert [v["on_record"] for v in c.vaccinations] == [True, False]
    assert c.row.flags == ["接種記録なし: VAR 2025-05-20"]
    with pytest.raises(InputRejected):
        services.receive(r01, "9999999999", "medical", Applicant("誰か"), [Vaccination("MR1", date(2025, 5, 20))])


def test_every_state_in_order_with_its_rules(child: Any, r01: Any, make_ctx: Any) -> None:
    cid = _receive(r01)
    row = selectors.status_list(r01)[0]
    assert (row.state, row.due_on) == ("received", date(2026, 6, 9))
    with pytest.raises(InputRejected):  # straight to the ministry: the committee comes first
        services.move(r01, cid, "forwarded", on=date(2026, 5, 1), note="x")
    services.move(r01, cid, "committee", on=date(2026, 5, 1), note="第3回調査会に付議")
    with pytest.raises(InputRejected, match="議事"):
        services.move(r01, cid, "forwarded", on=date(2026, 5, 20))
    doc = services.attach(r01, cid, "調査会議事録", "minutes.txt", "議事要旨: 因果関係を否定できない".encode())
    services.move(r01, cid, "forwarded", on=date(2026, 5, 20), document_id=doc)
    assert selectors.claim(r01, cid).row.due_on is None  # the ministry's time, not the city's
    with pytest.raises(InputRejected, match="審査結果"):
        services.move(r01, cid, "approved", note="")
    with pytest.raises(InputRejected):
        services.move(r01, cid, "approved", on=date(2026, 9, 1), note="認定", amount_yen=1234.5)
    services.move(r01, cid, "approved", on=date(2026, 9, 1), note="疾病・障害認定審査会の審議により認定",
                  amount_yen="52,300")
    with pytest.raises(InputRejected):  # payment before the applicant is notified
        services.record_payment(r01, cid, date(2026, 9, 5), 52300)
    services.move(r01, cid, "notified", on=date(2026, 9, 8), note="認定通知書を送付")
    services.record_payment(r01, cid, date(2026, 9, 30), 52300, period="2026年4月〜8月分")
    c = selectors.claim(r01, cid)
    assert c.row.state == "paid" and c.paid_total_yen == 52300 and c.approved_amount_yen == 52300
    assert [e.to_state for e in c.events] == ["received", "committee", "forwarded", "approved", "notified", "paid"]
    assert c.events[2].document_id == doc and c.decision_on == date(2026, 9, 1)
    assert selectors.status_list(r01) == []  # a paid claim leaves the open list


def test_rejection_can_be_appealed_and_decided_again(child: Any, r01: Any) -> None:
    cid = _receive(r01, benefit="disability")
    for to, note in (("committee", "付議"), ("forwarded", "議事要旨"), ("rejected", "否認")):
        services.move(r01, cid, to, on=date(2026, 6, 1), note=note)
    with pytest.raises(InputRejected):
        services.record_payment(r01, cid, date(2026, 6, 2), 1)
    services.move(r01, cid, "notified", on=date(2026, 6, 2), note="否認通知")
    services.move(r01, cid, "appealed", on=date(2026, 7, 1), note="審査請求書を受理")
    services.move(r01, cid, "approved", on=date(2026, 12, 1), note="裁決により認定", grade="2級")
    services.move(r01, cid, "notified", on=date(2026, 12, 2), note="通知")
    services.set_amount(r01, 2026, "disability", 4_000_000, grade="2級")
    services.decide_year(r01, cid, 2026, basis="他の公的年金の受給なし（照会結果）")
    services.record_payment(r01, cid, date(2026, 12, 15), 1_000_000, period="2026年度第1期")
    services.record_payment(r01, cid, date(2027, 2, 15), 1_000_000, period="2026年度第2期")  # continuing
    c = selectors.claim(r01, cid)
    assert c.annual[0]["amount_yen"] == 4_000_000 and c.paid_total_yen == 2_000_000
    with pytest.raises(InputRejected, match="給付額が設定されていません"):
        services.decide_year(r01, cid, 2027)


def test_documents_are_encrypted_and_every_opening_is_logged(child: Any, r01: Any, settings: Any) -> None:
    from yobo.audit.models import AccessLogEntry
    from yobo.relief.models import Document

    cid = _receive(r01)
    secret = "診断書: 川口陽太 急性散在性脳脊髄炎".encode()
    did = services.attach(r01, cid, "診断書", "shindan.pdf", secret, "application/pdf")
    assert secret not in bytes(Document.objects.get(pk=did).ciphertext)
    view, data = selectors.open_document(r01, did)
    assert data == secret and view.file_name == "shindan.pdf"
    assert AccessLogEntry.objects.filter(resource="relief.document", operation=Operation.READ,
                                         target="1000000101", purpose="R01").count() == 1
    # A blob moved onto another row does not open.
    did2 = services.attach(r01, cid, "その他", "other.txt", b"other")
    Document.objects.filter(pk=did2).update(ciphertext=Document.objects.get(pk=did).ciphertext,
                                            nonce=Document.objects.get(pk=did).nonce)
    with pytest.raises(Exception, match="復号"):
        selectors.open_document(r01, did2)


def test_only_relief_staff_may_read(child: Any, r01: Any, make_ctx: Any) -> None:
    from yobo.audit.models import AccessLogEntry

    cid = _receive(r01)
    payment = make_ctx(Purpose.RELIEF, duties=[Duty.PAYMENT])
    with pytest.raises(AccessDenied):
        selectors.claim(payment, cid)
    assert AccessLogEntry.objects.filter(resource="relief.claim", result="denied").count() == 1


def test_late_claim_is_flagged(child: Any, r01: Any) -> None:
    cid = _receive(r01, event_date=date(2020, 1, 10))
    assert any("請求期限" in f for f in selectors.claim(r01, cid).row.flags)
