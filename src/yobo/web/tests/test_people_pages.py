"""Search and person pages through a logged-in session: purpose choice, logging, masking, My Number
search, 住登外者 and 支援措置 pages."""

from __future__ import annotations

import random
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yobo.core.purposes import Duty, Operation, Purpose, Result
from yobo.mynumber import checkdigit, keys
from yobo.people.services import ImportRejected, import_residents
from yobo.people.tests.test_import import AS_OF, rows_of, write
from yobo.people.tests.test_registry_staff import add_person

from .conftest import log_entries

pytestmark = pytest.mark.django_db


@pytest.fixture
def city(key_dir: Path) -> None:
    keys.ensure_keys()
    add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(1985, 4, 1), household="2000000001",
               relationship="世帯主")
    add_person("1000000002", "山田　花子", "ヤマダ　ハナコ", date(1987, 6, 15), household="2000000001",
               relationship="妻", sex=2)
    add_person("1000000003", "佐藤　一郎", "サトウ　イチロウ", date(2019, 5, 1),
               address="横浜市西区みなとみらい3丁目5番地")


def test_search_page_with_halfwidth_kana_logs_each_person_with_the_purpose(
        logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("clerk.a", duties=[Duty.CLERK]))
    page = c.get("/people/").content.decode()
    assert 'name="purpose"' in page and 'value="P02" selected' in page and "autofocus" in page
    r = c.get("/people/", {"purpose": "P02", "name": "ﾔﾏﾀﾞ"})
    body = r.content.decode()
    assert r.status_code == 200 and "山田　太郎" in body and "山田　花子" in body and "佐藤" not in body
    assert "昭和60年4月1日" in body
    got = log_entries(staff="clerk.a", operation=Operation.SEARCH)
    assert sorted(e.target for e in got) == ["1000000001", "1000000002"]
    assert {e.purpose for e in got} == {"P02"}


def test_purpose_choice_is_remembered_and_used_for_the_person_page(
        logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("clerk.b", duties=[Duty.CLERK]))
    c.get("/people/", {"purpose": "N02", "birth": "S60.4.1"})
    assert [e.purpose for e in log_entries(staff="clerk.b", operation=Operation.SEARCH)] == ["N02"]
    r = c.get("/people/1000000001/")
    body = r.content.decode()
    assert r.status_code == 200 and "N02 接種券・予診票の発行" in body and "山田　花子" in body
    reads = log_entries(staff="clerk.b", operation=Operation.READ, target="1000000001")
    assert reads and {e.purpose for e in reads} == {"N02"}


def test_search_without_purpose_is_refused_and_logged(logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("clerk.c", duties=[Duty.CLERK]))
    body = c.get("/people/", {"purpose": "", "name": "やまだ"}).content.decode()
    assert "処理事由が指定されていません" in body and "山田　太郎" not in body
    assert [e.detail for e in log_entries(staff="clerk.c", result=Result.DENIED)] == ["no_purpose"]
    # a purpose the duty does not allow is refused too
    c.post("/logout/")
    c2 = logged_in(make_staff("entry.c", duties=[Duty.ENTRY]))
    body = c2.get("/people/", {"purpose": "N02", "name": "やまだ"}).content.decode()
    assert "職責では使えません" in body
    assert [e.detail for e in log_entries(staff="entry.c", result=Result.DENIED)] == ["purpose_not_permitted"]


def test_bad_birth_date_and_empty_search_show_messages(logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("clerk.d", duties=[Duty.CLERK]))
    assert "日付の形式が正しくありません" in c.get("/people/", {"birth": "昭和99年"}).content.decode()
    assert "検索条件を1つ以上" in c.get("/people/", {"name": " "}).content.decode()
    assert not log_entries(staff="clerk.d", operation=Operation.SEARCH)


def test_an_address_typed_as_forms_write_it_finds_the_register_address(
        logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("clerk.k", duties=[Duty.CLERK]))
    page = c.get("/people/").content.decode()
    assert "本町1-2-3-101" in page  # the field says how an address may be typed
    for typed in ("みなとみらい３－５", "西区みなとみらい三丁目5番地", "ミナトミライ3丁目5"):
        body = c.get("/people/", {"purpose": "P02", "address": typed}).content.decode()
        assert "佐藤　一郎" in body and "山田" not in body, typed
        assert "横浜市西区みなとみらい3丁目5番地" in body  # shown as the register wrote it
    assert "佐藤　一郎" not in c.get("/people/", {"purpose": "P02", "address": "みなとみらい3-50"}).content.decode()


