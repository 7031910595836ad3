"""A complete snapshot (``--full``) that leaves out a large part of the record — a file cut short, or
extracted with other conditions — is refused whole unless staff allow it (``--allow-mass-absent``);
and a file that is not a readable extract says what is wrong with it, once."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from yobo.access.models import Terminal
from yobo.core.purposes import Duty, Purpose
from yobo.people import importer
from yobo.people.models import BatchAbsence, BatchStatus, ImportBatch, Person
from yobo.people.services import ImportRejected

from .test_import import TWELVE, do_import, rows_of, snapshot, write

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("key_dir")]


@pytest.fixture
def ctx(make_ctx: Callable[..., Any]) -> Any:
    return make_ctx(Purpose.RESIDENT_SYNC)


@pytest.fixture
def small_min(monkeypatch: pytest.MonkeyPatch) -> None:
    """The share alone decides (the floor of 100 persons would need a city of 2,000 in a test)."""
    monkeypatch.setattr(importer, "MASS_ABSENT_MIN", 1)


def test_a_snapshot_leaving_out_over_5_percent_is_refused_whole(ctx: Any, tmp_path: Path, small_min: None) -> None:
    rows = rows_of(200)
    do_import(ctx, write(tmp_path / "day1.csv", rows))
    # exactly 5% left out is a day's absences: applied
    s = do_import(ctx, write(tmp_path / "day2.csv", rows[:190]), full=True)
    assert (s.applied, s.absent, s.mass_absent) == (True, 10, 0)
    # 11 of 200 (5.5%), with one real change in the file: nothing of it is applied
    moved = dict(rows[0], 住所=rows[50]["住所"], 異動日="2025-05-20")
    before = snapshot()
    batches = ImportBatch.objects.count()
    for skip in (False, True):  # --skip-invalid is no way out: the file as a whole is in doubt
        with pytest.raises(ImportRejected) as exc:
            do_import(ctx, write(tmp_path / "cut.csv", [moved, *rows[1:189]]), full=True, skip_invalid=skip)
        s = exc.value.summary
        assert not s.applied and (s.mass_absent, s.absent, s.problem_count) == (11, 0, 1)
        (p,) = s.problems
        assert (p.row, p.column, p.severity) == (None, None, "error")
        assert "記録上の200人のうち11人（5.5%）" in p.message and "--allow-mass-absent" in p.message
        assert "--skip-invalid" not in str(exc.value) and "何も反映していません" in str(exc.value)
    assert snapshot() == before
    assert not (tmp_path / "cut.rejected.csv").exists()
    refused = list(ImportBatch.objects.filter(pk__gt=0).order_by("pk"))[batches:]
    assert [(b.status, b.absent, b.summary["mass_absent"]) for b in refused] == [(BatchStatus.REJECTED, 0, 11)] * 2
    assert not BatchAbsence.objects.filter(batch__in=refused).exists()


def test_allowed_the_snapshot_lists_them_for_review_and_deletes_nobody(ctx: Any, tmp_path: Path,
                                                                     small_min: None) -> None:
    rows = rows_of(200)
    do_import(ctx, write(tmp_path / "day1.csv", rows))
    s = do_import(ctx, write(tmp_path / "new-extract.csv", rows[:150]), full=True, allow_mass_absent=True)
    assert (s.applied, s.absent, s.mass_absent, s.warning_count) == (True, 50, 50, 1)
    warning = next(p for p in s.problems if p.severity == "warning")
    assert "--allow-mass-absent の指定により取り込みます" in warning.message
    assert Person.objects.count() == 200
    assert set(BatchAbsence.objects.filter(batch_id=s.batch_id).values_list("atena_no", flat=True)) == {
        r["宛名番号"] for r in rows[150:]}
    batch = ImportBatch.objects.get(pk=s.batch_id)
    assert (batch.absent, batch.summary["mass_absent"], batch.summary["allow_mass_absent"]) == (50, 50, True)


def test_rows_refused_one_by_one_are_not_counted_as_left_out(ctx: Any, tmp_path: Path, small_min: None) -> None:
    rows = rows_of(200)
    do_import(ctx, write(tmp_path / "day1.csv", rows))
    # 40 rows with an impossible birth date: rejected rows, their persons are in the file
    bad = [dict(r, 生年月日="2023-02-30") if i < 40 else r for i, r in enumerate(rows)]
    s = do_import(ctx, write(tmp_path / "bad.csv", bad), full=True, skip_invalid=True)
    assert (s.applied, s.rejected, s.absent, s.mass_absent) == (True, 40, 0, 0)


def test_the_floor_keeps_a_few_absences_in_a_small_record_apart_from_a_file_with_no_rows(
        ctx: Any, tmp_path: Path) -> None:
    rows = rows_of(120)
    do_import(ctx, write(tmp_path / "a.csv", rows))
    # 20 of 120 is a sixth, but 20 persons are a review list, not a sign of a broken file
    assert do_import(ctx, write(tmp_path / "b.csv", rows[:100]), full=True).absent == 20
    # a file with its header only is no complete snapshot of anyone
    with pytest.raises(ImportRejected) as exc:
        do_import(ctx, write(tmp_path / "empty.csv", []), full=True)
    assert exc.value.summary.mass_absent == 120
    assert "記録上の120人のうち120人（100.0%）" in exc.value.summary.problems[0].message
    # as a diff the same file changes nothing and nobody is absent
    assert do_import(ctx, write(tmp_path / "empty2.csv", [])).absent == 0


def test_command_exit_2_then_allowed_with_json(ctx: Any, make_staff: Callable[..., Any], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, small_min: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    rows = rows_of(100)
    do_import(ctx, write(tmp_path / "day1.csv", rows))
    clerk = make_staff("syncclerk3", duties=[Duty.CLERK])
    Terminal.objects.create(name="batch-3", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "batch-3")
    cut = write(tmp_path / "cut.csv", rows[:60])
    capsys.readouterr()
    with pytest.raises(CommandError) as exc:
        call_command("residents", "import", str(cut), "--full", "--as", clerk.username, "--as-of", "2025-06-01",
                     stdout=io.StringIO())
    assert exc.value.returncode == 2
    err = capsys.readouterr().err
    assert "cut.csv: 完全スナップショット（--full）" in err and "40人（40.0%）" in err and not TWELVE.search(err)
    out = io.StringIO()
    call_command("residents", "import", str(cut), "--full", "--allow-mass-absent", "--json", "--as",
                 clerk.username, "--as-of", "2025-06-01", stdout=out, stderr=io.StringIO())
    data = json.loads(out.getvalue())
    assert (data["applied"], data["absent"], data["mass_absent"], data["warnings"]) == (True, 40, 40, 1)
    listing = io.StringIO()
    call_command("residents", "batches", "--as", clerk.username, stdout=listing)
    lines = listing.getvalue().splitlines()
    assert "rejected" in lines[1] and lines[1].endswith("不在0 問題1 多数の不在40")
    assert "applied" in lines[0] and lines[0].endswith("不在40 多数の不在40")


def test_a_file_in_no_readable_encoding_names_itself_once_and_keeps_its_batch(ctx: Any, tmp_path: Path) -> None:
    path = tmp_path / "euc.csv"
    path.write_bytes("宛名番号,世帯番号\n".encode("euc_jp"))
    with pytest.raises(ImportRejected) as exc:
        do_import(ctx, path)
    s = exc.value.summary
    (p,) = s.problems
    assert str(p).startswith("euc.csv: 文字コードが") and str(p).count("euc.csv: ") == 1
    assert s.batch_id == ImportBatch.objects.get(status=BatchStatus.REJECTED).pk


def test_a_row_refused_for_its_my_number_is_not_listed_as_absent(ctx: Any, tmp_path: Path) -> None:
    rows = [r for r in rows_of(30) if r["個人番号"]][:12]
    do_import(ctx, write(tmp_path / "day1.csv", rows))
    # the vault finds this conflict after the absences are counted: its person is in the file all the same
    clash = dict(rows[11], 個人番号=rows[2]["個人番号"])
    s = do_import(ctx, write(tmp_path / "day2.csv", [*rows[:11], clash]), full=True, skip_invalid=True)
    assert (s.applied, s.rejected, s.absent, s.vault["refused"]) == (True, 1, 0, 1)
    assert not BatchAbsence.objects.filter(batch_id=s.batch_id).exists()
