"""A 住登外者 who moved in, switched to the register's 宛名番号 (people.switch, decision 056): across
the apps, so it lives outside any one app's tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from yobo.audit.models import AccessLogEntry
from yobo.core.errors import InputRejected
from yobo.core.purposes import Duty, Purpose
from yobo.exchange.models import LinkageCode
from yobo.governance.models import ResidentRequest
from yobo.mynumber import checkdigit, keys
from yobo.mynumber import selectors as vault_selectors
from yobo.mynumber.models import IdentityVerification, MyNumberLink
from yobo.mynumber.services import Verification
from yobo.people import nonresidents, protection, switch
from yobo.people.models import AtenaSwitch, ChangeKind, Person, PersonHistory, ProtectionAction, Source
from yobo.people.services import ImportRejected, import_residents
from yobo.people.tests.test_registry_staff import write_register

pytestmark = pytest.mark.django_db

AS_OF = date(2025, 9, 1)
REGISTER_ATENA = "1000000777"


@pytest.fixture
def moved_in(key_dir: Path, make_ctx: Callable[..., Any], tmp_path: Path) -> dict[str, Any]:
    """A confirmed 住登外者 with records in other apps, and a register file that gives them a
    宛名番号 of the register with the same My Number (so its import is refused)."""
    keys.ensure_keys()
    number = checkdigit.generate(random.Random(5))
    applicant = nonresidents.Applicant(name_kanji="高橋　陽菜", name_kana="タカハシ　ヒナ",
                                       birth_date=date(2024, 12, 1), sex=2,
                                       address="東京都千代田区千代田1番1号", reason="里帰り出産中の乳児")
    clerk = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    app_id, atena = nonresidents.apply(clerk, applicant, number,
                                       Verification(number_check="card", identity_documents=("card",)))
    nonresidents.confirm(make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.SUPERVISOR]), app_id)
    m = settings.MUNICIPALITY_CODE
    now = timezone.now()
    LinkageCode.objects.create(municipality=m, atena_no=atena, integrated_no="1", code="c" * 20, acquired_at=now)
    staff = make_ctx().staff_id
    ResidentRequest.objects.create(municipality=m, kind="disclosure", atena_no=atena, identity_check="運転免許証",
                                   received_on=AS_OF, due_on=AS_OF, received_by_id=staff)
    protection.request_change(make_ctx(Purpose.PROTECTION_MEASURE), atena, ProtectionAction.SET, "DV")

    from yobo.people import synth

    rows = list(synth.generate(3, 5, AS_OF))
    rows[1]["宛名番号"] = REGISTER_ATENA
    rows[1]["個人番号"] = number
    f = write_register(tmp_path / "register.csv", rows)
    return {"atena": atena, "number": number, "file": f, "register_name": rows[1]["漢字氏名"]}


def test_a_confirmed_switch_moves_the_person_the_link_and_every_record_and_the_import_then_applies(
        moved_in: dict[str, Any], make_ctx: Callable[..., Any]) -> None:
    old, number, f = moved_in["atena"], moved_in["number"], moved_in["file"]
    with pytest.raises(ImportRejected):
        import_residents(make_ctx(Purpose.RESIDENT_SYNC), f, as_of=AS_OF)
    before = Person.objects.get(atena_no=old)
    link = MyNumberLink.objects.get(atena_no=old)

    a = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    sw = switch.request(a, old, "１００００００７７７", note="転入届と母子手帳で同一人を確認")  # full-width digits
    listed = [(v.from_atena, v.to_atena, v.name_kanji) for v in switch.pending(a)]
    assert listed == [(old, REGISTER_ATENA, "高橋　陽菜")]
    with pytest.raises(InputRejected, match="別の職員"):
        switch.confirm(a, sw)
    assert Person.objects.get(pk=before.pk).atena_no == old  # nothing moved yet

    b = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.SUPERVISOR])
    assert switch.confirm(b, sw) == REGISTER_ATENA
    p = Person.objects.get(pk=before.pk)  # the same row and internal id
    assert (p.atena_no, p.source) == (REGISTER_ATENA, Source.REGISTER)
    moved = MyNumberLink.objects.get(atena_no=REGISTER_ATENA)
    assert (moved.pk, moved.integrated_no, bytes(moved.ciphertext)) == (link.pk, link.integrated_no,
                                                                        bytes(link.ciphertext))
    assert not MyNumberLink.objects.filter(atena_no=old).exists()
    # the sealed number still opens under the new 宛名番号 (its AAD names the integrated number only)
    keeper = make_ctx(Purpose.MYNUMBER_REGISTRATION, duties=[Duty.CLERK], mynumber_right=True)
    assert vault_selectors.reveal(keeper, REGISTER_ATENA) == number
    assert IdentityVerification.objects.get(link=moved).atena_no == REGISTER_ATENA
    # every app's records followed; none is left under the old 宛名番号
    assert LinkageCode.objects.get().atena_no == REGISTER_ATENA
    assert ResidentRequest.objects.get().atena_no == REGISTER_ATENA
    for model_label, field in switch.FOLLOWED:
        assert not apps.get_model(model_label).objects.filter(**{field: old}).exists(), model_label
    hist = list(PersonHistory.objects.filter(atena_no=REGISTER_ATENA).order_by("id"))
    assert [h.kind for h in hist] == [ChangeKind.CREATED, ChangeKind.UPDATED]
    assert hist[1].changes == {"atena_no": [old, REGISTER_ATENA], "source": ["jutogai", "juki"]}
    assert hist[1].changed_by_id == b.staff_id
    assert AtenaSwitch.objects.get(pk=sw).state == "confirmed"
    # logged under P03 by each app that moved records, never with the number
    switched = AccessLogEntry.objects.filter(purpose=Purpose.NONRESIDENT_REGISTRATION.value, target=REGISTER_ATENA)
    assert {"people.switch", "mynumber.link", "exchange.person", "governance.resident_request",
            "people.person"} <= set(switched.values_list("resource", flat=True))
    assert not AccessLogEntry.objects.filter(detail__contains=number).exists()

    # A disclosure request (開示請求) of the person includes who accessed them as a 住登外者
    from yobo.governance import requests

    desk = make_ctx(Purpose.DISCLOSURE_REQUEST, duties=[Duty.CLERK])
    rid = requests.register(desk, kind="disclosure", atena_no=REGISTER_ATENA, identity_check="運転免許証")
    before_switch = set(AccessLogEntry.objects.filter(target=old).values_list("seq", flat=True))
    seqs = {r["seq"] for r in requests.disclosure_set(desk, rid)["access_log"]}
    assert before_switch and before_switch <= seqs

    # The next import finds the number already on the register's 宛名番号: the row applies, and the
    # register's items replace the application's (recorded as a change).
    s = import_residents(make_ctx(Purpose.RESIDENT_SYNC), f, as_of=AS_OF)
    assert (s.inserted, s.updated, s.rejected, s.vault["refused"]) == (2, 1, 0, 0)
    p = Person.objects.get(pk=before.pk)
    assert p.name_kanji == moved_in["register_name"] and p.source == Source.REGISTER
    assert MyNumberLink.objects.filter(atena_no=REGISTER_ATENA).count() == 1


def test_a_switch_is_refused_when_it_cannot_be_the_same_person_and_a_withdrawn_one_moves_nothing(
        moved_in: dict[str, Any], make_ctx: Callable[..., Any]) -> None:
    old = moved_in["atena"]
    a = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    b = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.SUPERVISOR])
    import_residents(make_ctx(Purpose.RESIDENT_SYNC), moved_in["file"], as_of=AS_OF, skip_invalid=True)
    resident = Person.objects.exclude(atena_no=old).first()
    assert resident is not None
    with pytest.raises(InputRejected, match="住登外者ではありません"):
        switch.request(a, resident.atena_no, REGISTER_ATENA)  # only a 住登外者 is switched
    with pytest.raises(InputRejected, match="既にあります"):
        switch.request(a, old, resident.atena_no)  # the target must be new
    with pytest.raises(InputRejected, match="住登外者の番号の範囲"):
        switch.request(a, old, "9000000999")
    with pytest.raises(InputRejected, match="15桁以内"):
        switch.request(a, old, "12-34")
    sw = switch.request(a, old, REGISTER_ATENA)
    with pytest.raises(InputRejected, match="確認待ち"):
        switch.request(a, old, REGISTER_ATENA)
    switch.withdraw(b, sw, "別人でした")
    assert Person.objects.filter(atena_no=old, source=Source.NON_REGISTERED).exists()
    assert MyNumberLink.objects.filter(atena_no=old).exists()
    with pytest.raises(InputRejected, match="処理済み"):
        switch.confirm(b, sw)
    assert switch.pending(b) == []


def test_a_failing_app_rolls_the_whole_switch_back(moved_in: dict[str, Any], make_ctx: Callable[..., Any]) -> None:
    old = moved_in["atena"]
    sw = switch.request(make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK]), old, REGISTER_ATENA)

    def broken(sender: Any, **kw: Any) -> None:
        raise RuntimeError("an app could not move its records")

    switch.atena_switched.connect(broken, dispatch_uid="test-broken")
    try:
        with pytest.raises(RuntimeError):
            switch.confirm(make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.SUPERVISOR]), sw)
    finally:
        switch.atena_switched.disconnect(dispatch_uid="test-broken")
    assert Person.objects.filter(atena_no=old, source=Source.NON_REGISTERED).exists()
    assert MyNumberLink.objects.filter(atena_no=old).exists()
    assert LinkageCode.objects.get().atena_no == old
    assert AtenaSwitch.objects.get(pk=sw).state == "pending"


# Columns holding a 宛名番号 that do not follow a switch, and why.
KEPT = {
    ("people.Person", "atena_no"): "the person row itself is switched by people.switch",
    ("mynumber.MyNumberLink", "atena_no"): "moved by the vault (mynumber.services.relink)",
    ("mynumber.IdentityVerification", "atena_no"): "moved by the vault (mynumber.services.relink)",
    ("people.NonResidentApplication", "atena_no"): "the application, under the number it was given",
    ("people.BatchAbsence", "atena_no"): "a past batch's list of absent persons, as it was",
    ("people.NonResidentFinding", "atena_no"): "a past 住基ネット check's findings, as they were",
}


def test_every_column_holding_a_atena_no_follows_a_switch_or_is_a_record_of_the_past() -> None:
    """A new table keyed by 宛名番号 must be registered with ``people.switch.follow`` (or listed
    above with its reason), or a switched person would lose its records."""
    found = {(m._meta.label, f.name) for m in apps.get_models() for f in m._meta.get_fields()
             if f.name == "atena_no" or f.name.endswith("_atena_no")}
    assert found - switch.FOLLOWED - set(KEPT) == set()
    assert set(KEPT) <= found
    assert found >= switch.FOLLOWED


def test_a_switch_waits_for_a_running_register_import(moved_in: dict[str, Any], make_ctx: Callable[..., Any]) -> None:
    """PostgreSQL: the confirmation takes the import's lock, so an import cannot insert the target
    宛名番号 between the switch's check and its commit (SQLite has a single writer anyway)."""
    import psycopg
    from django.db import OperationalError, connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's advisory lock; SQLite serialises writers itself")
    sw = switch.request(make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK]), moved_in["atena"],
                        REGISTER_ATENA)
    confirmer = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.SUPERVISOR])
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as importer:  # an import in progress
        importer.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"people.import.{settings.MUNICIPALITY_CODE}"])
        with connection.cursor() as cur:
            cur.execute("SET lock_timeout = '300ms'")
        try:
            with pytest.raises(OperationalError, match="lock timeout"):
                switch.confirm(confirmer, sw)
        finally:
            with connection.cursor() as cur:
                cur.execute("RESET lock_timeout")
    assert AtenaSwitch.objects.get(pk=sw).state == "pending"
    assert switch.confirm(confirmer, sw) == REGISTER_ATENA  # the import ended: it goes through
