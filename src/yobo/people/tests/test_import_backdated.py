"""Rows older than the record (遡った異動日): yesterday's file run after today's, an old file run
again, and the register's own corrections of a 異動日 (``--allow-backdated``)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from yobo.access.models import Terminal
from yobo.core.purposes import Duty, Purpose
from yobo.mynumber import selectors as mn_selectors
from yobo.people.models import BatchAbsence, ImportBatch, Person, PersonHistory
from yobo.people.services import ImportRejected

from .test_import import TWELVE, do_import, rows_of, snapshot, write

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("key_dir")]


@pytest.fixture
def ctx(make_ctx: Callable[..., Any]) -> Any:
    return make_ctx(Purpose.RESIDENT_SYNC)


def _city(ctx: Any, tmp_path: Path) -> tuple[list[dict[str, str]], Path, dict[str, str], dict[str, str]]:
    """Day 1's complete file, imported; then day 2's diff: one resident moved out, one died."""
    rows = [r for r in rows_of(60) if r["生年月日"] < "2020"]
    day1 = write(tmp_path / "day1.csv", rows)
    do_import(ctx, day1, full=True)
    residents = [r for r in rows if r["住民区分"] == "1" and r["個人番号"] and r["異動日"]]
    moved = dict(residents[0], 住民区分="2", 異動事由="転出", 異動日="2025-08-20")
    dead = dict(residents[1], 住民区分="3", 異動事由="死亡", 異動日="2025-08-21")
    s = do_import(ctx, write(tmp_path / "day2.csv", [moved, dead]))
    assert s.status_changes == {"moved_out": 1, "deceased": 1}
    return rows, day1, moved, dead


def test_an_older_file_run_again_is_refused_and_changes_nothing(ctx: Any, tmp_path: Path) -> None:
    rows, day1, moved, dead = _city(ctx, tmp_path)
    before = snapshot()
    with pytest.raises(ImportRejected) as exc:
        do_import(ctx, day1, full=True)
    s = exc.value.summary
    rows_at = {r["宛名番号"]: i + 2 for i, r in enumerate(rows)}  # header is row 1
    errors = [p for p in s.problems if p.severity == "error"]
    assert [(p.row, p.column) for p in errors] == sorted(
        [(rows_at[moved["宛名番号"]], "異動日"), (rows_at[dead["宛名番号"]], "異動日")])
    day2 = ImportBatch.objects.order_by("-pk").exclude(status="rejected").first()
    assert day2 is not None
    # the message names the record's 異動日 and the batch it came from, never a number
    by_row = {p.row: p.message for p in errors}
    assert "2025-08-20" in by_row[rows_at[moved["宛名番号"]]]
    assert f"バッチ {day2.pk}" in by_row[rows_at[moved["宛名番号"]]]
    assert not any(TWELVE.search(p.message) for p in s.problems)
    # and says that this very file was applied before, as batch 1
    first = ImportBatch.objects.order_by("pk").first()
    assert first is not None
    assert any(p.row is None and f"バッチ {first.pk}" in p.message for p in s.problems)
    assert (s.backdated, s.applied) == (2, False)
    assert snapshot() == before
    assert Person.objects.get(atena_no=moved["宛名番号"]).status == 2
    assert mn_selectors.status(ctx, dead["宛名番号"]).deceased


def test_skip_invalid_applies_the_rest_and_keeps_the_newer_record(ctx: Any, tmp_path: Path) -> None:
    rows, _, moved, dead = _city(ctx, tmp_path)
    # day 1's file late, with one real change in it: an address
    late = [dict(r) for r in rows]
    changed = next(r for r in late if r["宛名番号"] not in (moved["宛名番号"], dead["宛名番号"]))
    changed["住所"] = "神奈川県横浜市中区山下町1番地"
    f = write(tmp_path / "late.csv", late)
    s = do_import(ctx, f, full=True, skip_invalid=True)
    assert (s.updated, s.rejected, s.backdated, s.absent) == (1, 2, 2, 0)
    assert Person.objects.get(atena_no=changed["宛名番号"]).address == "神奈川県横浜市中区山下町1番地"
    p = Person.objects.get(atena_no=moved["宛名番号"])
    assert (p.status, p.status_date) == (2, date(2025, 8, 20))
    assert Person.objects.get(atena_no=dead["宛名番号"]).status == 3
    assert mn_selectors.status(ctx, dead["宛名番号"]).deceased
    assert not PersonHistory.objects.filter(batch_id=s.batch_id, atena_no=moved["宛名番号"]).exists()
    # the refused rows are in the rejected file with their reason, and not listed as absent
    with (tmp_path / "late.rejected.csv").open(encoding="utf-8-sig", newline="") as fh:
        got = {r["宛名番号"]: r["理由"] for r in csv.DictReader(fh)}
    assert set(got) == {moved["宛名番号"], dead["宛名番号"]}
    assert "異動日" in got[moved["宛名番号"]] and "2025-08-20" in got[moved["宛名番号"]]
    assert not BatchAbsence.objects.filter(batch_id=s.batch_id).exists()


def test_a_confirmed_correction_goes_in_with_allow_backdated(ctx: Any, tmp_path: Path) -> None:
    _, _, moved, _ = _city(ctx, tmp_path)
    # the register corrects the move-out date to an earlier day (職権修正)
    fix = write(tmp_path / "fix.csv", [dict(moved, 異動日="2025-08-10", 異動事由="転出（職権修正）")])
    with pytest.raises(ImportRejected):
        do_import(ctx, fix)
    assert Person.objects.get(atena_no=moved["宛名番号"]).status_date == date(2025, 8, 20)
    s = do_import(ctx, fix, allow_backdated=True)
    assert (s.updated, s.backdated, s.problem_count, s.warning_count) == (1, 1, 0, 1)
    assert s.problems[0].column == "異動日" and "--allow-backdated" in s.problems[0].message
    assert Person.objects.get(atena_no=moved["宛名番号"]).status_date == date(2025, 8, 10)
    h = PersonHistory.objects.get(batch_id=s.batch_id)
    assert h.changes["status_date"] == ["2025-08-20", "2025-08-10"]
    batch = ImportBatch.objects.get(pk=s.batch_id)
    assert batch.summary["backdated"] == 1 and batch.summary["allow_backdated"] is True
    refused = ImportBatch.objects.filter(status="rejected").get()
    assert refused.summary["backdated"] == 1 and "allow_backdated" not in refused.summary


def test_same_or_later_dates_pass_and_a_date_taken_back_does_not(ctx: Any, tmp_path: Path) -> None:
    rows, _, moved, _ = _city(ctx, tmp_path)
    # same 異動日, another change (転出先の住所); a later 異動 (転居); no 異動日 on record nor in the row
    others = [r for r in rows if r["住民区分"] == "1" and r["異動日"] and r["宛名番号"] != moved["宛名番号"]]
    same = dict(moved, 住所="東京都千代田区千代田1番1号")
    later = dict(others[2], 異動日="2025-08-25", 異動事由="転居", 住所="神奈川県横浜市西区高島二丁目1番1号")
    never = [r for r in rows if not r["異動日"]]
    assert never, "the synthetic city has persons without a 異動"
    undated = dict(never[0], 電話番号="045-000-0000")
    s = do_import(ctx, write(tmp_path / "d3.csv", [same, later, undated]))
    assert (s.updated, s.backdated, s.problem_count) == (3, 0, 0)
    # a row without a 異動日 for a person whose record has one: the date would be taken back
    with pytest.raises(ImportRejected) as exc:
        do_import(ctx, write(tmp_path / "d4.csv", [dict(later, 異動日="", 住所=others[2]["住所"])]))
    (p,) = exc.value.summary.problems
    assert (p.row, p.column) == (2, "異動日") and "（空欄）" in p.message and "2025-08-25" in p.message


def test_command_refuses_with_exit_2_and_takes_allow_backdated(ctx: Any, make_staff: Callable[..., Any],
                                                                tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    _, _, moved, _ = _city(ctx, tmp_path)
    clerk = make_staff("syncclerk2", duties=[Duty.CLERK])
    Terminal.objects.create(name="batch-2", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "batch-2")
    fix = write(tmp_path / "fix.csv", [dict(moved, 異動日="2025-08-10")])
    capsys.readouterr()
    with pytest.raises(CommandError) as exc:
        call_command("residents", "import", str(fix), "--as", clerk.username, "--as-of", "2025-09-01",
                     stdout=io.StringIO())
    assert exc.value.returncode == 2
    err = capsys.readouterr().err  # the problems go to the process's stderr as they are found
    assert "fix.csv: 2行目" in err and "「異動日」" in err and "--allow-backdated" in err
    out = io.StringIO()
    call_command("residents", "import", str(fix), "--allow-backdated", "--json", "--as", clerk.username,
                 "--as-of", "2025-09-01", stdout=out, stderr=io.StringIO())
    data = json.loads(out.getvalue())
    assert (data["updated"], data["backdated"], data["warnings"]) == (1, 1, 1)
