"""The resident import with its reader in a worker process (decision 051, second push): the same
outcome as in-process, a bad row still refuses the whole file with every problem listed, a dead
worker fails the batch with nothing applied; the staging feed's COPY text and chunks."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yobo.mynumber.models import MyNumberLink
from yobo.people import extract, importer, synth
from yobo.people.extract import COLUMNS
from yobo.people.models import BatchStatus, ImportBatch, Person, PersonHistory
from yobo.people.services import ImportRejected, import_residents

AS_OF = date(2025, 9, 1)


@pytest.fixture(autouse=True)
def _keys(key_dir: Path) -> None:
    """A private key directory per test (the root ``key_dir``)."""


@pytest.fixture
def ctx(make_ctx: Callable[..., Any]) -> Any:
    from yobo.core.purposes import Purpose

    return make_ctx(Purpose.RESIDENT_SYNC)


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r.get(h, "") for h in COLUMNS])
    return path


def state() -> tuple[Any, ...]:
    persons = sorted(Person.objects.values_list("atena_no", "row_hash", "status", "address", "name_kanji",
                                                "kana_key", "status_date"))
    return persons, sorted(MyNumberLink.objects.values_list("atena_no", "status")), PersonHistory.objects.count()


@pytest.mark.django_db
def test_worker_gives_the_in_process_result(ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "_CHUNK", 13)  # several chunks through the pipe
    rows = list(synth.generate(60, 4, AS_OF))
    rows[5]["住所"] = "横浜市中区\\本町\t1番地"  # a backslash (and a tab, refused) on the COPY text path
    f = write(tmp_path / "r.csv", rows)
    with pytest.raises(ImportRejected):
        import_residents(ctx, f, as_of=AS_OF, worker=True)
    rows[5]["住所"] = "横浜市中区\\本町1番地"
    f = write(tmp_path / "r.csv", rows)
    s = import_residents(ctx, f, as_of=AS_OF, worker=True)
    assert (s.inserted, s.rows_read, s.applied) == (60, 60, True)
    assert Person.objects.get(atena_no=extract.read_extract(f, as_of=AS_OF).read_all()[5].atena_no).address == (
        "横浜市中区\\本町1番地")
    b = ImportBatch.objects.get(pk=s.batch_id)
    assert b.file_sha256 == extract.file_sha256(f) and b.rows_read == 60
    with_worker = state()
    assert import_residents(ctx, f, as_of=AS_OF, worker=True).unchanged == 60

    # The same file in-process, into a fresh register: the same persons, hashes and links.
    Person.objects.all().delete()
    PersonHistory.objects.all().delete()
    MyNumberLink.objects.all().delete()
    s2 = import_residents(ctx, f, as_of=AS_OF, worker=False)
    assert s2.inserted == 60 and state() == with_worker


@pytest.mark.django_db
def test_worker_bad_rows_refuse_the_whole_file(ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "_CHUNK", 7)
    rows = list(synth.generate(40, 5, AS_OF))
    rows[3]["性別"] = "?"  # row 5 of the file (header = row 1)
    rows[30]["生年月日"] = "2030-01-01"  # row 32, in a later chunk
    rows[31]["宛名番号"] = rows[2]["宛名番号"]  # row 33 repeats row 4 (found in SQL)
    f = write(tmp_path / "bad.csv", rows)
    seen: list[Any] = []
    with pytest.raises(ImportRejected) as exc:
        import_residents(ctx, f, as_of=AS_OF, worker=True, on_problem=seen.append)
    s = exc.value.summary
    assert [(p.row, p.column) for p in s.problems] == [(5, "性別"), (32, "生年月日"), (33, "宛名番号")]
    assert seen == s.problems and s.problem_count == 3 and not s.applied
    assert Person.objects.count() == 0 and MyNumberLink.objects.count() == 0
    assert ImportBatch.objects.get().status == BatchStatus.REJECTED
    # With --skip-invalid the good rows go in and the bad ones to the rejected file.
    s2 = import_residents(ctx, f, as_of=AS_OF, worker=True, skip_invalid=True)
    assert (s2.inserted, s2.rejected) == (37, 3)
    text = (tmp_path / "bad.rejected.csv").read_text(encoding="utf-8-sig")
    assert all(f"{row}行目" in text for row in (5, 32, 33))


@pytest.mark.django_db
def test_a_dead_worker_fails_the_batch_and_applies_nothing(ctx: Any, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    f = write(tmp_path / "r.csv", list(synth.generate(20, 6, AS_OF)))
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the worker exits at once, sending nothing
    with pytest.raises(RuntimeError, match="ended unexpectedly"):
        import_residents(ctx, f, as_of=AS_OF, worker=True)
    monkeypatch.undo()
    assert Person.objects.count() == 0 and MyNumberLink.objects.count() == 0
    b = ImportBatch.objects.get()
    assert b.status == BatchStatus.FAILED and b.file_sha256 == extract.file_sha256(f)


def test_stage_chunks_sizes_counts_and_problems(tmp_path: Path) -> None:
    rows = list(synth.generate(25, 7, AS_OF))
    rows[10]["カナ氏名"] = "abc"
    f = write(tmp_path / "r.csv", rows)
    res = extract.read_extract(f, as_of=AS_OF)
    chunks = list(extract.stage_chunks(f, res.encoding, AS_OF, form="tuples", size=10))
    assert [c.size for c in chunks] == [10, 10, 4] and [c.last for c in chunks] == [False, False, True]
    assert chunks[-1].rows_read == 25 and chunks[-1].rows_ok == 24 and chunks[-1].sha256 == extract.file_sha256(f)
    assert [(p.row, p.column) for c in chunks for p in c.problems] == [(12, "カナ氏名")]
    assert [r.row for c in chunks for r in c.rejected] == [12]
    staged = [t for c in chunks for t in c.rows]
    assert [t[-1] for t in staged] == [r for r in range(2, 27) if r != 12]  # source rows, in order
    n_numbers = sum(1 for r in rows if r["個人番号"]) - (1 if rows[10]["個人番号"] else 0)
    assert sum(len(c.pairs) for c in chunks) == n_numbers
    text = list(extract.stage_chunks(f, res.encoding, AS_OF, form="copy", size=10))
    lines = b"".join(c.rows for c in text).decode().splitlines()
    assert len(lines) == 24 and all(line.count("\t") == len(importer._STAGE_COLUMNS) - 1 for line in lines)
    # The worker's form for SQLite: the same cells as the tuples, as text, NULL as None.
    unpacked = [r for c in extract.stage_chunks(f, res.encoding, AS_OF, form="lines", size=10)
                for r in extract.unpack_lines(c.rows)]
    assert unpacked == [[None if v is None else str(v) for v in t] for t in staged]
    # Without address keys (a run that keys its delta only) the rows are the same but for the key.
    k = importer._STAGE_COLUMNS.index("address_key")
    bare = [t for c in extract.stage_chunks(f, res.encoding, AS_OF, form="tuples", size=10, address_keys=False)
            for t in c.rows]
    assert all(t[k] for t in staged) and all(t[k] == "" for t in bare)
    assert [t[:k] + t[k + 1:] for t in bare] == [t[:k] + t[k + 1:] for t in staged]


def _copy_unescape(s: str) -> str | None:
    """PostgreSQL's reading of a COPY text field (``\\N`` is NULL)."""
    if s == "\\N":
        return None
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\":
            out.append({"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}[s[i + 1]])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


# What validation lets through: no control characters (category Cc), no surrogates.
_CELL = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)


@given(st.lists(st.lists(st.one_of(_CELL, st.none()), min_size=3, max_size=3), max_size=5))
def test_chunk_copy_text_reads_back_as_the_cells(rows: list[list[str | None]]) -> None:
    """``_chunk`` escapes a whole chunk at once: a backslash doubled, the NUL placeholder made
    ``\\N``; PostgreSQL's reading of the result gives back every cell (None for NULL)."""
    lines = ["\t".join("\x00" if c is None else c for c in r) for r in rows]
    data = extract._chunk(lines, "copy", [], [], []).rows.decode()
    got = [[_copy_unescape(c) for c in line.split("\t")] for line in data.split("\n")[:-1]]
    assert got == rows


def test_staged_row_hash_is_record_hash(tmp_path: Path) -> None:
    rows = list(synth.generate(30, 8, AS_OF))
    rows[3]["住所"] = rows[3]["住所"] + "\\1"  # a backslash, escaped in COPY text, hashed as given
    f = write(tmp_path / "r.csv", rows)
    recs = list(extract.read_extract(f, as_of=AS_OF))
    for form in ("tuples", "copy", "lines"):
        chunks = list(extract.stage_chunks(f, "utf-8", AS_OF, form=form, size=7))  # type: ignore[arg-type]
        if form == "copy":
            staged = [[_copy_unescape(c) for c in line.split("\t")]
                      for c in chunks for line in c.rows.decode().split("\n")[:-1]]
        elif form == "lines":
            staged = [r for c in chunks for r in extract.unpack_lines(c.rows)]
        else:
            staged = [list(t) for c in chunks for t in c.rows]
        assert [t[-2] for t in staged] == [extract.record_hash(r) for r in recs]
        assert [t[8] for t in staged] == [r.address for r in recs]


@pytest.mark.django_db
def test_backslash_and_empty_change_date_survive_the_staging_load(ctx: Any, tmp_path: Path) -> None:
    rows = list(synth.generate(12, 9, AS_OF))
    rows[2]["住所"] = "東京都\\港区\\N"  # backslashes, and text that reads like COPY's NULL once unescaped
    rows[3]["異動日"] = ""
    f = write(tmp_path / "r.csv", rows)
    for worker in (True, False):
        Person.objects.all().delete()
        MyNumberLink.objects.all().delete()
        import_residents(ctx, f, as_of=AS_OF, worker=worker)
        p = Person.objects.get(atena_no=rows[2]["宛名番号"])
        assert p.address == "東京都\\港区\\N"
        assert Person.objects.get(atena_no=rows[3]["宛名番号"]).status_date is None


@pytest.mark.django_db
@pytest.mark.parametrize("worker", [False, True])
def test_address_keys_are_made_for_a_first_load_then_only_for_the_changed_rows(
        ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker: bool) -> None:
    """Decision 058: the reader keys every address of a first load; later runs key the delta only
    (an unchanged row keeps its key, so an unchanged re-import folds no address), and every
    person's stored key is the key of its address either way."""
    from yobo.core.text import address_key

    def consistent() -> None:
        got = list(Person.objects.values_list("address", "address_extra", "address_key"))
        assert got and all(k == address_key(a, e) for a, e, k in got)

    rows = list(synth.generate(40, 5, AS_OF))
    f = write(tmp_path / "a.csv", rows)
    import_residents(ctx, f, as_of=AS_OF, worker=worker)
    consistent()
    calls: list[str] = []
    real = importer.address_key
    monkeypatch.setattr(importer, "address_key", lambda a, e="": calls.append(a) or real(a, e))
    import_residents(ctx, f, as_of=AS_OF, full=True, worker=worker)
    assert calls == []  # nothing changed: no key made again
    moved = [dict(r, 住所="神奈川県横浜市中区本町一丁目2番3号", 方書="コーポ本町　２０１", 異動事由="転居",
                  異動日=AS_OF.isoformat()) for r in rows[:3]]
    import_residents(ctx, write(tmp_path / "b.csv", moved), as_of=AS_OF, worker=worker)
    assert sorted(calls) == ["神奈川県横浜市中区本町一丁目2番3号"] * 3
    consistent()
    assert Person.objects.filter(address_key__contains="本町1-2-3-201").count() == 3