def test_htmx_search_returns_only_the_results(logged_in: Any, make_staff: Any, city: None) -> None:
    c = logged_in(make_staff("clerk.e", duties=[Duty.CLERK]))
    body = c.get("/people/", {"name": "さとう"}, HTTP_HX_REQUEST="true").content.decode()
    assert body.lstrip().startswith('<section id="results"') and "佐藤　一郎" in body


def test_mynumber_search_form_only_for_the_right_and_post_refused_without(
        logged_in: Any, make_staff: Any, make_ctx: Any, city: None) -> None:
    from yobo.mynumber import services as vault_services

    number = checkdigit.generate(random.Random(11))
    vault_services.register(make_ctx(Purpose.MYNUMBER_REGISTRATION), "1000000003", number)
    c = logged_in(make_staff("clerk.f", duties=[Duty.CLERK]))
    assert 'name="mynumber"' not in c.get("/people/").content.decode()
    r = c.post("/people/mynumber/", {"mynumber": number})
    assert r.status_code == 403 and "個人番号の参照権限がありません" in r.content.decode()
    assert number not in r.content.decode()
    assert [(e.operation, e.detail) for e in log_entries(staff="clerk.f", result=Result.DENIED)] == [
        (Operation.REVEAL_MYNUMBER.value, "mynumber_right")]

    c.post("/logout/")
    c2 = logged_in(make_staff("clerk.g", duties=[Duty.CLERK], mynumber_right=True))
    assert 'name="mynumber"' in c2.get("/people/").content.decode()
    r = c2.post("/people/mynumber/", {"mynumber": number})
    body = r.content.decode()
    assert r.status_code == 200 and "佐藤　一郎" in body and number not in body
    assert {e.target for e in log_entries(staff="clerk.g", operation=Operation.REVEAL_MYNUMBER)} == {"1000000003"}


def test_protection_pages_two_staff_and_masking(logged_in: Any, make_staff: Any, make_ctx: Any, city: None) -> None:
    c = logged_in(make_staff("clerk.h", duties=[Duty.CLERK]))
    r = c.post("/people/1000000003/protection/", {"action": "set", "note": "申出 第3号"})
    assert r.status_code == 302
    body = c.get("/people/1000000003/").content.decode()
    assert "支援措置対象：住所非表示" in body and "みなとみらい" not in body and "確認待ち" in body
    assert "disabled" in body  # the requester cannot confirm
    c.post("/logout/")
    boss = logged_in(make_staff("boss.h", duties=[Duty.SUPERVISOR]))
    body = boss.get("/people/1000000003/").content.decode()
    assert "みなとみらい" in body  # the supervisor holds the right
    from yobo.people import protection

    rid = protection.pending_requests(make_ctx(Purpose.PROTECTION_MEASURE))[0].id
    r = boss.post(f"/people/protection/{rid}/confirm/", {"atena_no": "1000000003"})
    assert r.status_code == 302 and r["Location"] == "/people/1000000003/"
    assert "支援措置の対象です" in boss.get("/people/1000000003/").content.decode()


def test_nonresident_pages_apply_and_confirm_by_another(logged_in: Any, make_staff: Any, city: None) -> None:
    number = checkdigit.generate(random.Random(12))
    c = logged_in(make_staff("clerk.i", duties=[Duty.CLERK]))
    form = {"reason": "里帰り出産", "name_kanji": "高橋　陽菜", "name_kana": "タカハシ　ヒナ",
            "birth": "令和6年12月1日", "sex": "2", "address": "東京都千代田区千代田1番1号", "mynumber": number,
            "number_check": "card", "identity_documents": ["card"], "agent_kind": ""}
    bad = c.post("/people/nonresidents/new/", {**form, "identity_documents": []})
    assert "本人確認書類" in bad.content.decode() and number not in bad.content.decode()
    r = c.post("/people/nonresidents/new/", form)
    assert r.status_code == 302 and r["Location"] == "/people/nonresidents/"
    listing = c.get("/people/nonresidents/").content.decode()
    assert "高橋　陽菜" in listing and "disabled" in listing
    app_id = re.search(r"/people/nonresidents/(\d+)/confirm/", listing).group(1)  # type: ignore[union-attr]
    c.post(f"/people/nonresidents/{app_id}/confirm/")  # refused: same staff
    assert "高橋　陽菜" not in c.get("/people/", {"name": "たかはし"}).content.decode()
    c.post("/logout/")
    c2 = logged_in(make_staff("clerk.j", duties=[Duty.CLERK]))
    r = c2.post(f"/people/nonresidents/{app_id}/confirm/")
    assert r.status_code == 302
    body = c2.get("/people/", {"name": "たかはし"}).content.decode()
    assert "高橋　陽菜" in body and "住登外者" in body


