"""The resident-register import (住民記録の取込, CONTRACTS.md §1), set-based.

One batch is one database transaction:

1. the file is streamed through :func:`yobo.people.extract.read_extract` (validation, normalisation)
   and each valid row, with a digest of its register fields (``row_hash``), is bulk-loaded into a
   temporary staging table (COPY on PostgreSQL, ``executemany`` on SQLite);
2. the My Numbers go to the vault (``yobo.mynumber.services.bulk_register``) — never to a table here;
   a conflict rejects the file (or, with ``skip_invalid``, its rows);
3. the diff and the apply are SQL statements over staging ⋈ person: history rows for changed persons
   (``{field: [old, new]}``), ``UPDATE … FROM`` for changed, ``INSERT … SELECT`` for new (an
   anti-join), absences of a ``--full`` snapshot listed. Households are the persons sharing a
   世帯番号 (``selectors.household_members``), read from the person table; nothing is projected;
4. the batch row, the counts and the access-log entry commit with it.

Killing the process at any moment leaves the database as before the batch (the transaction never
commits). Re-running the same file changes nothing: unchanged rows have equal ``row_hash``.
See docs/decisions/051.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from yobo.audit.door import door
from yobo.core import bulkload
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Operation
from yobo.core.text import address_key
from yobo.mynumber import services as mynumber_services

from . import extract, review
from .extract import ERROR, WARNING, Problem, RejectedRow
from .models import BatchStatus, ImportBatch, Person, ResidentStatus, Source

RESOURCE = "people.person"
STAGE = "people_stage"
STAGE_REJECTED = "people_stage_rejected"
STAGE_DELTA = "people_stage_delta"
STAGE_ABSENT = "people_stage_absent"
STAGE_ADDRESS_KEYS = "people_stage_address_keys"
MAX_PROBLEMS_KEPT = 1000  # kept in the summary for display; all are counted (and streamed to stderr)
_CHUNK = 5000
# Files at least this large are read in a worker process (starting one costs ~0.2 s; smaller files
# are read in-process, by the same code).
WORKER_MIN_BYTES = 4 << 20
_PIPE_BYTES = 1 << 20  # the reader worker's pipe (Linux allows up to /proc/sys/fs/pipe-max-size, 1 MiB)
_REBUILD_INDEXES_AFTER = 50_000  # new persons in a first load from which indexes are built after the insert
# A --full snapshot that leaves out more than this share of the persons on record, and at least
# MASS_ABSENT_MIN of them (or has no rows at all), is refused unless staff allow it: a truncated
# file, or one extracted with other conditions, not a day's absences (decision 051).
MASS_ABSENT_SHARE = 0.05
MASS_ABSENT_MIN = 100

# Register fields, in the order of the staging table and the row hash. The search keys
# (``kanji_key``/``kana_key``/``address_key``) derive from them and are not compared.
FIELDS: tuple[str, ...] = (
    "household_no", "name_kanji", "name_kana", "birth_date", "sex", "relationship", "postal_code",
    "address", "address_extra", "phone", "status", "status_date", "status_reason",
)
_STAGE_COLUMNS: tuple[str, ...] = ("atena_no", *FIELDS, "kanji_key", "kana_key", "address_key", "row_hash", "src_row")
_PERSON_COLUMNS: tuple[str, ...] = ("atena_no", *FIELDS, "kanji_key", "kana_key", "address_key", "row_hash")


class ImportRejected(InputRejected):
    """The file was refused whole (nothing applied); ``problems`` lists every problem found."""

    def __init__(self, message: str, summary: ImportSummary) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class ImportSummary:
    """Outcome of one import. ``as_json`` gives the CONTRACTS.md §1 keys first."""

    file: str
    mode: str = "diff"
    applied: bool = False
    batch_id: int | None = None
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    absent: int = 0
    backdated: int = 0  # rows whose 異動日 is earlier than the record's (refused, or applied if allowed)
    mass_absent: int = 0  # persons a --full file leaves out, when too many (refused, or applied if allowed)
    status_changes: dict[str, int] = field(default_factory=dict)
    vault: dict[str, int] = field(default_factory=dict)
    problem_count: int = 0
    warning_count: int = 0
    problems: list[Problem] = field(default_factory=list)  # the first MAX_PROBLEMS_KEPT
    rejected_file: str | None = None
    file_sha256: str = ""
    encoding: str = ""
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step (for the benchmark)

    def as_json(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
            "rejected": self.rejected, "absent": self.absent, "backdated": self.backdated,
            "mass_absent": self.mass_absent,
            "applied": self.applied, "batch_id": self.batch_id, "mode": self.mode, "rows_read": self.rows_read,
            "status_changes": self.status_changes, "mynumber": self.vault,
            "problems": self.problem_count, "warnings": self.warning_count,
            "rejected_file": self.rejected_file, "file_sha256": self.file_sha256, "encoding": self.encoding,
        }


file_sha256 = extract.file_sha256
row_hash = extract.record_hash  # digest of the register fields (not the My Number)


class _Phases:
    """Seconds spent per step, accumulated (``summary.phases``; the benchmark prints them)."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.into[name] = round(self.into.get(name, 0.0) + time.perf_counter() - t0, 3)


# --- SQL helpers ------------------------------------------------------------------------------


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _create_stage(cur: Any) -> None:
    text, dt, small, integer = ("text", "date", "smallint", "integer")
    types = {"birth_date": dt, "status_date": dt, "sex": small, "status": small, "src_row": integer}
    cols = ", ".join(f"{c} {types.get(c, text)}" for c in _STAGE_COLUMNS)
    for t in (STAGE, STAGE_REJECTED, STAGE_DELTA, STAGE_ABSENT, STAGE_ADDRESS_KEYS):
        cur.execute(f"DROP TABLE IF EXISTS {t}")
    # ON COMMIT DROP (PostgreSQL): the staging tables never outlive the batch transaction.
    tail = " ON COMMIT DROP" if _pg() else ""
    cur.execute(f"CREATE TEMPORARY TABLE {STAGE} ({cols}){tail}")
    cur.execute(f"CREATE TEMPORARY TABLE {STAGE_REJECTED} (atena_no text){tail}")


