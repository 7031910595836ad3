"""確認記録: what a batch lists for staff (absent from a complete snapshot, 住基ネット findings) is
reviewed once, carried over to later batches while it stands, and kept only as long as its rule says."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yobo.access.models import Terminal
from yobo.audit.models import AccessLogEntry
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Duty, Purpose
from yobo.people import jukinet, review
from yobo.people.models import BatchAbsence, NonResidentFinding

from .test_import import do_import, rows_of, write
from .test_jukinet import answer, found, register

pytestmark = pytest.mark.django_db
NOTE = "住記側で職権消除済みを確認"


@pytest.fixture(autouse=True)
def _keys(key_dir: Path) -> None:
    """A private key directory per test (the root ``key_dir``)."""


def absent_state(batch_id: int) -> dict[str, tuple[bool, str]]:
    return {a: (at is not None, note) for a, at, note in
            BatchAbsence.objects.filter(batch_id=batch_id).values_list("atena_no", "reviewed_at", "review_note")}


def test_an_absence_is_reviewed_once_and_carried_over_while_it_stands(
        make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    rows = rows_of(12)
    a7, a8, a9 = (rows[i]["宛名番号"] for i in (7, 8, 9))
    do_import(ctx, write(tmp_path / "all.csv", rows))
    first = do_import(ctx, write(tmp_path / "f1.csv", rows[:8] + rows[10:]), full=True)
    assert set(absent_state(first.batch_id)) == {a8, a9}

    assert review.mark(ctx, first.batch_id, a8, f"  {NOTE}\n") == 1
    e = AccessLogEntry.objects.filter(operation="update", target=a8).get()
    assert (e.purpose, e.resource, e.staff) == ("P01", "people.person", ctx.username)

    # the next snapshot lists 8 again (reviewed, as recorded), 7 newly absent and 9 still open
    second = do_import(ctx, write(tmp_path / "f2.csv", rows[:7] + rows[10:]), full=True)
    assert absent_state(second.batch_id) == {a7: (False, ""), a8: (True, NOTE), a9: (False, "")}
    _, listed = review.items(ctx, second.batch_id)
    assert [(i.atena_no, i.reviewed, i.reviewed_by) for i in listed] == [
        (a7, False, ""), (a8, True, ctx.username), (a9, False, "")]
    # a review on the older batch reaches the later batch that still lists the person
    assert review.mark(ctx, first.batch_id, a9, "転出処理の漏れ。住記担当へ連絡") == 2
    assert absent_state(second.batch_id)[a9] == (True, "転出処理の漏れ。住記担当へ連絡")

    with pytest.raises(InputRejected, match="確認済み"):  # the first review stands
        review.mark(ctx, second.batch_id, a8, "別の内容")
    with pytest.raises(review.NoSuchItem):
        review.mark(ctx, second.batch_id, rows[0]["宛名番号"], NOTE)
    with pytest.raises(review.NoSuchItem):  # a diff batch lists nothing
        review.mark(ctx, first.batch_id - 1, a7, NOTE)

    # 8 comes back (changed by a diff) and goes missing again: looked at again
    back = dict(rows[8], 住所=rows[8]["住所"] + "別館")
    assert do_import(ctx, write(tmp_path / "d.csv", [back])).updated == 1
    third = do_import(ctx, write(tmp_path / "f3.csv", rows[:7] + rows[10:]), full=True)
    assert absent_state(third.batch_id) == {
        a7: (False, ""), a8: (False, ""), a9: (True, "転出処理の漏れ。住記担当へ連絡")}


def test_a_note_is_required_and_never_holds_a_number(make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    rows = rows_of(5)
    do_import(ctx, write(tmp_path / "all.csv", rows))
    b = do_import(ctx, write(tmp_path / "f.csv", rows[:4]), full=True).batch_id
    gone = rows[4]["宛名番号"]
    for note, why in (("  ", "備考"), ("番号 １２３４５６７８９０１２ を確認", "12桁"), ("x" * 201, "200")):
        with pytest.raises(InputRejected, match=why) as exc:
            review.mark(ctx, b, gone, note)
        assert not re.search(r"\d{12}", str(exc.value))
    assert absent_state(b) == {gone: (False, "")}
    assert review.mark(ctx, b, gone, "電話 045-123-4567 で本人に確認") == 1  # short digit runs are fine


def test_staff_without_the_duty_cannot_list_or_review(make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    rows = rows_of(5)
    do_import(ctx, write(tmp_path / "all.csv", rows))
    b = do_import(ctx, write(tmp_path / "f.csv", rows[:4]), full=True).batch_id
    entry = make_ctx(Purpose.PERSON_INQUIRY, duties=[Duty.ENTRY])  # P01 is not among its purposes
    with pytest.raises(AccessDenied):
        review.items(entry, b)
    with pytest.raises(AccessDenied):
        review.mark(entry, b, rows[4]["宛名番号"], NOTE)
    assert absent_state(b) == {rows[4]["宛名番号"]: (False, "")}
    denied = AccessLogEntry.objects.filter(staff=entry.username, result="denied")
    assert denied.count() == 2 and set(denied.values_list("purpose", flat=True)) == {"P01"}


def test_a_finding_is_reviewed_under_p03_and_carried_to_the_next_check(
        make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    lost = register(make_ctx, "伊藤　誠", "イトウ　マコト", date(1970, 7, 7), 4, sex=1)
    other = register(make_ctx, "渡辺　愛", "ワタナベ　アイ", date(2000, 1, 1), 5)
    ctx = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    rows = [{"照会番号": lost, "照会結果": "0"}, found(other, 5, "渡辺　愛", date(2000, 1, 2))]
    one = jukinet.check(ctx, answer(tmp_path / "a1.csv", rows))
    # the review is recorded under the item's own purpose, whatever the caller held
    assert review.mark(ctx.for_purpose(Purpose.RESIDENT_SYNC), one.batch_id, lost, "本人へ照会中") == 1
    marked = AccessLogEntry.objects.filter(operation="update", target=lost, detail__startswith="review").get()
    assert marked.purpose == "P03"

    two = jukinet.check(ctx, answer(tmp_path / "a2.csv", [rows[0], {"照会番号": other, "照会結果": "0"}]))
    got = {f.atena_no: (f.code, f.reviewed_at is not None, f.review_note)
           for f in NonResidentFinding.objects.filter(batch_id=two.batch_id)}
    # the same finding keeps its review; another finding for a person is looked at afresh
    assert got == {lost: ("not_found", True, "本人へ照会中"), other: ("not_found", False, "")}
    batch, items = jukinet.findings(ctx)
    assert batch is not None and batch.pk == two.batch_id
    assert [(i.atena_no, i.reviewed) for i in items] == [(lost, True), (other, False)]


def test_commands_review_and_list(make_staff: Callable[..., Any], make_ctx: Callable[..., Any], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    Terminal.objects.create(name="batch-1", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "batch-1")
    clerk = make_staff("rvclerk", duties=[Duty.CLERK])
    rows = rows_of(6)
    ctx = make_ctx(Purpose.RESIDENT_SYNC, staff=clerk)
    do_import(ctx, write(tmp_path / "all.csv", rows))
    b = do_import(ctx, write(tmp_path / "f.csv", rows[:5]), full=True).batch_id
    gone = rows[5]["宛名番号"]
    out = io.StringIO()
    call_command("residents", "review", str(b), gone, "--note", NOTE, "--as", clerk.username, "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"batch_id": b, "atena_no": gone, "marked": 1}
    out = io.StringIO()
    call_command("residents", "absent", str(b), "--as", clerk.username, "--json", stdout=out)
    [item] = json.loads(out.getvalue())
    assert (item["atena_no"], item["code"], item["reviewed"], item["reviewed_by"], item["review_note"]) == (
        gone, "absent", True, clerk.username, NOTE)
    out = io.StringIO()
    call_command("residents", "absent", str(b), "--as", clerk.username, stdout=out)
    assert f"{gone}\t" in out.getvalue() and "確認済 " in out.getvalue() and NOTE in out.getvalue()
    with pytest.raises(CommandError) as exc:
        call_command("residents", "review", str(b), gone, "--note", "again", "--as", clerk.username,
                     stdout=io.StringIO())
    assert exc.value.returncode == 2


def test_the_demo_city_leaves_absent_residents_to_review(make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    from yobo.people.models import ImportBatch, Person
    from yobo.people.services import DEMO_ABSENT, ensure_demo_city

    ctx = make_ctx(Purpose.RESIDENT_SYNC, duties=[Duty.CLERK])
    first = ensure_demo_city(ctx, tmp_path, count=400, seed=7)
    assert first is not None and first.inserted == 400
    load, snap = ImportBatch.objects.order_by("pk")
    assert (load.mode, snap.mode, snap.status, snap.absent, snap.updated) == ("diff", "full", "applied", DEMO_ABSENT, 0)
    gone = set(BatchAbsence.objects.filter(batch=snap).values_list("atena_no", flat=True))
    # residents left out across the file, none changed or deleted
    assert len(gone) == DEMO_ABSENT
    assert set(Person.objects.filter(atena_no__in=gone).values_list("status", flat=True)) == {1}
    assert max(gone) > min(gone) and Person.objects.count() == 400
    _, items = review.items(ctx, snap.pk)
    assert [i.reviewed for i in items] == [False] * DEMO_ABSENT
    assert ensure_demo_city(ctx, tmp_path, count=400, seed=7) is None
    assert ImportBatch.objects.count() == 2


def test_the_demo_citys_next_day_brings_a_move_a_death_a_new_name_and_a_birth(
        make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    from yobo.mynumber import selectors as mn_selectors
    from yobo.people.models import ImportBatch, Person, PersonHistory
    from yobo.people.services import DEMO_CHANGES_ON, ensure_demo_changes, ensure_demo_city

    ctx = make_ctx(Purpose.RESIDENT_SYNC, duties=[Duty.CLERK])
    assert ensure_demo_changes(ctx, tmp_path, seed=7) is None  # no city yet, no snapshot
    ensure_demo_city(ctx, tmp_path, count=400, seed=7)
    s = ensure_demo_changes(ctx, tmp_path, seed=7)
    assert s is not None and s.applied and s.problem_count == 0
    assert s.status_changes == {"moved_out": 1, "deceased": 1}
    hist = {h.atena_no: h for h in PersonHistory.objects.filter(batch_id=s.batch_id)}
    moved = [h for h in hist.values() if h.status_reason == "転居"]
    assert len(moved) >= 3 and all(set(h.changes) >= {"address"} for h in moved)
    assert len({Person.objects.get(atena_no=h.atena_no).household_no for h in moved}) == 1  # one family
    (bride,) = [h for h in hist.values() if h.status_reason == "氏の変更"]
    assert bride.changes["name_kanji"][1].startswith("高橋") and set(bride.changes) >= {"name_kanji", "name_kana"}
    (dead,) = [h for h in hist.values() if h.status_changed and h.status == 3]
    assert mn_selectors.status(ctx, dead.atena_no).deceased_on == DEMO_CHANGES_ON
    (born,) = [h for h in hist.values() if h.kind == "created"]
    baby = Person.objects.get(atena_no=born.atena_no)
    assert baby.relationship == "子" and baby.status_reason == "出生"
    head = Person.objects.get(household_no=baby.household_no, relationship="世帯主")
    assert baby.address == head.address and baby.name_kanji.split("\u3000")[0] == head.name_kanji.split("\u3000")[0]
    siblings = Person.objects.filter(household_no=baby.household_no).exclude(atena_no=baby.atena_no)
    assert baby.name_kanji not in {x.name_kanji for x in siblings}  # not a sibling's name again
    assert mn_selectors.status(ctx, baby.atena_no).registered
    assert (s.inserted, s.updated) == (1, len(hist) - 1)
    # once only; the batch list shows it as the day's diff
    assert ensure_demo_changes(ctx, tmp_path, seed=7) is None
    assert ImportBatch.objects.order_by("-pk").values_list("mode", "file_name")[0] == ("diff",
                                                                                      "demo-residents-7-changes.csv")