def test_switch_pages_request_on_the_person_page_and_confirm_by_another(logged_in: Any, make_staff: Any,
                                                                         city: None) -> None:
    number = checkdigit.generate(random.Random(13))
    c = logged_in(make_staff("clerk.s", duties=[Duty.CLERK]))
    form = {"reason": "里帰り出産", "name_kanji": "高橋　陽菜", "name_kana": "タカハシ　ヒナ",
            "birth": "令和6年12月1日", "sex": "2", "address": "東京都千代田区千代田1番1号", "mynumber": number,
            "number_check": "card", "identity_documents": ["card"], "agent_kind": ""}
    c.post("/people/nonresidents/new/", form)
    listing = c.get("/people/nonresidents/").content.decode()
    app_id = re.search(r"/people/nonresidents/(\d+)/confirm/", listing).group(1)  # type: ignore[union-attr]
    atena = re.search(r"<td>(9\d{9})</td>", listing).group(1)  # type: ignore[union-attr]
    c.post("/logout/")
    c2 = logged_in(make_staff("clerk.t", duties=[Duty.CLERK]))
    c2.post(f"/people/nonresidents/{app_id}/confirm/")

    page = c2.get(f"/people/{atena}/", {"purpose": "P03"}).content.decode()
    assert f'action="/people/{atena}/switch/"' in page
    # a register person's page offers no switch
    assert "/switch/" not in c2.get("/people/1000000001/", {"purpose": "P03"}).content.decode()
    r = c2.post(f"/people/{atena}/switch/", {"to_atena": "9000000999"})  # the 住登外者 range: refused
    assert r.status_code == 302 and "住登外者の番号の範囲" in c2.get(r["Location"], {"purpose": "P03"}).content.decode()
    c2.post(f"/people/{atena}/switch/", {"to_atena": "1000000888", "note": "転入届で確認"})
    pending = c2.get("/people/nonresidents/").content.decode()
    assert 'data-testid="pending-switches"' in pending and "1000000888" in pending and "disabled" in pending
    switch_id = re.search(r"/people/switches/(\d+)/confirm/", pending).group(1)  # type: ignore[union-attr]
    c2.post(f"/people/switches/{switch_id}/confirm/")  # refused: same staff
    assert c2.get("/people/1000000888/", {"purpose": "P03"}).status_code == 404
    c2.post("/logout/")
    c3 = logged_in(make_staff("clerk.u", duties=[Duty.CLERK]))
    r = c3.post(f"/people/switches/{switch_id}/confirm/")
    assert r.status_code == 302 and r["Location"].startswith("/people/1000000888/")
    moved = c3.get("/people/1000000888/", {"purpose": "P03"}).content.decode()
    assert "高橋　陽菜" in moved and "/switch/" not in moved  # now a register person
    assert number not in moved
    # whoever still holds the old 宛名番号 is sent to the new one: the page, the REST API, FHIR
    r = c3.get(f"/people/{atena}/", {"purpose": "P03"})
    assert r.status_code == 302 and r["Location"] == "/people/1000000888/?purpose=P03"
    r = c3.get(f"/api/v1/persons/{atena}")
    assert r.status_code == 301 and r["Location"] == "/api/v1/persons/1000000888"
    assert c3.get(r["Location"]).json()["name_kanji"] == "高橋　陽菜"
    old = c3.get(f"/fhir/Patient/{atena}").json()
    from fhir.resources.R4B.patient import Patient

    Patient.model_validate(old)
    assert old["active"] is False and old["link"] == [{"other": {"reference": "Patient/1000000888"},
                                                        "type": "replaced-by"}]
    assert "name" not in old and "birthDate" not in old  # nothing but the link
    assert c3.get("/fhir/Patient/9000000999").status_code == 404  # never switched: not found
    # an auditor looking up the person's access log sees what was logged under the old 宛名番号 too
    c3.post("/logout/")
    auditor = logged_in(make_staff("kansa.a", duties=[Duty.AUDITOR]))
    body = auditor.get("/audit/", {"target": "1000000888"}).content.decode()
    assert f"切替前の宛名番号 {atena}" in body
    rows = re.findall(r"<td>(\d{10})</td>", body)
    assert {atena, "1000000888"} <= set(rows), "entries under both 宛名番号"
    assert "切替前" not in auditor.get("/audit/", {"target": "1000000001"}).content.decode()