def _drop_stage(cur: Any) -> None:
    if not _pg():
        for t in (STAGE, STAGE_REJECTED, STAGE_DELTA, STAGE_ABSENT, STAGE_ADDRESS_KEYS):
            cur.execute(f"DROP TABLE IF EXISTS {t}")


def _load_chunk(cur: Any, rows: Any) -> None:
    """One chunk into staging: COPY of the worker's ready text on PostgreSQL (a COPY is not held
    open across chunks, so the vault can query the same connection between them), executemany on
    SQLite (of the worker's lines, split here, or of tuples read in this process)."""
    if _pg():
        if rows:
            raw: Any = cur.cursor  # psycopg 3
            with raw.copy(f"COPY {STAGE} ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy:
                copy.write(rows)
    elif rows:
        if isinstance(rows, str):  # the worker's ``lines`` form
            rows = extract.unpack_lines(rows)
        marks = ", ".join(["%s"] * len(_STAGE_COLUMNS))
        cur.executemany(f"INSERT INTO {STAGE} ({', '.join(_STAGE_COLUMNS)}) VALUES ({marks})", rows)


def _changes_sql() -> str:
    """SQL expression: JSON object ``{field: [old, new]}`` of the fields that differ (p old, s new)."""
    if _pg():
        pieces = ", ".join(
            f"'{f}', CASE WHEN p.{f} IS DISTINCT FROM s.{f} THEN jsonb_build_array(p.{f}, s.{f}) END" for f in FIELDS
        )
        return f"jsonb_strip_nulls(jsonb_build_object({pieces}))"
    pieces = " || ".join(
        f"CASE WHEN p.{f} IS NOT s.{f} THEN ',\"{f}\":' || json_array(p.{f}, s.{f}) ELSE '' END" for f in FIELDS
    )
    return f"'{{' || substr({pieces}, 2) || '}}'"


def _distinct(a: str, b: str) -> str:
    return f"{a} IS DISTINCT FROM {b}" if _pg() else f"{a} IS NOT {b}"


# --- the import -------------------------------------------------------------------------------

Progress = Callable[[int], None]


def import_extract(
    ctx: AccessContext,
    path: str | Path,
    *,
    full: bool = False,
    skip_invalid: bool = False,
    allow_backdated: bool = False,
    allow_mass_absent: bool = False,
    encoding: str = "auto",
    as_of: date | None = None,
    progress: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
    worker: bool | None = None,
) -> ImportSummary:
    """Import a resident-register extract (住民記録の取込). See the module docstring.

    Raises :class:`ImportRejected` (nothing applied, every problem in ``summary.problems`` up to
    ``MAX_PROBLEMS_KEPT``, all passed to ``on_problem``) when the file has an invalid row and
    ``skip_invalid`` is off, or when a My Number conflicts with the vault. A row whose 異動日 is
    earlier than the one on record is such a problem unless ``allow_backdated`` (then a warning;
    :func:`_backdated_rows`). A ``full`` snapshot that leaves out too many persons on record is
    refused whole, ``skip_invalid`` or not, unless ``allow_mass_absent`` (:func:`_absent_persons`).
    ``AccessDenied`` when the
    context may not run the resident sync. ``worker``: read the file in a worker process (default:
    when the file is at least ``WORKER_MIN_BYTES``).
    """
    p = Path(path)
    summary = ImportSummary(file=p.name, mode="full" if full else "diff")
    started = timezone.now()
    try:
        res = extract.read_extract(p, encoding=encoding, as_of=as_of, check_duplicates=False)
    except extract.ExtractError as exc:
        summary.problem_count = 1
        # The message names the file already (it is raised as is); the problem names it once.
        summary.problems = [Problem(p.name, None, None, str(exc).removeprefix(f"{p.name}: "))]
        if on_problem:
            on_problem(summary.problems[0])
        summary.batch_id = _record_unapplied(ctx, p, summary, started, BatchStatus.REJECTED, "")
        raise ImportRejected(str(exc), summary) from None
    summary.encoding = res.encoding
    if worker is None:
        # Large files on both databases: the worker reads while this process loads and seals. (On
        # SQLite it did not pay while the worker stalled on a 64 KiB pipe mid-chunk; decision 051.)
        worker = p.stat().st_size >= WORKER_MIN_BYTES

    def note(problem: Problem) -> None:
        if problem.severity == ERROR:
            summary.problem_count += 1
        else:
            summary.warning_count += 1
        if len(summary.problems) < MAX_PROBLEMS_KEPT:
            summary.problems.append(problem)
        if on_problem:
            on_problem(problem)

    try:
        with door(ctx, Operation.BATCH, resource=RESOURCE) as rec:
            batch = new_batch(ctx, p, status=BatchStatus.APPLIED, mode=summary.mode, sha256=summary.file_sha256,
                              encoding=res.encoding, started=started, skip_invalid=skip_invalid)
            summary.batch_id = batch.pk
            _run(ctx, res, batch, summary, full=full, skip_invalid=skip_invalid, allow_backdated=allow_backdated,
                 allow_mass_absent=allow_mass_absent, progress=progress, note=note, worker=worker)
            rec.detail = (
                f"resident import batch={batch.pk} mode={summary.mode} inserted={summary.inserted} "
                f"updated={summary.updated} unchanged={summary.unchanged} rejected={summary.rejected} "
                f"absent={summary.absent}"
            )
            commit_from = time.perf_counter()
    except AccessDenied:
        raise
    except ImportRejected:
        summary.applied = False
        summary.batch_id = _record_unapplied(ctx, p, summary, started, BatchStatus.REJECTED, res.encoding)
        raise
    except BaseException:
        # Killed or crashed mid-way: the transaction rolled back. Record the attempt (best effort).
        summary.applied = False
        with contextlib.suppress(Exception):  # never mask the original error
            _record_unapplied(ctx, p, summary, started, BatchStatus.FAILED, res.encoding)
        raise
    summary.applied = True
    summary.phases["commit"] = round(time.perf_counter() - commit_from, 3)  # the access log entry and COMMIT
    return summary


def _record_unapplied(ctx: AccessContext, p: Path, s: ImportSummary, started: Any, status: str,
                      encoding: str) -> int | None:
    """A batch row for a run that applied nothing (counts only; no personal data)."""
    if connection.in_atomic_block and connection.needs_rollback:
        return None
    if not s.file_sha256 and p.is_file():  # the reader computes it as it ends; a failed run may not get there
        s.file_sha256 = file_sha256(p)
    with transaction.atomic():
        b = new_batch(ctx, p, status=status, mode=s.mode, sha256=s.file_sha256, encoding=encoding, started=started,
                      finished_at=timezone.now(), rows_read=s.rows_read, rejected=s.rejected,
                      summary={"problems": s.problem_count, "warnings": s.warning_count,
                               **_override_summary(s)})
    return b.pk


def _override_summary(s: ImportSummary, *, allow_backdated: bool = False,
                      allow_mass_absent: bool = False) -> dict[str, Any]:
    """The batch summary's note of what a file is refused for unless staff allow it (rows older than
    the record; a snapshot leaving out many persons): how many, and whether staff let them in."""
    counts = {"backdated": s.backdated, "mass_absent": s.mass_absent}
    allowed = {"allow_backdated": allow_backdated, "allow_mass_absent": allow_mass_absent}
    return {k: n for k, n in counts.items() if n} | {k: True for k, on in allowed.items() if on}


def new_batch(ctx: AccessContext, p: Path, *, status: str, mode: str, sha256: str, encoding: str, started: Any,
              **fields: Any) -> ImportBatch:
    """A batch row: which file, who, from where, when (every run of a file that changes persons:
    the register import, the 住基ネット check); ``fields`` are its counts and the rest."""
    return ImportBatch.objects.create(
        municipality=settings.MUNICIPALITY_CODE, status=status, mode=mode, file_name=p.name[:255],
        file_sha256=sha256, file_size=p.stat().st_size if p.is_file() else 0, encoding=encoding,
        operator_id=ctx.staff_id, terminal=ctx.terminal[:64], request_id=ctx.request_id[:64], started_at=started,
        **fields,
    )


def _chunks(res: extract.ExtractResult, worker: bool, *, address_keys: bool) -> Iterator[extract.StageChunk]:
    """The file's staging chunks: read in this process, or in a worker process that overlaps the
    reading with the loading here (2 CPUs). Same chunks, same problems, either way; the address
    keys made only with ``address_keys``."""
    pg = _pg()
    if not worker:
        yield from extract.stage_chunks(res.path, res.encoding, res.as_of, form="copy" if pg else "tuples",
                                        size=_CHUNK, address_keys=address_keys)
        return
    # A fresh interpreter (not fork: it must not inherit this process's database connection or
    # threads; not multiprocessing's spawn: that re-runs the caller's main module).
    root = str(Path(extract.__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "yobo.people.extract", "--feed", str(res.path), res.encoding, res.as_of.isoformat(),
           "pg" if pg else "sqlite", str(_CHUNK), "keys" if address_keys else "nokeys"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env)  # noqa: S603 - our own module
    pipe: Any = proc.stdout
    with contextlib.suppress(OSError, AttributeError):
        # A pipe that holds a whole chunk (64 KiB by default): the worker reads the next chunk while
        # this process loads the last one, instead of stalling mid-write until it is read.
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    try:
        while True:
            try:
                # Our own child over a private pipe: the only writer of this stream.
                item = pickle.load(pipe)  # noqa: S301
            except EOFError:
                raise RuntimeError(
                    "取込ファイルの読込プロセスが異常終了しました。 / the extract reader process ended unexpectedly."
                ) from None
            if isinstance(item, str):
                raise RuntimeError(f"取込ファイルの読込に失敗しました / the extract reader failed: {item}")
            yield item
            if item.last:
                proc.wait(timeout=30)
                return
    finally:
        if proc.poll() is None:  # the loop was left early (an error here, or a crash)
            proc.kill()
        pipe.close()
        proc.wait()


def tune_transaction(cur: Any) -> None:
    """PostgreSQL settings of a batch transaction (``SET LOCAL``: this transaction only). The
    benchmark's storage floor uses them too, so that it measures what the import could reach."""
    # Index probes are cheap on the SSDs a registry runs on; with the default cost (4) the planner
    # hashes whole 1M-row tables for a 10k-row diff.
    cur.execute("SET LOCAL random_page_cost = 1.1")
    # Sorts and hashes of whole-file steps (delta join, duplicate and vault GROUP BYs) in memory
    # rather than in temporary files; index builds of a first load in one pass.
    cur.execute("SET LOCAL work_mem = '64MB'")
    cur.execute("SET LOCAL maintenance_work_mem = '256MB'")


def _run(ctx: AccessContext, res: extract.ExtractResult, batch: ImportBatch, summary: ImportSummary, *,
         full: bool, skip_invalid: bool, allow_backdated: bool, allow_mass_absent: bool, progress: bool,
         note: Callable[[Problem], None], worker: bool) -> None:
    m = settings.MUNICIPALITY_CODE
    ph = _Phases(summary.phases)
    for pr in res.problems:  # header problems, known before the rows
        note(pr)
    res.problems.clear()
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(unit=" 行", desc=res.file, file=sys.stderr, mininterval=0.5)
    with connection.cursor() as cur:
        if _pg():
            # One import per municipality at a time; a second waits instead of failing on the unique keys.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"people.import.{m}"])
            tune_transaction(cur)
        _run_staged(ctx, cur, res, batch, summary, full=full, skip_invalid=skip_invalid,
                    allow_backdated=allow_backdated, allow_mass_absent=allow_mass_absent, bar=bar, note=note,
                    worker=worker, ph=ph)


def _run_staged(ctx: AccessContext, cur: Any, res: extract.ExtractResult, batch: ImportBatch, summary: ImportSummary,
                *, full: bool, skip_invalid: bool, allow_backdated: bool, allow_mass_absent: bool, bar: Any,
                note: Callable[[Problem], None], worker: bool, ph: _Phases) -> None:
    m = settings.MUNICIPALITY_CODE
    refuse = False
    file_refused = False  # refused for the file as a whole, even with skip_invalid
    rejected_rows: list[RejectedRow] = []
    _create_stage(cur)
    # My Numbers stream to the vault chunk by chunk (same transaction); it seals only numbers it
    # does not hold yet and stages only pairs not linked as given, so nothing here grows with the
    # file. ``distinct``: repeated 宛名番号 are discarded below before ``finish``.
    # Address keys (``address_key``) are made by the reader only for a first load; otherwise for
    # the delta alone, once it is known (``_key_addresses``): an unchanged row keeps its key.
    cur.execute("SELECT NOT EXISTS (SELECT 1 FROM people_person WHERE municipality = %s)", [m])
    keyed = bool(cur.fetchone()[0])
    with mynumber_services.bulk_registration(ctx, distinct=True) as reg:
        chunks = _chunks(res, worker, address_keys=keyed)
        try:
            while True:
                with ph("read_wait"):  # reading in-process, or waiting for the worker
                    chunk = next(chunks, None)
                if chunk is None:
                    break
                for pr in chunk.problems:
                    note(pr)
                rejected_rows.extend(chunk.rejected)
                if summary.problem_count and not skip_invalid and not reg.check_only:
                    # The file will be refused: read on to list every problem, seal nothing.
                    reg.check_only = True
                with ph("stage_load"):
                    _load_chunk(cur, chunk.rows)
                with ph("vault_chunks"):
                    reg.add_keyed(chunk.pairs, validated=True)  # the reader checked them
                if bar is not None:
                    bar.update(chunk.size)
                if chunk.last:
                    summary.rows_read = res.rows_read = chunk.rows_read
                    res.rows_ok = chunk.rows_ok
                    summary.file_sha256 = chunk.sha256
        finally:
            if bar is not None:
                bar.close()
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # stops the worker when the loop ended early

        # Duplicate 宛名番号 within the file, found in SQL: the later rows are refused.
        with ph("duplicates"):
            dups = _duplicate_rows(cur, res, note)
        if dups:
            reg.discard([r.row for r in dups])
            rejected_rows = rejected_rows + dups
        with ph("apply_delta"):
            first_load, delta = _make_delta(cur, m)
        if not keyed:
            with ph("address_keys"):
                _key_addresses(cur, STAGE if first_load else STAGE_DELTA)
        staged_in = (STAGE,) if first_load else (STAGE, STAGE_DELTA)
        if not first_load:
            # Rows older than the record (an earlier file run late, or run again): refused like
            # invalid rows, unless staff confirmed they are the register's own corrections.
            with ph("backdated"):
                late = _backdated_rows(cur, res, summary, note, allow=allow_backdated)
            summary.backdated = len(late)
            if late and not allow_backdated:
                late_rows = _staged_rows(cur, [(row, f"{extract.CHANGE_DATE}: {msg}") for row, msg in late],
                                         res.header)
                reg.discard([row for row, _ in late])
                _delete_from_stage(cur, [row for row, _ in late], staged_in)
                rejected_rows = rejected_rows + late_rows
        if full:
            # Who the snapshot leaves out, known before anything is sealed: every row it holds is in
            # staging or among the rejected rows (whose persons are not absent). Rows refused later
            # (My Number conflicts) are still in staging here, so they are not counted either.
            _stage_rejected(cur, res, rejected_rows)
            with ph("absent_check"):
                file_refused = _absent_persons(cur, m, res, summary, note, allow=allow_mass_absent)
        summary.rejected = len(rejected_rows)
        if file_refused or (summary.problem_count and not skip_invalid):
            reg.check_only = True

        with ph("vault_finish"):
            vres = reg.finish()
        summary.vault = {"inserted": vres.inserted, "unchanged": vres.unchanged, "refused": len(vres.conflicts)}
        movers = _nonresidents_among(m, {c.other_atena_no for c in vres.conflicts
                                         if c.reason == "number_on_other_atena" and c.other_atena_no})
        msg_of = {c.atena_no: c.message + (M_NONRESIDENT_MOVED_IN if c.other_atena_no in movers else "")
                  for c in vres.conflicts}
        for c in vres.conflicts:
            note(Problem(res.file, vres.keys.get(c.atena_no) or None, extract.MY_NUMBER, msg_of[c.atena_no]))
        if file_refused or (summary.problem_count and not skip_invalid):
            summary.rejected += len(vres.conflicts)
            refuse = True
        elif vres.conflicts:
            conflict_rows = _staged_rows(cur, [(vres.keys.get(c.atena_no, 0),
                                                f"{extract.MY_NUMBER}: {msg_of[c.atena_no]}")
                                               for c in vres.conflicts], res.header)
            rejected_rows = rejected_rows + conflict_rows
            summary.rejected = len(rejected_rows)
            _delete_from_stage(cur, [r.row for r in conflict_rows], staged_in)
    if refuse:  # outside the vault's door: the vault's entry says what it found, not an error
        raise ImportRejected(_rejected_message(summary, whole_file=file_refused), summary)

    _apply(cur, m, batch, summary, full=full, first_load=first_load, delta=delta, ph=ph)
    with ph("vault_deceased"):
        _set_deceased(ctx, cur, batch)
    with ph("stage_drop"):
        _drop_stage(cur)

    if rejected_rows:
        out = extract.write_rejected(extract.rejected_path(res.path), res.header, sorted(rejected_rows,
                                     key=lambda r: r.row))
        summary.rejected_file = str(out)
    batch.finished_at = timezone.now()
    batch.file_sha256 = summary.file_sha256
    batch.rows_read, batch.inserted, batch.updated = summary.rows_read, summary.inserted, summary.updated
    batch.unchanged, batch.rejected, batch.absent = summary.unchanged, summary.rejected, summary.absent
    batch.summary = {"status_changes": summary.status_changes, "mynumber": summary.vault,
                     "problems": summary.problem_count, "warnings": summary.warning_count,
                     **_override_summary(summary, allow_backdated=allow_backdated,
                                         allow_mass_absent=allow_mass_absent)}
    batch.save()


M_BACKDATED = (
    "異動日 {new} が記録済みの異動日（{old}）より前です。記録より古いファイルではないか確認してください。"
    "住民記録システムの訂正で正しい場合は --allow-backdated を付けて取り込みます。"
    " / 異動日 {new} is earlier than the one on record ({old_en}): is this an older file? If it is the"
    " register's own correction, import with --allow-backdated."
)
M_BACKDATED_ALLOWED = (
    "異動日 {new} は記録済みの異動日（{old}）より前ですが、--allow-backdated の指定により取り込みます。"
    " / 異動日 {new} is earlier than the one on record ({old_en}); applied as --allow-backdated asks."
)
M_SAME_FILE = (
    "このファイルはバッチ {batch}（{at}）で取込済みです。その後の異動を古い内容に戻さないよう、"
    "新しいファイルを取り込んでください。 / this very file was applied as batch {batch} ({at});"
    " import a newer file rather than undo the changes since."
)

M_MASS_ABSENT = (
    "完全スナップショット（--full）として取り込むと、記録上の{record:,}人のうち{absent:,}人（{share}）が"
    "このファイルにありません。ファイルが途中で切れているか、抽出条件の違うファイルの可能性があります。"
    "何も反映していません。正しいファイルと確かめた場合は --allow-mass-absent を付けて取り込みます"
    "（ファイルにない人は削除されず、確認の一覧に載ります）。"
    " / as a complete snapshot (--full), this file leaves out {absent:,} of the {record:,} persons on record"
    " ({share}): it may be truncated or extracted with other conditions. Nothing was applied. If it is the"
    " right file, import it with --allow-mass-absent (absent persons are listed for review, never deleted)."
)
M_MASS_ABSENT_ALLOWED = (
    "記録上の{record:,}人のうち{absent:,}人（{share}）がこのファイルにありませんが、--allow-mass-absent の"
    "指定により取り込みます。 / this file leaves out {absent:,} of the {record:,} persons on record ({share});"
    " applied as --allow-mass-absent asks."
)

M_NONRESIDENT_MOVED_IN = (
    "（登録先は住登外者です。転入した住登外者の可能性があります。同一人か確認し、同一人なら"
    "住登外者の画面で住民記録への切替を申請してください。"
    " / that 宛名番号 is a registered non-resident (住登外者), possibly one who has moved in:"
    " check whether they are the same person and, if so, request the switch to the register's 宛名番号"
    " on their page.)"
)


def _nonresidents_among(m: str, atenas: set[str]) -> set[str]:
    """Those of ``atenas`` that are 住登外者: a register row whose number is linked to one is most
    likely a non-resident who has moved in. The row is still refused (one number, two 宛名番号);
    staff decide whether to switch the 住登外者 to the register's 宛名番号 (``people.switch``)."""
    if not atenas:
        return set()
    return set(Person.objects.filter(municipality=m, source=Source.NON_REGISTERED, atena_no__in=sorted(atenas))
               .values_list("atena_no", flat=True))


def _rejected_message(s: ImportSummary, *, whole_file: bool = False) -> str:
    if whole_file:  # refused for what it leaves out: --skip-invalid is no way out
        return (f"{s.file}: 取込を中止しました（何も反映していません）。 / {s.file}: import refused; nothing"
                " was applied.")
    return (
        f"{s.file}: 取込を中止しました。{s.problem_count}件の問題があります（何も反映していません）。"
        "問題を直して再実行するか、--skip-invalid で正しい行だけを取り込んでください。"
        f" / {s.file}: import refused, {s.problem_count} problem(s) found; nothing was applied."
        " Fix them and run again, or use --skip-invalid to import the valid rows."
    )


def _duplicate_rows(cur: Any, res: extract.ExtractResult, note: Callable[[Problem], None]) -> list[RejectedRow]:
    """Rows repeating an earlier row's 宛名番号 (重複): noted as problems, removed from staging and
    returned as rejected rows. One GROUP BY over staging instead of a dictionary of every 宛名番号."""
    cur.execute(f"SELECT atena_no, MIN(src_row) FROM {STAGE} GROUP BY atena_no HAVING COUNT(*) > 1")
    firsts = dict(cur.fetchall())
    if not firsts:
        return []
    later: list[tuple[int, str]] = []
    keys = list(firsts)
    for i in range(0, len(keys), 500):
        part = keys[i:i + 500]
        cur.execute(f"SELECT atena_no, src_row FROM {STAGE} WHERE atena_no IN ({', '.join(['%s'] * len(part))})",
                    part)
        for a, row in cur.fetchall():
            if row != firsts[a]:
                later.append((row, extract.dup_atena_message(firsts[a], row)))
    later.sort()
    for row, msg in later:
        note(Problem(res.file, row, extract.ATENA, msg))
    out = _staged_rows(cur, [(row, f"{extract.ATENA}: {msg}") for row, msg in later], res.header)
    _delete_from_stage(cur, [row for row, _ in later])
    return out


def _staged_rows(cur: Any, items: list[tuple[int, str]], header: list[str]) -> list[RejectedRow]:
    """Rejected-file rows rebuilt from the staged values of source rows (the number cell left empty)."""
    out: list[RejectedRow] = []
    names = [unicodedata.normalize("NFKC", h.lstrip("\ufeff")).strip() for h in header]
    staged: dict[int, tuple[Any, ...]] = {}
    rows = [row for row, _ in items]
    for i in range(0, len(rows), 500):  # one scan per 500 rows (staging has no index on src_row)
        part = rows[i:i + 500]
        cur.execute(f"SELECT {', '.join(_STAGE_COLUMNS)} FROM {STAGE} WHERE src_row IN "
                    f"({', '.join(['%s'] * len(part))})", part)
        staged.update((got[-1], got) for got in cur.fetchall())
    for row, reason in items:
        got = staged.get(row)
        if got is None:
            continue
        v = dict(zip(_STAGE_COLUMNS, got, strict=True))
        by_col = {
            extract.ATENA: v["atena_no"], extract.HOUSEHOLD: v["household_no"], extract.NAME_KANJI: v["name_kanji"],
            extract.NAME_KANA: v["name_kana"], extract.BIRTH: str(v["birth_date"]), extract.SEX: str(v["sex"]),
            extract.RELATIONSHIP: v["relationship"], extract.POSTAL: v["postal_code"], extract.ADDRESS: v["address"],
            extract.ADDRESS_EXTRA: v["address_extra"], extract.STATUS: str(v["status"]),
            extract.CHANGE_REASON: v["status_reason"], extract.CHANGE_DATE: str(v["status_date"] or ""),
            extract.PHONE: v["phone"],
        }
        out.append(RejectedRow(row, [by_col.get(n, "") for n in names], [reason]))
    return out


def _delete_from_stage(cur: Any, rows: list[int], tables: tuple[str, ...] = (STAGE,)) -> None:
    for table in tables:
        for i in range(0, len(rows), 500):
            chunk = rows[i:i + 500]
            cur.execute(f"DELETE FROM {table} WHERE src_row IN ({', '.join(['%s'] * len(chunk))})", chunk)


def _backdated_rows(cur: Any, res: extract.ExtractResult, summary: ImportSummary, note: Callable[[Problem], None],
                    *, allow: bool) -> list[tuple[int, str]]:
    """Changed rows whose 異動日 is earlier than the 異動日 on record (遡った異動日), as
    ``(row, message)``, each noted: an error, or with ``allow`` a warning (applied).

    The register gives each person the date of their latest 異動, so it does not go back: a row
    that would change a person to an earlier 異動日 comes from a file older than the one the
    record was taken from — yesterday's file run after today's, or an old file run again — and
    applying it would undo the newer 異動 (a move-out, a death) in silence. Only the delta is
    read (changed rows, by primary key). A row without a 異動日 for a person whose record has one
    counts as earlier (the register does not take a 異動日 back; an old file's row of a person
    with no 異動 then is exactly that). Unchanged rows pass, and so do persons whose 異動日 on
    record is not the register's: a 住登外者 switched to the register's
    宛名番号 (``people.switch``: source ``juki``, ``row_hash`` cleared) carries the date of their
    application until an import writes the register's items."""
    cur.execute(
        f"SELECT s.src_row, s.status_date, p.status_date, p.updated_batch_id FROM {STAGE_DELTA} s "
        f"CROSS JOIN people_person p WHERE p.id = s.pid AND p.source = 'juki' AND p.row_hash <> '' "
        f"AND (s.status_date < p.status_date OR (s.status_date IS NULL AND p.status_date IS NOT NULL)) "
        f"ORDER BY s.src_row"
    )
    found = cur.fetchall()
    if not found:
        return []
    out: list[tuple[int, str]] = []
    for row, new, old, batch_id in found:
        msg = M_BACKDATED_ALLOWED if allow else M_BACKDATED
        on_record = f"{old}" + (f"、バッチ {batch_id}" if batch_id else "")
        msg = msg.format(new=new or "（空欄）", old=on_record,
                         old_en=f"{old}" + (f", batch {batch_id}" if batch_id else ""))
        note(Problem(res.file, row, extract.CHANGE_DATE, msg, WARNING if allow else ERROR))
        out.append((row, msg))
    earlier = (ImportBatch.objects.filter(municipality=settings.MUNICIPALITY_CODE, status=BatchStatus.APPLIED,
                                          file_sha256=summary.file_sha256)
               .exclude(file_sha256="").order_by("-pk").first())
    if earlier is not None:
        note(Problem(res.file, None, None, M_SAME_FILE.format(batch=earlier.pk, at=timezone.localtime(
            earlier.started_at).strftime("%Y-%m-%d %H:%M")), WARNING))
    return out


def _absent_persons(cur: Any, m: str, res: extract.ExtractResult, summary: ImportSummary,
                    note: Callable[[Problem], None], *, allow: bool) -> bool:
    """The persons on record that a ``--full`` snapshot leaves out (不在), into ``STAGE_ABSENT``
    (the apply lists them from there). True when they are so many that the file is refused whole.

    A city's complete extract leaves out few persons on record, if any (a moved-out or deceased
    person stays in it as such): more than ``MASS_ABSENT_SHARE`` of them, and ``MASS_ABSENT_MIN`` or
    more (or a file with no rows at all), means a file cut short or extracted with other conditions.
    Nothing is deleted either way, but such a run would put much of the city on the review list and
    read as a mass of departures; so it is refused (noted as an error), or with ``allow`` applied
    with a warning."""
    pg = _pg()
    cur.execute(f"CREATE UNIQUE INDEX {STAGE}_atena ON {STAGE} (atena_no)")
    cur.execute(f"CREATE TEMPORARY TABLE {STAGE_ABSENT}{' ON COMMIT DROP' if pg else ''} AS "
                f"SELECT p.atena_no, p.status, p.updated_batch_id FROM people_person p "
                f"WHERE p.municipality = %s AND p.source = 'juki' "
                f"AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE s.atena_no = p.atena_no) "
                f"AND NOT EXISTS (SELECT 1 FROM {STAGE_REJECTED} r WHERE r.atena_no = p.atena_no)", [m])
    cur.execute(f"SELECT count(*) FROM {STAGE_ABSENT}")
    absent = cur.fetchone()[0]
    if not absent:
        return False
    cur.execute("SELECT count(*) FROM people_person WHERE municipality = %s AND source = 'juki'", [m])
    record = cur.fetchone()[0]
    if absent <= record * MASS_ABSENT_SHARE or (absent < MASS_ABSENT_MIN and summary.rows_read):
        return False
    summary.mass_absent = absent
    share = f"{absent / record:.1%}"
    msg = M_MASS_ABSENT_ALLOWED if allow else M_MASS_ABSENT
    note(Problem(res.file, None, None, msg.format(record=record, absent=absent, share=share),
                 WARNING if allow else ERROR))
    return not allow


def _stage_rejected(cur: Any, res: extract.ExtractResult, rows: list[RejectedRow]) -> None:
    """宛名番号 of rejected rows: a --full snapshot must not report them as absent."""
    i = res._index.get(extract.ATENA)
    if i is None:
        return
    atenas = set()
    for r in rows:
        if i < len(r.cells):
            a = unicodedata.normalize("NFKC", r.cells[i]).strip()
            if a.isascii() and a.isdigit():
                atenas.add(a)
    if atenas:
        cur.executemany(f"INSERT INTO {STAGE_REJECTED} (atena_no) VALUES (%s)", [(a,) for a in atenas])


def _make_delta(cur: Any, m: str) -> tuple[bool, str]:
    """The *delta*: the staged rows that are new or whose hash differs, with their person's id
    (``pid``), from one join (staging ⋈ person on the unique key). Returns ``(first_load, delta)``,
    ``delta`` a table name or, on a first load, a subquery over staging itself.

    A daily run of a mostly unchanged register thus rewrites nothing of staging, and every later
    step walks the (small) delta and reaches persons by primary key, so a small diff never scans
    the person table (``CROSS JOIN`` keeps SQLite's join order so). Made before the vault finishes,
    so that rows older than the record (:func:`_backdated_rows`) are known while their numbers can
    still be discarded."""
    pg = _pg()
    cur.execute("SELECT NOT EXISTS (SELECT 1 FROM people_person WHERE municipality = %s)", [m])
    if cur.fetchone()[0]:
        # Nobody on record yet: every staged row is new and the delta is staging itself (a 1M-row
        # copy saved).
        return True, f"(SELECT s.*, CAST(NULL AS bigint) AS pid FROM {STAGE} s)"
    if pg:
        # Statistics of the join key only (sampling every column of a wide temporary table is
        # what ANALYZE spent its time on); the planner needs the row count and atena_no's.
        cur.execute(f"ANALYZE {STAGE} (atena_no)")
    cur.execute(
        f"CREATE TEMPORARY TABLE {STAGE_DELTA}{' ON COMMIT DROP' if pg else ''} AS SELECT s.*, p.id AS pid "
        f"FROM {STAGE} s LEFT JOIN people_person p ON p.municipality = %s AND p.atena_no = s.atena_no "
        f"WHERE p.id IS NULL OR p.row_hash <> s.row_hash",
        [m],
    )
    if pg:
        cur.execute(f"ANALYZE {STAGE_DELTA} (pid)")
    else:
        cur.execute(f"CREATE INDEX {STAGE_DELTA}_pid ON {STAGE_DELTA} (pid)")
    return False, STAGE_DELTA


def _key_addresses(cur: Any, table: str) -> None:
    """The address keys of the rows of ``table`` (the delta; staging on a first load the reader
    did not key), made here: the reader leaves them empty unless the city is loaded for the
    first time, since a row whose address is unchanged is not in the delta and keeps its key.
    Made in Python (``core.text.address_key``), written back by one join on the source row."""
    cur.execute(f"SELECT src_row, address, address_extra FROM {table}")
    keys = [(row, address_key(a, e)) for row, a, e in cur.fetchall()]
    if not keys:
        return
    pg = _pg()
    cur.execute(f"CREATE TEMPORARY TABLE {STAGE_ADDRESS_KEYS} (src_row integer PRIMARY KEY, address_key text)"
                f"{' ON COMMIT DROP' if pg else ''}")
    if pg:
        raw: Any = cur.cursor  # psycopg 3
        with raw.copy(f"COPY {STAGE_ADDRESS_KEYS} (src_row, address_key) FROM STDIN") as copy:
            for item in keys:
                copy.write_row(item)
        cur.execute(f"UPDATE {table} AS t SET address_key = k.address_key FROM {STAGE_ADDRESS_KEYS} k "
                    f"WHERE k.src_row = t.src_row")
    else:
        cur.executemany(f"INSERT INTO {STAGE_ADDRESS_KEYS} (src_row, address_key) VALUES (%s, %s)", keys)
        cur.execute(f"UPDATE {table} SET address_key = (SELECT k.address_key FROM {STAGE_ADDRESS_KEYS} k "
                    f"WHERE k.src_row = {table}.src_row)")


def _apply(cur: Any, m: str, batch: ImportBatch, summary: ImportSummary, *, full: bool, first_load: bool,
           delta: str, ph: _Phases) -> None:
    """Apply the delta (:func:`_make_delta`) to persons, in SQL (one statement per step)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    b = batch.pk
    person = "people_person"
    pg = _pg()
    with ph("apply_history"):
        # History of changed persons: {field: [old, new]}, before the update overwrites the old values.
        if not first_load:
            cur.execute(
                f"INSERT INTO people_history (municipality, atena_no, batch_id, changed_at, kind, changes, status, "
                f"status_date, status_reason, status_changed) "
                f"SELECT %s, s.atena_no, %s, %s, 'updated', {_changes_sql()}, s.status, s.status_date, "
                f"s.status_reason, p.status <> s.status FROM {STAGE_DELTA} s CROSS JOIN {person} p WHERE p.id = s.pid",
                [m, b, now],
            )
    upd = (*FIELDS, "kanji_key", "kana_key", "address_key", "row_hash")
    with ph("apply_update"):
        if first_load:
            pass  # nobody to update
        elif pg:
            sets = ", ".join(f"{c} = s.{c}" for c in upd)
            cur.execute(
                f"UPDATE {person} AS p SET {sets}, updated_batch_id = %s, updated_at = %s FROM {STAGE_DELTA} s "
                f"WHERE p.id = s.pid",
                [b, now],
            )
        else:
            # SQLite would drive UPDATE … FROM from the person table; by primary key it walks only the changed.
            cur.execute(
                f"UPDATE {person} SET ({', '.join(upd)}) = (SELECT {', '.join('s.' + c for c in upd)} "
                f"FROM {STAGE_DELTA} s WHERE s.pid = {person}.id), updated_batch_id = %s, updated_at = %s "
                f"WHERE id IN (SELECT s.pid FROM {STAGE_DELTA} s WHERE s.pid IS NOT NULL)",
                [b, now],
            )
        summary.updated = 0 if first_load else max(cur.rowcount, 0)

    # New persons: a creation history row each (the batch's person list stays derivable), then the rows.
    with ph("apply_insert"):
        rebuild = _drop_plain_indexes(cur, delta, ("people_history", person))
        cur.execute(
            f"INSERT INTO people_history (municipality, atena_no, batch_id, changed_at, kind, changes, status, "
            f"status_date, status_reason, status_changed) "
            f"SELECT %s, s.atena_no, %s, %s, 'created', '{{}}', s.status, s.status_date, s.status_reason, "
            f"{'true' if pg else '1'} FROM {delta} s WHERE s.pid IS NULL",
            [m, b, now],
        )
        cols = ", ".join(_PERSON_COLUMNS)
        scols = ", ".join(f"s.{c}" for c in _PERSON_COLUMNS)
        # In key order while the unique index is in place (appended to, not split at random); with
        # the indexes dropped the sort would only cost (an on-disk sort of the whole file at 1M).
        order = "" if rebuild else " ORDER BY s.atena_no"
        cur.execute(
            f"INSERT INTO {person} (municipality, source, {cols}, created_batch_id, updated_batch_id, created_at, "
            f"updated_at) SELECT %s, 'juki', {scols}, %s, %s, %s, %s FROM {delta} s WHERE s.pid IS NULL{order}",
            [m, b, b, now, now],
        )
        summary.inserted = max(cur.rowcount, 0)
    if rebuild:
        with ph("apply_index_build"):
            bulkload.rebuild(cur, rebuild)
    cur.execute(f"SELECT count(*) FROM {STAGE}")
    staged = cur.fetchone()[0]
    summary.unchanged = staged - summary.inserted - summary.updated

    # Status changes (counted from this batch's history rows).
    cur.execute(
        "SELECT status, count(*) FROM people_history WHERE batch_id = %s AND kind = 'updated' AND status_changed "
        "GROUP BY status",
        [b],
    )
    labels = {s.value: s.name.lower() for s in ResidentStatus}
    summary.status_changes = {labels.get(st, str(st)): n for st, n in cur.fetchall()}

    if pg and summary.inserted + summary.updated > 50_000:
        # Fresh statistics after a large load, so the next small diff gets index plans at once
        # (autovacuum would do it later). ANALYZE is transactional on PostgreSQL.
        # (The vault refreshes its own table after its bulk insert.)
        with ph("apply_analyze"):
            cur.execute(f"ANALYZE {person}, people_history")
    elif not pg and summary.inserted + summary.updated:
        # Without statistics every index of the person table looks alike to SQLite (all lead with
        # the municipality), and a search by birth date walked the name index through the whole
        # city (1.1 s at 1M persons, against 1 ms with them).
        with ph("apply_analyze"):
            bulkload.sqlite_sampled_analyze(cur, person)

    if full:
        with ph("apply_absent"):
            # A person absent from the previous snapshot too, and not changed by any batch since,
            # keeps the review staff recorded there (people.review): looked at once, not daily.
            prev = review.previous_batch(review.SNAPSHOT_MODE, b)
            prev = -1 if prev is None else prev
            cur.execute(
                f"INSERT INTO people_batch_absence (batch_id, municipality, atena_no, status, reviewed_by_id, "
                f"reviewed_at, review_note) "
                f"SELECT %s, %s, x.atena_no, x.status, a.reviewed_by_id, a.reviewed_at, "
                f"COALESCE(a.review_note, '') FROM {STAGE_ABSENT} x "
                f"LEFT JOIN people_batch_absence a ON a.batch_id = %s AND a.atena_no = x.atena_no "
                f"AND a.reviewed_at IS NOT NULL AND (x.updated_batch_id IS NULL OR x.updated_batch_id <= %s)",
                [b, m, prev, prev],
            )
            summary.absent = max(cur.rowcount, 0)


def _drop_plain_indexes(cur: Any, delta: str, tables: tuple[str, ...]) -> list[str]:
    """First load of a city (a large delta of new persons into empty tables): drop the secondary
    indexes, unique ones included (staging was made unique in SQL, and their rebuild checks it
    again), and return the DDL that rebuilds them after the insert (``core.bulkload``). The tables
    stay locked until the commit, which an initial load can afford; daily runs never get here."""
    cur.execute(f"SELECT count(*) FROM {delta} s WHERE s.pid IS NULL")
    if cur.fetchone()[0] < _REBUILD_INDEXES_AFTER:
        return []
    return [ddl for table in tables for ddl in bulkload.drop_indexes(cur, connection.vendor, table, unique=True)]


def _set_deceased(ctx: AccessContext, cur: Any, batch: ImportBatch) -> None:
    """Persons who became deceased in this batch: flag their vault link (kept, never deleted)."""
    cur.execute(
        "SELECT atena_no, status_date FROM people_history WHERE batch_id = %s AND status = %s AND status_changed",
        [batch.pk, int(ResidentStatus.DECEASED)],
    )
    items = [(a, d if d is None or isinstance(d, date) else date.fromisoformat(d)) for a, d in cur.fetchall()]
    if items:
        mynumber_services.bulk_set_deceased(ctx, items)
