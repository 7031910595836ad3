"""住基ネットによる住登外者の整合性確認 (people.jukinet): the query as an approved export, the answer
checked whole, the 住登外者 brought up to date, what needs a person left as findings."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from yobo.access.models import Terminal
from yobo.audit.models import AccessLogEntry
from yobo.core.purposes import Duty, Operation, Purpose
from yobo.core.wareki import to_wareki
from yobo.exports import services as exports
from yobo.mynumber import checkdigit, keys
from yobo.mynumber.models import LinkStatus, MyNumberLink
from yobo.mynumber.services import Verification
from yobo.people import jukinet, nonresidents, protection
from yobo.people.jukinet import Finding
from yobo.people.models import (
    BatchStatus,
    ImportBatch,
    NonResidentFinding,
    Person,
    PersonHistory,
    ProtectionAction,
)
from yobo.people.nonresidents import Applicant

from .test_registry_staff import add_person

pytestmark = pytest.mark.django_db

VERIF = Verification(number_check="card", identity_documents=("card",))
HEADER = list(jukinet.COLUMNS)


def number(seed: int) -> str:
    return checkdigit.generate(random.Random(seed))


def register(make_ctx: Callable[..., Any], name: str, kana: str, born: date, seed: int, sex: int = 2,
             address: str = "東京都千代田区千代田1番1号") -> str:
    """A 住登外者 registered and confirmed by two staff members; returns the 宛名番号."""
    a = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    app_id, atena = nonresidents.apply(a, Applicant(name_kanji=name, name_kana=kana, birth_date=born, sex=sex,
                                                    address=address, address_extra="メゾン101",
                                                    postal_code="1000001", reason="里帰り出産"),
                                       number(seed), VERIF)
    nonresidents.confirm(make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.SUPERVISOR]), app_id)
    return atena


def answer(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as out:
        w = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    return path


def found(atena: str, seed: int, name: str, born: date, *, sex: str = "2",
          address: str = "東京都千代田区千代田1番1号メゾン101", status: str = "1", kana: str = "", reason: str = "",
          when: str = "", city: str = "131016") -> dict[str, str]:
    return {"照会番号": atena, "照会結果": "1", "個人番号": number(seed), "漢字氏名": name, "カナ氏名": kana,
            "生年月日": born.isoformat(), "性別": sex, "住所": address, "住民区分": status, "異動事由": reason,
            "異動日": when, "市区町村コード": city}


@pytest.fixture
def people(key_dir: Path, make_ctx: Callable[..., Any]) -> dict[str, str]:
    keys.ensure_keys()
    add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(1985, 4, 1))
    return {
        "mover": register(make_ctx, "高橋　陽菜", "タカハシ　ヒナ", date(2024, 12, 1), 1),
        "dead": register(make_ctx, "鈴木　一郎", "スズキ　イチロウ", date(1940, 3, 3), 2, sex=1),
        "same": register(make_ctx, "佐藤　花", "サトウ　ハナ", date(1990, 5, 5), 3),
        "lost": register(make_ctx, "伊藤　誠", "イトウ　マコト", date(1970, 7, 7), 4, sex=1),
        "other": register(make_ctx, "渡辺　愛", "ワタナベ　アイ", date(2000, 1, 1), 5),
        "wrongno": register(make_ctx, "中村　翔", "ナカムラ　ショウ", date(2010, 2, 2), 6, sex=1),
        "movedin": register(make_ctx, "小林　葵", "コバヤシ　アオイ", date(2023, 8, 8), 7),
    }


def full_answer(tmp_path: Path, p: dict[str, str]) -> Path:
    return answer(tmp_path / "answer.csv", [
        # married and moved: new name, kana and address
        found(p["mover"], 1, "田中　陽菜", date(2024, 12, 1), kana="ﾀﾅｶ ﾋﾅ", address="大阪府大阪市北区梅田1丁目1番",
              reason="転入", when="2026-10-01", city="271276"),
        found(p["dead"], 2, "鈴木　一郎", date(1940, 3, 3), sex="1", status="3", reason="死亡", when="R8.9.30"),
        # the same items in another spelling (half-width digits, no space): no change
        found(p["same"], 3, "佐藤 花", date(1990, 5, 5), address="東京都千代田区千代田１番１号　メゾン１０１"),
        {"照会番号": p["lost"], "照会結果": "0"},
        found(p["other"], 5, "渡辺　愛", date(2000, 1, 2)),  # another birth date: another person?
        found(p["wrongno"], 60, "中村　翔", date(2010, 2, 2), sex="1"),  # a number not the one on record
        found(p["movedin"], 7, "小林　葵", date(2023, 8, 8), address="横浜市中区港町1丁目1番地", city="141003"),
        found("1000000001", 8, "山田　太郎", date(1985, 4, 1), sex="1"),  # a register person
        found("9999999999", 9, "誰　某", date(1999, 9, 9)),  # no such 宛名番号
    ])


def test_a_check_brings_nonresidents_up_to_date_and_leaves_the_rest_for_staff(
        people: dict[str, str], make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    ctx = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    before = {p.atena_no: (p.name_kanji, p.address, p.status) for p in Person.objects.all()}
    s = jukinet.check(ctx, full_answer(tmp_path, people), as_of=date(2026, 11, 24))

    assert s.applied and s.updated == 3 and s.unchanged == 1
    assert s.status_changes == {"死亡": 1}
    assert s.findings == {Finding.NOT_FOUND: 1, Finding.IDENTITY_DIFFERS: 1, Finding.NUMBER_DIFFERS: 1,
                          Finding.MOVED_IN: 1, Finding.NOT_NONRESIDENT: 1, Finding.UNKNOWN: 1}
    mover = Person.objects.get(atena_no=people["mover"])
    assert (mover.name_kanji, mover.name_kana, mover.kana_key) == ("田中　陽菜", "タナカ　ヒナ", "タナカヒナ")
    assert (mover.address, mover.address_extra, mover.postal_code) == ("大阪府大阪市北区梅田1丁目1番", "", "")
    assert mover.address_key == "大阪市北区梅田1-1-"  # searched at the new address, not the old one
    assert mover.status == 1 and mover.updated_batch_id == s.batch_id
    h = PersonHistory.objects.get(atena_no=people["mover"], batch_id=s.batch_id)
    assert h.changes["name_kanji"] == ["高橋　陽菜", "田中　陽菜"]
    assert h.changes["address_extra"] == ["メゾン101", ""] and not h.status_changed
    dead = Person.objects.get(atena_no=people["dead"])
    assert (dead.status, dead.status_date, dead.status_reason) == (3, date(2026, 9, 30), "死亡")
    assert MyNumberLink.objects.get(atena_no=people["dead"]).status == LinkStatus.DECEASED
    # Held persons and the register person are as they were; the moved-in one is brought up to date.
    for key in ("same", "lost", "other", "wrongno"):
        p = Person.objects.get(atena_no=people[key])
        assert (p.name_kanji, p.address, p.status) == before[people[key]]
        assert not PersonHistory.objects.filter(atena_no=people[key], batch_id=s.batch_id).exists()
    assert Person.objects.get(atena_no="1000000001").address == before["1000000001"][1]
    assert Person.objects.get(atena_no=people["movedin"]).address == "横浜市中区港町1丁目1番地"

    batch, rows = jukinet.findings(ctx)
    assert batch is not None and batch.pk == s.batch_id and batch.mode == "jkn"
    assert [(f.row, f.atena_no, f.code) for f in rows] == [
        (5, people["lost"], Finding.NOT_FOUND), (6, people["other"], Finding.IDENTITY_DIFFERS),
        (7, people["wrongno"], Finding.NUMBER_DIFFERS), (8, people["movedin"], Finding.MOVED_IN),
        (9, "1000000001", Finding.NOT_NONRESIDENT), (10, "9999999999", Finding.UNKNOWN)]
    assert rows[0].name_kanji == "伊藤　誠"
    logged = AccessLogEntry.objects.filter(resource="people.nonresident", operation=Operation.BATCH,
                                           detail__startswith="jukinet check")
    assert {e.purpose for e in logged} == {"P03"}
    assert {e.target for e in logged} == {people[k] for k in people} | {"1000000001", "9999999999"}

    # The same answer again changes nothing.
    again = jukinet.check(ctx, tmp_path / "answer.csv", as_of=date(2026, 11, 24))
    assert (again.updated, again.unchanged, again.status_changes) == (0, 4, {})
    assert not PersonHistory.objects.filter(batch_id=again.batch_id).exists()


def test_a_bad_answer_is_refused_whole_with_every_problem(
        people: dict[str, str], make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    ctx = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    good = found(people["dead"], 2, "鈴木　一郎", date(1940, 3, 3), sex="1", status="3", when="2026-09-30")
    bad_no = number(11)[:11] + str((int(number(11)[11]) + 1) % 10)
    f = answer(tmp_path / "bad.csv", [
        good,
        dict(found(people["mover"], 1, "高橋　陽菜", date(2024, 12, 1)), 個人番号=bad_no),
        dict(found(people["same"], 3, "佐藤　花", date(1990, 5, 5)), 生年月日="2025-02-30"),
        {"照会番号": people["lost"], "照会結果": "該当"},
        dict(good, 漢字氏名="重複"),
        dict(found(people["other"], 5, "渡辺　愛", date(2000, 1, 1)), 住所="", カナ氏名="わたなべ"),
    ])
    seen: list[Any] = []
    with pytest.raises(jukinet.CheckRejected) as exc:
        jukinet.check(ctx, f, as_of=date(2026, 11, 24), on_problem=seen.append)
    got = {(p.row, p.column) for p in exc.value.summary.problems}
    assert got == {(3, "個人番号"), (4, "生年月日"), (5, "照会結果"), (6, "照会番号"), (7, "住所"), (7, "カナ氏名")}
    assert "6行目" in str(next(p for p in seen if p.row == 6))
    assert bad_no not in "".join(str(p) for p in seen)  # never a number in a message
    # Nothing applied: the good row's person is still living; a rejected batch is on record.
    assert Person.objects.get(atena_no=people["dead"]).status == 1
    assert not NonResidentFinding.objects.exists()
    b = ImportBatch.objects.get(pk=exc.value.summary.batch_id)
    assert (b.status, b.mode, b.rejected) == (BatchStatus.REJECTED, "jkn", 5)
    # A file without the key column is refused at its header.
    with pytest.raises(jukinet.CheckRejected) as exc2:
        jukinet.check(ctx, _write(tmp_path / "nohead.csv", "照会結果,漢字氏名\r\n1,山田\r\n"))
    assert [(p.row, p.column) for p in exc2.value.summary.problems] == [(1, "照会番号")]


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_a_cp932_answer_with_wareki_and_half_width_kana(
        people: dict[str, str], make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    ctx = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    row = found(people["mover"], 1, "高橋　陽菜", date(2024, 12, 1), kana="ﾀｶﾊｼ ﾋﾅｺ",
                address="東京都港区芝公園4丁目2番8号")
    row["生年月日"] = "令和6年12月1日"
    s = jukinet.check(ctx, answer(tmp_path / "sjis.csv", [row], encoding="cp932"), as_of=date(2026, 11, 24))
    assert s.encoding == "cp932" and s.updated == 1
    p = Person.objects.get(atena_no=people["mover"])
    assert (p.name_kana, p.address) == ("タカハシ　ヒナコ", "東京都港区芝公園4丁目2番8号")


@hsettings(max_examples=40, deadline=None)
@given(born=st.dates(min_value=date(1912, 8, 1), max_value=date(2026, 11, 24)), style=st.sampled_from(
    ["iso", "compact", "wareki", "wareki_short"]), sex=st.sampled_from(["1", "男", "2", "女", "１", "２"]))
def test_read_answer_parses_every_date_form_and_sex_it_accepts(born: date, style: str, sex: str) -> None:
    import tempfile

    text = {"iso": born.isoformat(), "compact": born.strftime("%Y%m%d"), "wareki": to_wareki(born),
            "wareki_short": to_wareki(born, short=True)}[style]
    with tempfile.TemporaryDirectory() as d:
        f = answer(Path(d) / "a.csv", [{"照会番号": "９００００００００１", "照会結果": "１", "漢字氏名": "某",
                                        "生年月日": text, "性別": sex, "住所": "某所", "住民区分": "1"}])
        rows, problems, _ = jukinet.read_answer(f, as_of=date(2026, 11, 24))
    assert problems == []
    assert (rows[0].atena_no, rows[0].birth_date, rows[0].sex) == ("9000000001", born, 1 if sex in "1男１" else 2)


def test_the_query_is_an_approved_export_of_living_nonresidents_without_numbers(
        people: dict[str, str], make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    ctx = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    jukinet.check(ctx, answer(tmp_path / "a.csv", [
        found(people["dead"], 2, "鈴木　一郎", date(1940, 3, 3), sex="1", status="3", when="2026-09-30")]),
        as_of=date(2026, 11, 24))
    rid0 = protection.request_change(make_ctx(Purpose.PROTECTION_MEASURE, duties=[Duty.CLERK]), people["same"],
                                     ProtectionAction.SET)
    protection.confirm(make_ctx(Purpose.PROTECTION_MEASURE, duties=[Duty.SUPERVISOR]), rid0)
    admin = make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN])
    exports.permit_terminal(admin, "test-terminal", "住基ネット照会")
    clerk = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    rid = exports.request_export(clerk, kind=jukinet.KIND, purpose="P03", items=jukinet.QUERY_ITEMS,
                                 reason="住登外者の定期確認", destination="住基ネットCS端末", medium="usb")
    exports.approve(make_ctx(Purpose.EXPORT, duties=[Duty.SUPERVISOR]), rid)
    res = exports.run_registered(make_ctx(Purpose.EXPORT, duties=[Duty.CLERK]), rid, out_dir=tmp_path / "out")
    with pyzipper.AESZipFile(res.path) as z:
        z.setpassword(res.password.encode())
        lines = z.read(z.namelist()[0]).decode("utf-8-sig").splitlines()
    assert lines[0] == ",".join(jukinet.QUERY_ITEMS) and "個人番号" not in lines[0]
    got = {line.split(",")[0] for line in lines[1:]}
    assert got == {v for k, v in people.items() if k != "dead"}  # the living 住登外者 only
    assert f"{people['mover']},高橋　陽菜,タカハシ　ヒナ,2024-12-01,2,東京都千代田区千代田1番1号メゾン101" in lines
    assert not any(number(i) in "".join(lines) for i in range(1, 8))
    # 支援措置: a protected person is queried by name, birth date and sex; the address stays here.
    assert f"{people['same']},佐藤　花,サトウ　ハナ,1990-05-05,2," in lines


def test_a_status_change_without_its_date_clears_the_old_date(
        people: dict[str, str], make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    ctx = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    jukinet.check(ctx, answer(tmp_path / "a.csv", [
        found(people["same"], 3, "佐藤　花", date(1990, 5, 5), status="2", reason="国外転出", city="")]))
    p = Person.objects.get(atena_no=people["same"])
    assert (p.status, p.status_date, p.status_reason) == (2, None, "国外転出")
    h = PersonHistory.objects.filter(atena_no=people["same"]).latest("changed_at")
    assert h.status_changed and h.changes["status"] == [1, 2] and h.changes["status_date"][1] is None
    assert MyNumberLink.objects.get(atena_no=people["same"]).status == LinkStatus.ACTIVE  # only 死亡 flags it


def test_commands_json_findings_and_exit_codes(people: dict[str, str], make_staff: Callable[..., Any],
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    Terminal.objects.create(name="batch-1", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "batch-1")
    clerk = make_staff("jkclerk", duties=[Duty.CLERK])
    f = full_answer(tmp_path, people)
    out = io.StringIO()
    call_command("residents", "jukinet-check", str(f), "--as", clerk.username, "--json", "--as-of", "2026-11-24",
                 stdout=out)
    data = json.loads(out.getvalue())
    assert (data["updated"], data["unchanged"], sum(data["findings"].values())) == (3, 1, 6)
    out = io.StringIO()
    call_command("residents", "jukinet-findings", "--as", clerk.username, "--json", stdout=out)
    listed = json.loads(out.getvalue())
    assert listed["batch_id"] == data["batch_id"] and len(listed["findings"]) == 6
    out = io.StringIO()
    call_command("residents", "jukinet-findings", str(data["batch_id"]), "--as", clerk.username, stdout=out)
    assert "住基ネットで該当なし" in out.getvalue() and people["lost"] in out.getvalue()
    bad = _write(tmp_path / "bad.csv", "照会番号,照会結果\r\nabc,1\r\n")
    with pytest.raises(CommandError) as exc:
        call_command("residents", "jukinet-check", str(bad), "--as", clerk.username, stdout=io.StringIO())
    assert exc.value.returncode == 2
    assert "bad.csv: 2行目 (row 2) 列「照会番号」" in capsys.readouterr().err
    entry = make_staff("jkentry", duties=[Duty.ENTRY])
    batches = ImportBatch.objects.count()
    for file in (f, bad):  # refused before the file is read: a bad file is not even reported
        with pytest.raises(CommandError) as exc3:
            call_command("residents", "jukinet-check", str(file), "--as", entry.username, stdout=io.StringIO())
        assert exc3.value.returncode == 3
    assert ImportBatch.objects.count() == batches
    assert "照会番号" not in capsys.readouterr().err