def test_home_menu_links_to_the_search(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff("clerk.k", duties=[Duty.CLERK]))
    body = c.get("/").content.decode()
    assert 'href="/people/?purpose=P02"' in body and 'href="/people/nonresidents/"' in body


def test_nonresident_page_lists_what_the_last_jukinet_check_left_for_staff(
        logged_in: Any, make_staff: Any, make_ctx: Any, city: None, tmp_path: Path) -> None:
    from yobo.people import jukinet
    from yobo.people.tests.test_jukinet import answer, found, register

    c = logged_in(make_staff("clerk.k", duties=[Duty.CLERK]))
    assert "住基ネットによる確認はまだ取り込まれていません" in c.get("/people/nonresidents/").content.decode()
    lost = register(make_ctx, "伊藤　誠", "イトウ　マコト", date(1970, 7, 7), 4, sex=1)
    moved = register(make_ctx, "小林　葵", "コバヤシ　アオイ", date(2023, 8, 8), 7)
    ctx = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    s = jukinet.check(ctx, answer(tmp_path / "a.csv", [
        {"照会番号": lost, "照会結果": "0"},
        found(moved, 7, "小林　葵", date(2023, 8, 8), address="横浜市中区港町1丁目1番地", city="141003")]))
    body = c.get("/people/nonresidents/").content.decode()
    assert f"バッチ {s.batch_id}" in body and "要確認 2 件" in body
    assert f'<a href="/people/{lost}/?purpose=P03">{lost}</a>' in body and "住基ネットで該当なし" in body
    assert "小林　葵" in body and "住民記録の宛名番号への切替を確認" in body
    shown = [e for e in log_entries(staff="clerk.k", operation=Operation.READ, resource="people.nonresident")
             if e.detail.startswith("review list batch=")]
    assert {e.target for e in shown} == {lost, moved} and {e.purpose for e in shown} == {"P03"}



def _sync_clerk(make_staff: Any, make_ctx: Any, name: str) -> tuple[Any, Any]:
    """A clerk who runs the register import (P01), and the vault's keys it needs."""
    keys.ensure_keys()
    clerk = make_staff(name, duties=[Duty.CLERK])
    return clerk, make_ctx(Purpose.RESIDENT_SYNC, staff=clerk)


def test_batch_pages_list_what_a_snapshot_left_and_record_each_review(
        logged_in: Any, make_staff: Any, make_ctx: Any, key_dir: Path, tmp_path: Path) -> None:

    clerk, ctx = _sync_clerk(make_staff, make_ctx, "clerk.r")
    rows = rows_of(8)
    import_residents(ctx, write(tmp_path / "all.csv", rows), as_of=AS_OF)
    s = import_residents(ctx, write(tmp_path / "snap.csv", rows[:6]), as_of=AS_OF, full=True)
    gone = [r["宛名番号"] for r in rows[6:]]
    c = logged_in(clerk)
    assert 'data-testid="waiting-P01">未確認 2<' in c.get("/").content.decode()
    listing = c.get("/people/batches/").content.decode()
    assert f'<a href="/people/batches/{s.batch_id}/">' in listing and "未確認 2" in listing and "snap.csv" in listing
    page = c.get(f"/people/batches/{s.batch_id}/").content.decode()
    assert 'data-testid="open-count">2<' in page and rows[6]["漢字氏名"] in page
    # the record's summary as staff read it, not its keys
    assert "<dt>個人番号</dt><dd>新規登録 0 ／ 変更なし " in page and "mynumber" not in page
    assert f'<a href="/people/{gone[0]}/?purpose=P01">{gone[0]}</a>' in page
    shown = [e for e in log_entries(staff="clerk.r", operation=Operation.READ) if e.detail.startswith("review list")]
    assert {e.target for e in shown} == set(gone) and {e.purpose for e in shown} == {"P01"}

    r = c.post(f"/people/batches/{s.batch_id}/review/{gone[0]}/", {"note": "住記担当に電話で確認、消除済み"})
    assert r.status_code == 302 and r["Location"] == f"/people/batches/{s.batch_id}/"
    page = c.get(f"/people/batches/{s.batch_id}/").content.decode()
    assert 'data-testid="open-count">1<' in page and "住記担当に電話で確認" not in page  # open ones only
    page = c.get(f"/people/batches/{s.batch_id}/", {"show": "all"}).content.decode()
    assert "住記担当に電話で確認、消除済み" in page and "clerk.r" in page
    assert "未確認 1" in c.get("/people/batches/").content.decode()
    assert 'data-testid="waiting-P01">未確認 1<' in c.get("/").content.decode()
    # a number-like note is refused with a message, nothing recorded
    r = c.post(f"/people/batches/{s.batch_id}/review/{gone[1]}/", {"note": "123456789012"}, follow=True)
    assert "12桁以上の数字は書けません" in r.content.decode() and "123456789012" not in r.content.decode()
    assert 'data-testid="open-count">1<' in r.content.decode()
    [mark] = log_entries(staff="clerk.r", operation=Operation.UPDATE)
    assert (mark.target, mark.purpose, mark.resource) == (gone[0], "P01", "people.person")

    assert c.get("/people/batches/99999/").status_code == 404
    c.post("/logout/")
    entry = logged_in(make_staff("entry.r", duties=[Duty.ENTRY]))
    assert entry.get("/people/batches/").status_code == 403
    assert entry.post(f"/people/batches/{s.batch_id}/review/{gone[1]}/", {"note": "x"}).status_code == 403


