"""The resident-register import (CONTRACTS.md §1): counts, re-import, diffs, --full, bad files,
--skip-invalid, CP932/和暦/半角カナ, My Number conflicts, crash atomicity, history and batch records."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from yobo.access.models import Terminal
from yobo.audit.models import AccessLogEntry
from yobo.core.errors import AccessDenied
from yobo.core.purposes import Duty, Purpose
from yobo.mynumber import checkdigit
from yobo.mynumber import selectors as mn_selectors
from yobo.mynumber.models import MyNumberLink
from yobo.people import importer, review, selectors, synth
from yobo.people.extract import COLUMNS, read_extract
from yobo.people.models import BatchAbsence, BatchStatus, ImportBatch, Person, PersonHistory
from yobo.people.services import ImportRejected, import_residents

AS_OF = date(2025, 9, 1)
TWELVE = re.compile(r"\d{12}")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(key_dir: Path) -> None:
    """A private key directory per test (the root ``key_dir``)."""


@pytest.fixture
def ctx(make_ctx: Callable[..., Any]) -> Any:
    return make_ctx(Purpose.RESIDENT_SYNC)


def rows_of(count: int, seed: int = 3, **kw: Any) -> list[dict[str, str]]:
    return list(synth.generate(count, seed, AS_OF, **kw))


def write(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8", header: list[str] | None = None) -> Path:
    header = list(header or COLUMNS)
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header])
    return path


def new_number(rng: random.Random) -> str:
    return checkdigit.generate(rng)


def do_import(ctx: Any, path: Path, **kw: Any) -> importer.ImportSummary:
    return import_residents(ctx, path, as_of=AS_OF, **kw)


def snapshot() -> tuple[Any, ...]:
    persons = sorted(Person.objects.values_list("atena_no", "row_hash", "status", "address"))
    return (persons, PersonHistory.objects.count(), MyNumberLink.objects.count(),
            sorted(MyNumberLink.objects.values_list("atena_no", "status")))


def test_import_counts_then_reimport_all_unchanged(ctx: Any, tmp_path: Path) -> None:
    rows = rows_of(300)
    f = write(tmp_path / "r.csv", rows)
    s = do_import(ctx, f)
    assert (s.inserted, s.updated, s.unchanged, s.rejected, s.absent) == (300, 0, 0, 0, 0)
    assert s.applied and Person.objects.count() == 300
    with_number = sum(1 for r in rows if r["個人番号"])
    assert MyNumberLink.objects.count() == with_number and s.vault["inserted"] == with_number
    # names kept as given; search keys normalised
    r0 = rows[0]
    p = Person.objects.get(atena_no=r0["宛名番号"])
    assert p.name_kanji == r0["漢字氏名"] and " " not in p.kana_key and "\u3000" not in p.kana_key
    assert Person.objects.values("household_no").distinct().count() == len({r["世帯番号"] for r in rows})
    before = snapshot()
    s2 = do_import(ctx, f)
    assert (s2.inserted, s2.updated, s2.unchanged) == (0, 0, 300)
    assert s2.vault == {"inserted": 0, "unchanged": with_number, "refused": 0}
    assert snapshot() == before
    assert ImportBatch.objects.filter(status=BatchStatus.APPLIED).count() == 2


def test_diff_file_updates_with_history_and_status(ctx: Any, tmp_path: Path) -> None:
    rows = rows_of(200)
    first = do_import(ctx, write(tmp_path / "full.csv", rows))
    rng = random.Random(5)
    residents = [r for r in rows if r["住民区分"] == "1" and r["個人番号"]]
    moved, dead, readdr = dict(residents[0]), dict(residents[1]), dict(residents[2])
    moved.update({"住民区分": "2", "異動事由": "転出", "異動日": "2025-08-01"})
    dead.update({"住民区分": "3", "異動事由": "死亡", "異動日": "R7.8.15"})
    readdr.update({"住所": "神奈川県横浜市中区山下町1番地", "方書": ""})
    newcomer = dict(rows[3], 宛名番号="1999999999", 世帯番号="2999999999", 個人番号=new_number(rng))
    diff = write(tmp_path / "diff.csv", [moved, dead, readdr, newcomer])
    s = do_import(ctx, diff)
    assert (s.inserted, s.updated, s.unchanged, s.absent) == (1, 3, 0, 0)
    assert s.status_changes == {"moved_out": 1, "deceased": 1}
    batch = ImportBatch.objects.get(pk=s.batch_id)
    assert batch.pk != first.batch_id and batch.updated == 3 and batch.mode == "diff"

    h = PersonHistory.objects.get(atena_no=readdr["宛名番号"], batch_id=s.batch_id)
    assert h.kind == "updated" and not h.status_changed
    old_extra = rows[2]["方書"]
    expected = {"address": [rows[2]["住所"], "神奈川県横浜市中区山下町1番地"]}
    if old_extra:
        expected["address_extra"] = [old_extra, ""]
    assert h.changes == expected

    hm = PersonHistory.objects.get(atena_no=moved["宛名番号"], batch_id=s.batch_id)
    assert hm.status_changed and hm.status == 2 and hm.status_date == date(2025, 8, 1) and hm.status_reason == "転出"
    assert hm.changes["status"] == [1, 2]
    pd = Person.objects.get(atena_no=dead["宛名番号"])
    assert pd.status == 3 and pd.status_date == date(2025, 8, 15) and pd.status_reason == "死亡"
    info = mn_selectors.status(ctx, dead["宛名番号"])
    assert info.deceased and info.deceased_on == date(2025, 8, 15)
    assert not mn_selectors.status(ctx, moved["宛名番号"]).deceased
    # the history selector shows both versions, newest first; the batch's persons are derivable
    hist = selectors.history(ctx, moved["宛名番号"])
    assert [x.kind for x in hist] == ["updated", "created"] and hist[1].batch_id == first.batch_id
    touched = set(PersonHistory.objects.filter(batch_id=s.batch_id).values_list("atena_no", flat=True))
    assert touched == {moved["宛名番号"], dead["宛名番号"], readdr["宛名番号"], "1999999999"}
    # the same diff again changes nothing
    again = do_import(ctx, diff)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert PersonHistory.objects.filter(batch_id=again.batch_id).count() == 0


def test_full_snapshot_reports_absent_and_deletes_nothing(ctx: Any, tmp_path: Path) -> None:
    rows = rows_of(120)
    do_import(ctx, write(tmp_path / "a.csv", rows))
    s = do_import(ctx, write(tmp_path / "b.csv", rows[:100]), full=True)
    assert (s.unchanged, s.absent) == (100, 20)
    assert Person.objects.count() == 120
    _, absent = review.items(ctx, s.batch_id)
    assert {i.atena_no for i in absent} == {r["宛名番号"] for r in rows[100:]}
    assert {(i.code, i.reviewed) for i in absent} == {("absent", False)}
    assert {i.atena_no: i.status for i in absent} == dict(
        Person.objects.filter(atena_no__in=[i.atena_no for i in absent]).values_list("atena_no", "status"))
    assert BatchAbsence.objects.filter(batch_id=s.batch_id).count() == 20
    # a diff file is not a snapshot: nobody is absent
    assert do_import(ctx, write(tmp_path / "c.csv", rows[:10])).absent == 0


def test_bad_file_is_refused_whole_with_every_problem(ctx: Any, tmp_path: Path) -> None:
    rows = rows_of(30)
    bad = [dict(r) for r in rows]
    num = bad[1]["個人番号"] or "123456789018"
    bad[1]["個人番号"] = num[:11] + str((int(num[11]) + 1) % 10)  # bad check digit
    bad[2]["生年月日"] = "2023-02-30"  # impossible date
    bad[3]["生年月日"] = "2030-01-01"  # future birth date
    bad[4]["宛名番号"] = bad[5]["宛名番号"]  # duplicated 宛名番号 (rows 6 and 7)
    bad[8]["住民区分"] = "9"
    f = write(tmp_path / "bad.csv", bad)
    seen: list[str] = []
    with pytest.raises(ImportRejected) as exc:
        import_residents(ctx, f, as_of=AS_OF, on_problem=lambda p: seen.append(str(p)))
    s = exc.value.summary
    assert not s.applied and s.problem_count == 5
    got = {(p.row, p.column) for p in s.problems}
    assert got == {(3, "個人番号"), (4, "生年月日"), (5, "生年月日"), (7, "宛名番号"), (10, "住民区分")}
    assert all(x.startswith("bad.csv: ") for x in seen) and len(seen) == 5
    assert Person.objects.count() == 0 and MyNumberLink.objects.count() == 0 and PersonHistory.objects.count() == 0
    b = ImportBatch.objects.get()
    assert b.status == BatchStatus.REJECTED and b.inserted == 0 and b.rejected == 5
    assert not TWELVE.search(str(exc.value)) and not any(TWELVE.search(x) for x in seen)


def test_missing_column_and_unknown_encoding_are_refused(ctx: Any, tmp_path: Path) -> None:
    rows = rows_of(5)
    header = [c for c in COLUMNS if c != "生年月日"]
    with pytest.raises(ImportRejected) as exc:
        do_import(ctx, write(tmp_path / "nocol.csv", rows, header=header))
    assert [(p.row, p.column) for p in exc.value.summary.problems] == [(1, "生年月日")]
    # UTF-16 happens to decode as CP932 garbage: refused all the same (no known column).
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(("\n".join(",".join(COLUMNS) for _ in range(2))).encode("utf-16"))
    with pytest.raises(ImportRejected):
        do_import(ctx, utf16)
    # bytes valid in neither UTF-8 nor CP932 (a CP932 lead byte with no trail byte)
    odd = tmp_path / "odd.csv"
    odd.write_bytes(",".join(COLUMNS).encode() + b"\r\n1,2,\x81 ,x\r\n")
    with pytest.raises(ImportRejected) as exc2:
        do_import(ctx, odd)
    p = exc2.value.summary.problems[0]
    assert "UTF-8" in p.message and "CP932" in p.message and p.file == "odd.csv"
    assert Person.objects.count() == 0


def test_skip_invalid_applies_valid_rows_and_writes_rejected_file(ctx: Any, tmp_path: Path) -> None:
    rows = rows_of(40)
    bad = [dict(r) for r in rows]
    bad[0]["性別"] = "x"
    bad[7]["生年月日"] = "H31.5.1"  # 平成31年5月1日 does not exist (令和元年)
    f = write(tmp_path / "part.csv", bad)
    s = do_import(ctx, f, skip_invalid=True)
    assert (s.inserted, s.rejected) == (38, 2) and s.applied
    out = tmp_path / "part.rejected.csv"
    assert s.rejected_file == str(out)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert [r["宛名番号"] for r in got] == [bad[0]["宛名番号"], bad[7]["宛名番号"]]
    assert "2行目" in got[0]["理由"] and "性別" in got[0]["理由"] and "9行目" in got[1]["理由"]
    assert not Person.objects.filter(atena_no=bad[0]["宛名番号"]).exists()
    # the rejected rows are not "absent" from a full snapshot
    assert do_import(ctx, f, skip_invalid=True, full=True).absent == 0


def test_cp932_wareki_and_halfwidth_kana(ctx: Any, tmp_path: Path) -> None:
    f = tmp_path / "sjis.csv"
    synth.write_csv(f, 150, seed=9, encoding="cp932", as_of=AS_OF, date_style="wareki", kana="half")
    raw = f.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "令和".encode("cp932") in raw or "平成".encode("cp932") in raw
    s = do_import(ctx, f)
    assert s.inserted == 150 and s.encoding == "cp932"
    expected = {r.atena_no: r for r in read_extract(f, as_of=AS_OF)}
    for p in Person.objects.all():
        e = expected[p.atena_no]
        assert (p.name_kanji, p.name_kana, p.birth_date) == (e.name_kanji, e.name_kana, e.birth_date)
        assert all(not ("\uff61" <= c <= "\uff9f") for c in p.name_kana)  # stored full-width
    # the same people in UTF-8 ISO full-width form are unchanged
    utf = tmp_path / "utf.csv"
    synth.write_csv(utf, 150, seed=9, encoding="cp932", as_of=AS_OF, date_style="iso", kana="full")
    assert do_import(ctx, utf).unchanged == 150


def test_my_number_on_two_atena_in_file_is_refused_without_the_number(ctx: Any, tmp_path: Path) -> None:
    rows = [r for r in rows_of(20) if r["個人番号"]]
    rows[4]["個人番号"] = rows[1]["個人番号"]
    number = rows[1]["個人番号"]
    err: list[str] = []
    with pytest.raises(ImportRejected) as exc:
        import_residents(ctx, write(tmp_path / "dup.csv", rows), as_of=AS_OF, on_problem=lambda p: err.append(str(p)))
    text = "\n".join(err) + str(exc.value)
    assert number not in text and rows[1]["宛名番号"] in text
    assert Person.objects.count() == 0 and MyNumberLink.objects.count() == 0


def test_my_number_already_on_another_atena_is_refused(ctx: Any, tmp_path: Path) -> None:
    rows = [r for r in rows_of(20) if r["個人番号"]]
    do_import(ctx, write(tmp_path / "a.csv", rows[:5]))
    before = snapshot()
    intruder = dict(rows[10], 個人番号=rows[2]["個人番号"])
    f = write(tmp_path / "b.csv", [*rows[5:10], intruder])
    err: list[str] = []
    with pytest.raises(ImportRejected) as exc:
        import_residents(ctx, f, as_of=AS_OF, on_problem=lambda p: err.append(str(p)))
    assert snapshot() == before
    assert [(p.row, p.column) for p in exc.value.summary.problems] == [(7, "個人番号")]
    assert rows[2]["宛名番号"] in err[0] and rows[2]["個人番号"] not in "\n".join(err)
    # --skip-invalid: the others go in, the conflicting row goes to the rejected file
    s = do_import(ctx, f, skip_invalid=True)
    assert (s.inserted, s.rejected) == (5, 1)
    text = (tmp_path / "b.rejected.csv").read_text(encoding="utf-8-sig")
    assert intruder["宛名番号"] in text and rows[2]["個人番号"] not in text
    assert not Person.objects.filter(atena_no=intruder["宛名番号"]).exists()


@pytest.mark.parametrize("step", ["_drop_plain_indexes", "_set_deceased", "_apply"])
def test_crash_mid_apply_leaves_database_as_before(ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   step: str) -> None:
    rows = rows_of(60)
    do_import(ctx, write(tmp_path / "a.csv", rows))
    before = snapshot()
    changed = [dict(r, 住所="神奈川県横浜市西区みなとみらい1番地") for r in rows[:30]]
    changed[0].update({"住民区分": "3", "異動日": "2025-08-20"})
    extra = rows_of(10, seed=77)
    f = write(tmp_path / "b.csv", changed + extra)
    real = getattr(importer, step)

    def boom(*a: Any, **kw: Any) -> None:
        real(*a, **kw)
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(importer, step, boom)
    with pytest.raises(RuntimeError):
        do_import(ctx, f)
    assert snapshot() == before
    assert ImportBatch.objects.filter(status=BatchStatus.FAILED).count() == 1
    monkeypatch.setattr(importer, step, real)
    s = do_import(ctx, f)
    assert (s.updated, s.inserted) == (30, 10)


def _index_set() -> set[tuple[str, str]]:
    """(table, index) of the tables a first load rebuilds (their indexes must always be there)."""
    from django.db import connection

    tables = ("people_person", "people_history", "mynumber_link")
    with connection.cursor() as cur:
        return {(t, name) for t in tables for name in connection.introspection.get_constraints(cur, t)}


@pytest.mark.parametrize("crash", [False, True])
def test_first_load_rebuilds_every_index_or_rolls_back(ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       crash: bool) -> None:
    """A first load drops the secondary and unique indexes and builds them after the insert
    (decision 051): afterwards, or after a crash, every index is there again."""
    from yobo.mynumber import services as mn_services

    monkeypatch.setattr(importer, "_REBUILD_INDEXES_AFTER", 1)
    monkeypatch.setattr(mn_services, "_ANALYZE_AFTER", 1)
    before = _index_set()
    assert ("people_person", "people_person_atena_uniq") in before
    assert ("mynumber_link", "mynumber_link_index_uniq") in before
    rows = rows_of(60)
    f = write(tmp_path / "a.csv", rows)
    if crash:
        real = importer._set_deceased

        def boom(*a: Any, **kw: Any) -> None:
            real(*a, **kw)
            raise RuntimeError("simulated crash")

        monkeypatch.setattr(importer, "_set_deceased", boom)
        with pytest.raises(RuntimeError):
            do_import(ctx, f)
        assert Person.objects.count() == 0 and MyNumberLink.objects.count() == 0
    else:
        from yobo.core import bulkload

        rebuilt: list[str] = []
        real_rebuild = bulkload.rebuild
        monkeypatch.setattr(bulkload, "rebuild", lambda cur, ddl: rebuilt.extend(ddl) or real_rebuild(cur, ddl))
        s = do_import(ctx, f)
        assert s.inserted == 60 and MyNumberLink.objects.count() == sum(1 for r in rows if r["個人番号"])
        # The unique keys too were built once after the insert, on both databases (SQLite's are
        # plain indexes, not inline table constraints that could not be dropped).
        built = " ".join(rebuilt)
        for key in ("people_person_atena_uniq", "mynumber_link_index_uniq", "mynumber_link_atena_uniq",
                    "mynumber_link_integrated_uniq"):
            assert key in built
        from django.db import connection

        if connection.vendor == "postgresql":  # the search's trigram indexes (GIN) as well
            assert "people_person_kana_key_trgm" in built and "gin_trgm_ops" in built
    assert _index_set() == before


def test_an_import_leaves_sqlite_the_statistics_its_searches_are_planned_by(ctx: Any, tmp_path: Path) -> None:
    """SQLite keeps no statistics unless asked; without them every index of the person table looks
    alike (all lead with the municipality) and a search by birth date walked the name index
    through the whole city (1.1 s at a million persons). Each import that changes persons takes a
    sampled ANALYZE, after which the birth-date index serves that search. (PostgreSQL collects its
    own statistics, and the import ANALYZEs after a large load.)"""
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's statistics")
    with connection.cursor() as cur:
        cur.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'people_person'")
    rows = rows_of(80)
    do_import(ctx, write(tmp_path / "r.csv", rows))
    with connection.cursor() as cur:
        cur.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'people_person'")
        assert "people_person_birth" in {r[0] for r in cur.fetchall()}
        cur.execute("EXPLAIN QUERY PLAN SELECT atena_no FROM people_person WHERE municipality = %s AND "
                    "birth_date = %s ORDER BY kana_key, birth_date, atena_no LIMIT 51",
                    [settings.MUNICIPALITY_CODE, Person.objects.values_list("birth_date", flat=True)[0]])
        assert "USING INDEX people_person_birth" in " ".join(str(r[-1]) for r in cur.fetchall())


def test_batch_record_and_access_log(ctx: Any, tmp_path: Path) -> None:
    f = write(tmp_path / "r.csv", rows_of(25))
    s = do_import(ctx, f)
    b = ImportBatch.objects.get(pk=s.batch_id)
    assert b.file_sha256 == hashlib.sha256(f.read_bytes()).hexdigest() and b.file_name == "r.csv"
    assert (b.operator_id, b.terminal, b.rows_read, b.inserted) == (ctx.staff_id, "test-terminal", 25, 25)
    assert b.finished_at is not None and b.finished_at >= b.started_at
    e = AccessLogEntry.objects.filter(resource=importer.RESOURCE, operation="batch").get()
    assert f"batch={b.pk}" in e.detail and "inserted=25" in e.detail and e.purpose == Purpose.RESIDENT_SYNC


def test_not_permitted_is_refused_before_anything(make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    auditor = make_ctx(Purpose.RESIDENT_SYNC, duties=[Duty.AUDITOR])
    with pytest.raises(AccessDenied):
        do_import(auditor, write(tmp_path / "r.csv", rows_of(5)))
    assert Person.objects.count() == 0 and not ImportBatch.objects.exists()


def test_command_json_and_exit_codes(make_staff: Callable[..., Any], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    clerk = make_staff("syncclerk", duties=[Duty.CLERK])
    Terminal.objects.create(name="batch-1", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "batch-1")
    rows = rows_of(30)
    f = write(tmp_path / "r.csv", rows)
    out = io.StringIO()
    call_command("residents", "import", str(f), "--as", clerk.username, "--json", "--as-of", "2025-09-01",
                 stdout=out, stderr=io.StringIO())
    data = json.loads(out.getvalue())
    assert {k: data[k] for k in ("inserted", "updated", "unchanged", "rejected", "absent")} == {
        "inserted": 30, "updated": 0, "unchanged": 0, "rejected": 0, "absent": 0}
    out = io.StringIO()
    call_command("residents", "import", str(f), "--full", "--as", clerk.username, "--json", stdout=out)
    assert json.loads(out.getvalue())["unchanged"] == 30
    bad = write(tmp_path / "bad.csv", [dict(rows[0], 性別="?")])
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("residents", "import", str(bad), "--as", clerk.username, stdout=io.StringIO(), stderr=err)
    assert exc.value.returncode == 2
    auditor = make_staff("aud", duties=[Duty.AUDITOR])
    with pytest.raises(CommandError) as exc3:
        call_command("residents", "import", str(f), "--as", auditor.username, stderr=io.StringIO())
    assert exc3.value.returncode == 3
    out = io.StringIO()
    call_command("residents", "batches", "--as", clerk.username, "--json", stdout=out)
    assert [b["status"] for b in json.loads(out.getvalue())][:3] == ["rejected", "applied", "applied"]


def test_duplicate_atena_found_in_sql_with_skip_invalid(ctx: Any, tmp_path: Path) -> None:
    """A repeated 宛名番号 (found on the staging table, not in memory): the later row is refused with
    both row numbers, the first goes in with its own My Number, the later row's number does not."""
    rows = [r for r in rows_of(30) if r["個人番号"]][:10]
    dup = dict(rows[7], 宛名番号=rows[2]["宛名番号"])  # rows 4 and 10 of the file
    f = write(tmp_path / "dup.csv", [*rows[:8], rows[9], dup])
    err: list[Any] = []
    with pytest.raises(ImportRejected) as exc:
        import_residents(ctx, f, as_of=AS_OF, on_problem=err.append)
    assert [(p.row, p.column) for p in exc.value.summary.problems] == [(11, "宛名番号")]
    assert "4" in err[0].message and "11" in err[0].message
    assert Person.objects.count() == 0 and MyNumberLink.objects.count() == 0
    s = do_import(ctx, f, skip_invalid=True)
    assert (s.inserted, s.rejected) == (9, 1) and s.vault["inserted"] == 9
    assert MyNumberLink.objects.filter(atena_no=rows[2]["宛名番号"]).exists()
    text = (tmp_path / "dup.rejected.csv").read_text(encoding="utf-8-sig")
    assert "11行目" in text and rows[7]["個人番号"] not in text


def test_small_chunks_interleave_staging_and_vault(ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staging and vault chunks alternate on one connection (on PostgreSQL no COPY may stay open
    while the vault queries); a number repeated across chunks is still found."""
    from yobo.mynumber import services as vault_services

    monkeypatch.setattr(importer, "_CHUNK", 7)
    monkeypatch.setattr(vault_services, "_BATCH", 5)
    rows = [r for r in rows_of(80) if r["個人番号"]][:40]
    s = do_import(ctx, write(tmp_path / "a.csv", rows))
    assert (s.inserted, s.vault["inserted"]) == (40, 40) and MyNumberLink.objects.count() == 40
    again = do_import(ctx, write(tmp_path / "a.csv", rows))
    assert (again.unchanged, again.vault["unchanged"], again.vault["inserted"]) == (40, 40, 0)
    extra = rows_of(200, seed=8)
    late = [dict(r, 個人番号=rows[3]["個人番号"]) for r in extra[:1]]  # the number of row 5, far away
    with pytest.raises(ImportRejected) as exc:
        do_import(ctx, write(tmp_path / "b.csv", [*extra[1:30], *late]))
    assert [(p.row, p.column) for p in exc.value.summary.problems] == [(31, "個人番号")]
