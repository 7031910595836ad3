"""Applications, the three searches, issuance, revocation and key rotation — through the door (C01)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from yobo.audit.models import AccessLogEntry
from yobo.certificates import issuer_keys, selectors, services
from yobo.certificates.management.commands.certificates import project_keyset
from yobo.certificates.models import Application, Certificate
from yobo.certificates.services import ApplicationInput
from yobo.certificates.verify import Reason, verify
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Duty, Operation, Purpose, Result

from .conftest import mynumber

pytestmark = pytest.mark.django_db


def window_app(**kw: Any) -> ApplicationInput:
    base: dict[str, Any] = {"applicant_kind": "self", "applicant_name": "山田　花子",
                            "documents_seen": ("driver_license",)}
    base.update(kw)
    return ApplicationInput(**base)


def test_application_rules(certificate_city: Any, c01: Any) -> None:
    with pytest.raises(InputRejected, match="委任状"):
        services.receive_application(c01, window_app(applicant_kind="agent", agent_relationship="母"))
    with pytest.raises(InputRejected, match="本人確認書類"):
        services.receive_application(c01, window_app(documents_seen=()))
    with pytest.raises(InputRejected, match="ローマ字氏名"):
        services.receive_application(c01, window_app(language="en"))
    with pytest.raises(InputRejected, match="旅券番号"):
        services.receive_application(c01, window_app(language="en", romanised_name="Yamada Taro", passport_no="x"))
    assert not Application.objects.exists()
    app_id = services.receive_application(c01, window_app(
        applicant_kind="agent", agent_relationship="母", letter_of_authority_seen=True, language="en",
        romanised_name="ｙａｍａｄａ  taro", passport_no="tk1234567", nationality="jpn"))
    a = selectors.application(c01, app_id)
    assert a.romanised_name == "YAMADA TARO" and a.passport_no == "TK1234567" and a.nationality == "JPN"
    assert a.document_labels == ["運転免許証"] and a.letter_of_authority_seen and a.state == "received"
    created = AccessLogEntry.objects.get(request_id=c01.request_id, operation=Operation.CREATE)
    assert created.purpose == Purpose.CERTIFICATE_ISSUANCE and created.resource == services.APPLICATION_RESOURCE


def test_three_item_search_is_width_and_kana_insensitive(certificate_city: Any, c01: Any) -> None:
    found = selectors.search_three_items(c01, address="横浜市中区本町１丁目", name="ﾔﾏﾀﾞ ﾀﾛｳ",
                                         birth_date=date(2020, 5, 1))
    assert [p.atena_no for p in found.persons] == ["1000000001"] and found.exact == {"1000000001"}
    found = selectors.search_three_items(c01, address="本町1丁目", name="やまだ　たろう", birth_date=date(2020, 5, 1))
    assert [p.atena_no for p in found.persons] == ["1000000001"]
    assert not selectors.search_three_items(c01, address="本町", name="山田太郎", birth_date=date(2020, 5, 2)).persons
    # the address as an application writes it (prefecture, 1-2-3), the register having 1丁目2番3号
    for written in ("神奈川県横浜市中区本町1-2-3", "本町１－２－３", "中区本町一丁目2-3"):
        found = selectors.search_three_items(c01, address=written, name="山田太郎", birth_date=date(2020, 5, 1))
        assert [p.atena_no for p in found.persons] == ["1000000001"], written
    other_block = selectors.search_three_items(c01, address="本町1-2-4", name="山田太郎", birth_date=date(2020, 5, 1))
    assert not other_block.persons
    with pytest.raises(InputRejected, match="3つとも"):
        selectors.search_three_items(c01, address="", name="山田太郎", birth_date=date(2020, 5, 1))
    searches = AccessLogEntry.objects.filter(request_id=c01.request_id, operation=Operation.SEARCH)
    assert set(searches.values_list("purpose", flat=True)) == {"C01"}


def test_a_search_matching_two_never_picks_one(certificate_city: Any, c01: Any) -> None:
    found = selectors.search_three_items(c01, address="みなとみらい3丁目", name="サトウ レン",
                                         birth_date=date(2021, 3, 3))
    assert found.ambiguous and {p.atena_no for p in found.persons} == {"1000000003", "1000000004"}
    app_id = services.receive_application(c01, window_app(applicant_name="佐藤　蓮"))
    with pytest.raises(InputRejected, match="対象者が確定していません"):
        services.issue(c01, app_id)  # nobody picked yet: nothing is issued
    assert not Certificate.objects.exists()


def test_voucher_and_mynumber_search(certificate_city: Any, c01: Any, make_ctx: Any) -> None:
    from yobo.mynumber import services as vault

    assert [p.atena_no for p in selectors.search_voucher(c01, "１２３４５６７８９０").persons] == ["1000000001"]
    assert not selectors.search_voucher(c01, "1111111111").persons
    with pytest.raises(InputRejected):
        selectors.search_voucher(c01, "12")
    number = mynumber(7)
    vault.register(make_ctx(Purpose.MYNUMBER_REGISTRATION), "1000000002", number)
    with pytest.raises(AccessDenied):
        selectors.search_mynumber(c01, number)
    denied = AccessLogEntry.objects.get(request_id=c01.request_id, result=Result.DENIED)
    assert denied.purpose == "C01" and denied.detail == "mynumber_right"
    right = make_ctx(Purpose.CERTIFICATE_ISSUANCE, duties=[Duty.CERTIFICATE], mynumber_right=True)
    assert [p.atena_no for p in selectors.search_mynumber(right, number).persons] == ["1000000002"]
    assert not AccessLogEntry.objects.filter(detail__contains=number).exists()


def issue_one(c01: Any, atena: str = "1000000001", **kw: Any) -> services.IssuedCertificate:
    app_id = services.receive_application(c01, window_app(**kw))
    services.identify(c01, app_id, atena, "three_items")
    return services.issue(c01, app_id)


def test_issue_records_the_certificate_and_the_card_verifies(certificate_city: Any, c01: Any) -> None:
    issued = issue_one(c01)
    cert = Certificate.objects.get(certificate_id=issued.certificate_id)
    assert cert.atena_no == "1000000001" and cert.issue_date == issued.issue_date and cert.dose_count == 4
    assert cert.application.state == "issued" and len(cert.cards) == 1
    assert issued.certificate_id.startswith("141003-")
    keyset, crls = project_keyset()
    v = verify(issued.numerics[0], keyset, crls)
    assert v.ok and v.revocation_checked and v.names == ("山田 太郎",) and v.birth_date == "2020-05-01"
    assert [(d.vaccine, d.date, d.lot) for d in v.doses] == [
        ("HIB", "2020-07-10", "HB001"), ("HIB", "2020-08-14", "HB002"), ("BCG", "2020-10-01", "BC101"),
        ("MR1", "2021-05-10", "MR555")]
    issue_entry = AccessLogEntry.objects.get(request_id=c01.request_id, operation=Operation.ISSUE)
    assert issue_entry.target == "1000000001" and issue_entry.purpose == "C01"
    assert issued.certificate_id in issue_entry.detail
    # 証明書ID and 発行年月日 are on the person's record
    listed = selectors.certificates_for(c01, "1000000001")
    assert [(c.certificate_id, c.issue_date) for c in listed] == [(issued.certificate_id, issued.issue_date)]
    with pytest.raises(InputRejected):  # the application is closed
        services.issue(c01, cert.application_id)


def test_english_certificate_carries_the_romanised_name(certificate_city: Any, c01: Any) -> None:
    issued = issue_one(c01, language="en", romanised_name="Yamada Taro", passport_no="TK1234567")
    v = verify(issued.numerics[0], *project_keyset())
    assert v.ok and v.names == ("YAMADA TARO",)
    doc = selectors.certificate_document(c01, issued.certificate_id)
    assert doc.passport_no == "TK1234567" and doc.romanised_name == "YAMADA TARO" and len(doc.doses) == 4


def test_revocation_reaches_the_verifier(certificate_city: Any, c01: Any) -> None:
    issued = issue_one(c01)
    other = issue_one(c01)
    before = issuer_keys.public_jwks(selectors.crl_versions())["keys"][0]["crlVersion"]
    with pytest.raises(InputRejected, match="理由"):
        services.revoke(c01, issued.certificate_id, " ")
    services.revoke(c01, issued.certificate_id, "別人に交付したため")
    keyset, crls = project_keyset()
    assert keyset["keys"][0]["crlVersion"] == before + 1
    assert crls[issued.kid]["rids"] == [issued.rid] and crls[issued.kid]["ctr"] == before + 1
    assert verify(issued.numerics[0], keyset, crls).reason is Reason.REVOKED
    assert verify(other.numerics[0], keyset, crls).ok
    with pytest.raises(InputRejected, match="すでに"):
        services.revoke(c01, issued.certificate_id, "again")
    assert AccessLogEntry.objects.filter(operation=Operation.UPDATE, target="1000000001",
                                         detail__startswith="revoke").exists()


def test_rotation_keeps_old_cards_verifiable(certificate_city: Any, c01: Any, keydir: Any) -> None:
    old = issue_one(c01)
    new_kid, retired, _ = issuer_keys.rotate()
    assert retired == old.kid and new_kid != old.kid
    stored = json.loads((keydir / issuer_keys.FILE_NAME).read_text())
    old_entry = next(k for k in stored["keys"] if k["kid"] == old.kid)
    assert "d" not in old_entry["jwk"] and old_entry["retired"]  # the retired private key is destroyed
    assert (keydir / issuer_keys.FILE_NAME).stat().st_mode & 0o077 == 0
    new = issue_one(c01)
    assert new.kid == new_kid
    keyset, crls = project_keyset()
    assert {k["kid"] for k in keyset["keys"]} == {old.kid, new_kid}
    assert all("d" not in k for k in keyset["keys"])
    assert verify(old.numerics[0], keyset, crls).ok and verify(new.numerics[0], keyset, crls).ok


def test_certificate_staff_without_c01_are_refused(certificate_city: Any, make_ctx: Any) -> None:
    entry_clerk = make_ctx(Purpose.CERTIFICATE_ISSUANCE, duties=[Duty.ENTRY])
    with pytest.raises(AccessDenied):
        services.receive_application(entry_clerk, window_app())
    assert AccessLogEntry.objects.filter(request_id=entry_clerk.request_id, result=Result.DENIED).exists()