def test_a_jukinet_check_opens_under_p03_for_a_supervisor_and_an_import_does_not(
        logged_in: Any, make_staff: Any, make_ctx: Any, key_dir: Path, tmp_path: Path) -> None:
    from yobo.people import jukinet
    from yobo.people.tests.test_jukinet import answer, register

    keys.ensure_keys()
    lost = register(make_ctx, "伊藤　誠", "イトウ　マコト", date(1970, 7, 7), 4, sex=1)
    check = jukinet.check(make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK]),
                          answer(tmp_path / "a.csv", [{"照会番号": lost, "照会結果": "0"}]))
    sync = make_ctx(Purpose.RESIDENT_SYNC, duties=[Duty.CLERK])
    rows = rows_of(3)
    import_residents(sync, write(tmp_path / "all.csv", rows), as_of=AS_OF)
    snap = import_residents(sync, write(tmp_path / "snap.csv", rows[:2]), as_of=AS_OF, full=True)

    boss = logged_in(make_staff("boss.r", duties=[Duty.SUPERVISOR]))
    home = boss.get("/").content.decode()
    assert 'data-testid="waiting-P03">未確認 1<' in home and "waiting-P01" not in home
    assert f'href="/people/batches/{check.batch_id}/?purpose=P03"' in boss.get("/people/nonresidents/").content.decode()
    # the page is read under P01 unless P03 is asked for; a 決裁者 holds only P03
    assert boss.get(f"/people/batches/{check.batch_id}/").status_code == 403
    page = boss.get(f"/people/batches/{check.batch_id}/", {"purpose": "P03"}).content.decode()
    assert 'data-testid="open-count">1<' in page and 'href="/people/nonresidents/"' in page
    assert '<input type="hidden" name="purpose" value="P03">' in page
    assert "<dt>要確認の内訳</dt><dd>住基ネットで該当なし 1</dd>" in page
    r = boss.post(f"/people/batches/{check.batch_id}/review/{lost}/", {"note": "本人に照会中", "purpose": "P03"})
    assert r.status_code == 302 and r["Location"] == f"/people/batches/{check.batch_id}/?purpose=P03"
    [mark] = log_entries(staff="boss.r", operation=Operation.UPDATE)
    assert (mark.target, mark.purpose) == (lost, "P03")
    assert "waiting-P03" not in boss.get("/").content.decode()
    # an import's absences are P01 work: asked for under P03, the page sends the reader to P01 (refused)
    r = boss.get(f"/people/batches/{snap.batch_id}/", {"purpose": "P03"})
    assert r.status_code == 302 and r["Location"] == f"/people/batches/{snap.batch_id}/"
    assert boss.get(r["Location"]).status_code == 403
    assert boss.get("/people/batches/").status_code == 403
    denied = [e for e in log_entries(staff="boss.r") if e.result == Result.DENIED]
    assert len(denied) == 3 and {e.purpose for e in denied} == {"P01"}
    # a clerk opening the check from the list under P01 is sent to its own purpose
    boss.post("/logout/")
    clerk = logged_in(make_staff("clerk.j", duties=[Duty.CLERK]))
    assert f'href="/people/batches/{check.batch_id}/?purpose=P03"' in clerk.get("/people/batches/").content.decode()
    r = clerk.get(f"/people/batches/{check.batch_id}/")
    assert r.status_code == 302 and r["Location"] == f"/people/batches/{check.batch_id}/?purpose=P03"


def test_the_batch_history_pages_back_through_older_batches(
        logged_in: Any, make_staff: Any, make_ctx: Any, key_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from yobo.web import people_views

    monkeypatch.setattr(people_views, "BATCH_PAGE", 2)
    clerk, ctx = _sync_clerk(make_staff, make_ctx, "clerk.p")
    rows = rows_of(5)
    ids = [import_residents(ctx, write(tmp_path / f"d{k}.csv", rows[:k + 1]), as_of=AS_OF).batch_id for k in range(5)]
    c = logged_in(clerk)

    def shown(html: str) -> list[int]:
        return [int(x) for x in re.findall(r'<a href="/people/batches/(\d+)/">', html)]

    page = c.get("/people/batches/").content.decode()
    assert shown(page) == ids[:2:-1] and f'href="?before={ids[3]}"' in page and "最新へ" not in page
    page = c.get("/people/batches/", {"before": ids[3]}).content.decode()
    assert shown(page) == [ids[2], ids[1]] and f'href="?before={ids[1]}"' in page and "最新へ" in page
    page = c.get("/people/batches/", {"before": ids[1]}).content.decode()
    assert shown(page) == [ids[0]] and 'data-testid="older"' not in page


def test_batch_page_says_a_file_was_refused_for_rows_older_than_the_record(
        logged_in: Any, make_staff: Any, make_ctx: Any, key_dir: Path, tmp_path: Path) -> None:

    clerk, ctx = _sync_clerk(make_staff, make_ctx, "clerk.b")
    rows = [r for r in rows_of(20) if r["住民区分"] == "1" and r["異動日"]]
    import_residents(ctx, write(tmp_path / "d1.csv", rows), as_of=AS_OF)
    moved = dict(rows[0], 住民区分="2", 異動事由="転出", 異動日="2025-08-20")
    day2 = import_residents(ctx, write(tmp_path / "d2.csv", [moved]), as_of=AS_OF).batch_id
    with pytest.raises(ImportRejected) as exc:
        import_residents(ctx, write(tmp_path / "d1-again.csv", rows[:3]), as_of=AS_OF)
    refused = exc.value.summary.batch_id
    fixed = import_residents(ctx, write(tmp_path / "fix.csv", [dict(moved, 異動日="2025-08-10")]), as_of=AS_OF,
                             allow_backdated=True)
    c = logged_in(clerk)
    page = c.get(f"/people/batches/{refused}/").content.decode()
    assert "<dt>異動日が記録より前の行</dt><dd>1</dd>" in page and "backdated" not in page
    page = c.get(f"/people/batches/{fixed.batch_id}/").content.decode()
    assert "<dt>異動日が記録より前の行</dt><dd>1</dd>" in page
    assert "<dt>遡った異動日の取込（--allow-backdated）</dt><dd>指定あり</dd>" in page
    # the status changes as staff read them (the day-2 batch moved one out)
    page = c.get(f"/people/batches/{day2}/").content.decode()
    assert "<dt>住民区分の異動</dt><dd>転出 1</dd>" in page and "moved_out" not in page


def test_batch_page_says_a_snapshot_was_refused_for_leaving_out_many(
        logged_in: Any, make_staff: Any, make_ctx: Any, key_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from yobo.people import importer

    monkeypatch.setattr(importer, "MASS_ABSENT_MIN", 1)
    clerk, ctx = _sync_clerk(make_staff, make_ctx, "clerk.m")
    rows = rows_of(40)
    import_residents(ctx, write(tmp_path / "d1.csv", rows), as_of=AS_OF)
    with pytest.raises(ImportRejected) as exc:
        import_residents(ctx, write(tmp_path / "cut.csv", rows[:30]), as_of=AS_OF, full=True)
    refused = exc.value.summary.batch_id
    allowed = import_residents(ctx, write(tmp_path / "cut.csv", rows[:30]), as_of=AS_OF, full=True,
                               allow_mass_absent=True).batch_id
    c = logged_in(clerk)
    page = c.get(f"/people/batches/{refused}/").content.decode()
    assert "<dt>ファイルにない人（記録の5%超）</dt><dd>10</dd>" in page and "mass_absent" not in page
    page = c.get(f"/people/batches/{allowed}/").content.decode()
    assert "<dt>多数の不在の取込（--allow-mass-absent）</dt><dd>指定あり</dd>" in page
