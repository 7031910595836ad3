"""The resident-register import (住民記録の取込, CONTRACTS.md §1), set-based.

One batch is one database transaction:

1. the file is streamed through :func:`yobo.people.extract.read_extract` (validation, normalisation)
   and each valid row, with a digest of its register fields (``row_hash``), is bulk-loaded into a
   temporary staging table (COPY on PostgreSQL, ``executemany`` on SQLite);
2. the My Numbers go to the vault (``yobo.mynumber.services.bulk_register``) — never to a table here;
   a conflict rejects the file (or, with ``skip_invalid``, its rows);
3. the diff and the apply are SQL statements over staging ⋈ person: history rows for changed persons
   (``{field: [old, new]}``), ``UPDATE … FROM`` for changed, ``INSERT … SELECT`` for new (an
   anti-join), households refreshed for the touched household numbers, absences of a ``--full``
   snapshot listed;
4. the batch row, the counts and the access-log entry commit with it.

Killing the process at any moment leaves the database as before the batch (the transaction never
commits). Re-running the same file changes nothing: unchanged rows have equal ``row_hash``.
See docs/decisions/051.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
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
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Operation
from yobo.mynumber import services as mynumber_services

from . import extract
from .extract import ERROR, Problem, RejectedRow, ResidentRecord
from .models import BatchStatus, ImportBatch, ResidentStatus

RESOURCE = "people.person"
STAGE = "people_stage"
STAGE_REJECTED = "people_stage_rejected"
STAGE_HOUSEHOLDS = "people_stage_households"
MAX_PROBLEMS_KEPT = 1000  # kept in the summary for display; all are counted (and streamed to stderr)
_CHUNK = 5000

# Register fields, in the order of the staging table and the row hash. ``kanji_key``/``kana_key``
# derive from the names and are not compared.
FIELDS: tuple[str, ...] = (
    "household_no", "name_kanji", "name_kana", "birth_date", "sex", "relationship", "postal_code",
    "address", "address_extra", "phone", "status", "status_date", "status_reason",
)
_STAGE_COLUMNS: tuple[str, ...] = ("atena_no", *FIELDS, "kanji_key", "kana_key", "row_hash", "src_row")
_PERSON_COLUMNS: tuple[str, ...] = ("atena_no", *FIELDS, "kanji_key", "kana_key", "row_hash")


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
    status_changes: dict[str, int] = field(default_factory=dict)
    vault: dict[str, int] = field(default_factory=dict)
    problem_count: int = 0
    warning_count: int = 0
    problems: list[Problem] = field(default_factory=list)  # the first MAX_PROBLEMS_KEPT
    rejected_file: str | None = None
    file_sha256: str = ""
    encoding: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
            "rejected": self.rejected, "absent": self.absent,
            "applied": self.applied, "batch_id": self.batch_id, "mode": self.mode, "rows_read": self.rows_read,
            "status_changes": self.status_changes, "mynumber": self.vault,
            "problems": self.problem_count, "warnings": self.warning_count,
            "rejected_file": self.rejected_file, "file_sha256": self.file_sha256, "encoding": self.encoding,
        }


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def row_hash(rec: ResidentRecord) -> str:
    """Digest of the register fields (not the My Number: it lives in the vault only)."""
    parts = (
        rec.household_no, rec.name_kanji, rec.name_kana, rec.birth_date.isoformat(), str(rec.sex), rec.relationship,
        rec.postal_code, rec.address, rec.address_extra, rec.phone, str(rec.status),
        rec.change_date.isoformat() if rec.change_date else "", rec.change_reason,
    )
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


# --- SQL helpers ------------------------------------------------------------------------------


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _create_stage(cur: Any) -> None:
    text, dt, small, integer = ("text", "date", "smallint", "integer")
    types = {"birth_date": dt, "status_date": dt, "sex": small, "status": small, "src_row": integer}
    cols = ", ".join(f"{c} {types.get(c, text)}" for c in _STAGE_COLUMNS)
    cols += ", pid bigint, old_hash text"
    for t in (STAGE, STAGE_REJECTED, STAGE_HOUSEHOLDS):
        cur.execute(f"DROP TABLE IF EXISTS {t}")
    # ON COMMIT DROP (PostgreSQL): the staging tables never outlive the batch transaction.
    tail = " ON COMMIT DROP" if _pg() else ""
    cur.execute(f"CREATE TEMPORARY TABLE {STAGE} ({cols}){tail}")
    cur.execute(f"CREATE TEMPORARY TABLE {STAGE_REJECTED} (atena_no text){tail}")
    cur.execute(f"CREATE TEMPORARY TABLE {STAGE_HOUSEHOLDS} (household_no text){tail}")


def _drop_stage(cur: Any) -> None:
    if not _pg():
        for t in (STAGE, STAGE_REJECTED, STAGE_HOUSEHOLDS):
            cur.execute(f"DROP TABLE IF EXISTS {t}")


class _Loader:
    """Bulk-load rows into a staging table in chunks: one COPY per chunk on PostgreSQL (a COPY is not
    held open across chunks, so the vault can query the same connection between them), executemany
    on SQLite."""

    def __init__(self, cur: Any, table: str, columns: tuple[str, ...]) -> None:
        self.cur, self.table, self.columns = cur, table, columns
        self.buf: list[tuple[Any, ...]] = []
        self.pg = _pg()
        if self.pg:
            self.sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        else:
            marks = ", ".join(["%s"] * len(columns))
            self.sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"

    def add(self, row: tuple[Any, ...]) -> None:
        self.buf.append(row)
        if len(self.buf) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        buf, self.buf = self.buf, []
        if not buf:
            return
        if self.pg:
            raw: Any = self.cur.cursor  # psycopg 3
            with raw.copy(self.sql) as copy:
                for r in buf:
                    copy.write_row(r)
        else:
            self.cur.executemany(self.sql, buf)

    def close(self, exc: BaseException | None = None) -> None:
        if exc is None:
            self.flush()
        else:
            self.buf = []


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
    encoding: str = "auto",
    as_of: date | None = None,
    progress: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
) -> ImportSummary:
    """Import a resident-register extract (住民記録の取込). See the module docstring.

    Raises :class:`ImportRejected` (nothing applied, every problem in ``summary.problems`` up to
    ``MAX_PROBLEMS_KEPT``, all passed to ``on_problem``) when the file has an invalid row and
    ``skip_invalid`` is off, or when a My Number conflicts with the vault. ``AccessDenied`` when the
    context may not run the resident sync.
    """
    p = Path(path)
    summary = ImportSummary(file=p.name, mode="full" if full else "diff")
    started = timezone.now()
    try:
        res = extract.read_extract(p, encoding=encoding, as_of=as_of, check_duplicates=False)
    except extract.ExtractError as exc:
        summary.problem_count = 1
        summary.problems = [Problem(p.name, None, None, str(exc))]
        if on_problem:
            on_problem(summary.problems[0])
        _record_unapplied(ctx, p, summary, started, BatchStatus.REJECTED, "")
        raise ImportRejected(str(exc), summary) from None
    summary.encoding = res.encoding
    summary.file_sha256 = file_sha256(p)

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
            batch = ImportBatch.objects.create(
                municipality=settings.MUNICIPALITY_CODE, status=BatchStatus.APPLIED, mode=summary.mode,
                skip_invalid=skip_invalid, file_name=p.name[:255], file_sha256=summary.file_sha256,
                file_size=p.stat().st_size, encoding=res.encoding, operator_id=ctx.staff_id,
                terminal=ctx.terminal[:64], request_id=ctx.request_id[:64], started_at=started,
            )
            summary.batch_id = batch.pk
            _run(ctx, res, batch, summary, full=full, skip_invalid=skip_invalid, progress=progress, note=note)
            rec.detail = (
                f"resident import batch={batch.pk} mode={summary.mode} inserted={summary.inserted} "
                f"updated={summary.updated} unchanged={summary.unchanged} rejected={summary.rejected} "
                f"absent={summary.absent}"
            )
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
    return summary


def _record_unapplied(ctx: AccessContext, p: Path, s: ImportSummary, started: Any, status: str,
                      encoding: str) -> int | None:
    """A batch row for a run that applied nothing (counts only; no personal data)."""
    if connection.in_atomic_block and connection.needs_rollback:
        return None
    with transaction.atomic():
        b = ImportBatch.objects.create(
            municipality=settings.MUNICIPALITY_CODE, status=status, mode=s.mode, file_name=p.name[:255],
            file_sha256=s.file_sha256, file_size=p.stat().st_size if p.is_file() else 0, encoding=encoding,
            operator_id=ctx.staff_id, terminal=ctx.terminal[:64], request_id=ctx.request_id[:64],
            started_at=started, finished_at=timezone.now(), rows_read=s.rows_read, rejected=s.rejected,
            summary={"problems": s.problem_count, "warnings": s.warning_count},
        )
    return b.pk


def _records(res: extract.ExtractResult, progress: bool) -> Iterator[ResidentRecord]:
    if not progress:
        yield from res
        return
    from tqdm import tqdm

    with tqdm(unit=" 行", desc=res.file, file=sys.stderr, mininterval=0.5) as bar:
        n = 0
        for r in res:
            yield r
            n += 1
            if n == 10_000:
                bar.update(n)
                n = 0
        bar.update(n)


def _run(ctx: AccessContext, res: extract.ExtractResult, batch: ImportBatch, summary: ImportSummary, *,
         full: bool, skip_invalid: bool, progress: bool, note: Callable[[Problem], None]) -> None:
    m = settings.MUNICIPALITY_CODE
    for pr in res.problems:  # header problems, known before the rows
        note(pr)
    seen_problems = len(res.problems)
    refuse = False
    with connection.cursor() as cur:
        if _pg():
            # One import per municipality at a time; a second waits instead of failing on the unique keys.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"people.import.{m}"])
            # Index probes are cheap on the SSDs a registry runs on; with the default cost (4) the
            # planner hashes whole 1M-row tables for a 10k-row diff. Local to this transaction.
            cur.execute("SET LOCAL random_page_cost = 1.1")
        _create_stage(cur)
        # My Numbers stream to the vault as the rows are read (fixed-size chunks, same transaction);
        # it seals only numbers it does not hold yet, so nothing here grows with the file.
        with mynumber_services.bulk_registration(ctx) as reg:
            loader = _Loader(cur, STAGE, _STAGE_COLUMNS)
            pg = _pg()
            rh = row_hash
            add_number = reg.add
            try:
                for r in _records(res, progress):
                    if len(res.problems) > seen_problems:
                        for pr in res.problems[seen_problems:]:
                            note(pr)
                        res.problems.clear()  # counted and passed on; keep memory flat
                        seen_problems = 0
                        if summary.problem_count and not skip_invalid and not reg.check_only:
                            # The file will be refused: read on to list every problem, seal nothing.
                            reg.check_only = True
                    if r.my_number is not None:
                        add_number(r.atena_no, r.my_number, r.row)
                    bd = r.birth_date if pg else r.birth_date.isoformat()
                    cd = (r.change_date if pg else r.change_date.isoformat()) if r.change_date else None
                    loader.add((
                        r.atena_no, r.household_no, r.name_kanji, r.name_kana, bd, r.sex, r.relationship,
                        r.postal_code, r.address, r.address_extra, r.phone, r.status, cd, r.change_reason,
                        r.kanji_key, r.kana_key, rh(r), r.row,
                    ))
            except BaseException as exc:
                loader.close(exc)
                raise
            loader.close()
            for pr in res.problems[seen_problems:]:
                note(pr)
            res.problems.clear()
            summary.rows_read = res.rows_read
            rejected_rows: list[RejectedRow] = res.rejected

            # Duplicate 宛名番号 within the file, found in SQL: the later rows are refused.
            dups = _duplicate_rows(cur, res, note)
            if dups:
                reg.discard([r.row for r in dups])
                rejected_rows = rejected_rows + dups
            summary.rejected = len(rejected_rows)
            if summary.problem_count and not skip_invalid:
                reg.check_only = True

            vres = reg.finish()
            summary.vault = {"inserted": vres.inserted, "unchanged": vres.unchanged, "refused": len(vres.conflicts)}
            for c in vres.conflicts:
                note(Problem(res.file, vres.keys.get(c.atena_no) or None, extract.MY_NUMBER, c.message))
            if summary.problem_count and not skip_invalid:
                summary.rejected += len(vres.conflicts)
                refuse = True
            elif vres.conflicts:
                conflict_rows = _staged_rows(cur, [(vres.keys.get(c.atena_no, 0), f"{extract.MY_NUMBER}: {c.message}")
                                                   for c in vres.conflicts], res.header)
                rejected_rows = rejected_rows + conflict_rows
                summary.rejected = len(rejected_rows)
                _delete_from_stage(cur, [r.row for r in conflict_rows])
        if refuse:  # outside the vault's door: the vault's entry says what it found, not an error
            raise ImportRejected(_rejected_message(summary), summary)

        cur.execute(f"CREATE UNIQUE INDEX {STAGE}_atena ON {STAGE} (atena_no)")
        if rejected_rows:
            _stage_rejected(cur, res, rejected_rows)
        _apply(cur, m, batch, summary, full=full)
        _set_deceased(ctx, cur, batch)
        _drop_stage(cur)

    if rejected_rows:
        out = extract.write_rejected(extract.rejected_path(res.path), res.header, sorted(rejected_rows,
                                     key=lambda r: r.row))
        summary.rejected_file = str(out)
    batch.finished_at = timezone.now()
    batch.rows_read, batch.inserted, batch.updated = summary.rows_read, summary.inserted, summary.updated
    batch.unchanged, batch.rejected, batch.absent = summary.unchanged, summary.rejected, summary.absent
    batch.summary = {"status_changes": summary.status_changes, "mynumber": summary.vault,
                     "problems": summary.problem_count, "warnings": summary.warning_count}
    batch.save()


def _rejected_message(s: ImportSummary) -> str:
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


def _delete_from_stage(cur: Any, rows: list[int]) -> None:
    for i in range(0, len(rows), 500):
        chunk = rows[i:i + 500]
        cur.execute(f"DELETE FROM {STAGE} WHERE src_row IN ({', '.join(['%s'] * len(chunk))})", chunk)


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


def _apply(cur: Any, m: str, batch: ImportBatch, summary: ImportSummary, *, full: bool) -> None:
    """Diff staging against persons and apply, in SQL (one statement per step).

    First each staged row learns its person's id and stored hash (one indexed lookup per staged
    row); every later step then walks the staging table and reaches persons by primary key, so a
    small diff never scans the person table (``CROSS JOIN`` keeps SQLite's join order so).
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    b = batch.pk
    person = "people_person"
    if _pg():
        cur.execute(f"ANALYZE {STAGE}")  # temporary tables have no statistics until analysed
        cur.execute(
            f"UPDATE {STAGE} AS s SET pid = p.id, old_hash = p.row_hash FROM {person} p "
            f"WHERE p.municipality = %s AND p.atena_no = s.atena_no",
            [m],
        )
    else:
        cur.execute(
            f"UPDATE {STAGE} SET (pid, old_hash) = (SELECT p.id, p.row_hash FROM {person} p "
            f"WHERE p.municipality = %s AND p.atena_no = {STAGE}.atena_no)",
            [m],
        )
    changed = "s.pid IS NOT NULL AND s.old_hash <> s.row_hash"

    # Households touched: the new and changed rows' households, and the ones changed persons leave.
    cur.execute(
        f"INSERT INTO {STAGE_HOUSEHOLDS} (household_no) "
        f"SELECT s.household_no FROM {STAGE} s WHERE s.pid IS NULL OR s.old_hash <> s.row_hash "
        f"UNION SELECT p.household_no FROM {STAGE} s CROSS JOIN {person} p WHERE p.id = s.pid AND {changed}",
    )

    # History of changed persons: {field: [old, new]}, before the update overwrites the old values.
    cur.execute(
        f"INSERT INTO people_history (municipality, atena_no, batch_id, changed_at, kind, changes, status, "
        f"status_date, status_reason, status_changed) "
        f"SELECT %s, s.atena_no, %s, %s, 'updated', {_changes_sql()}, s.status, s.status_date, s.status_reason, "
        f"p.status <> s.status FROM {STAGE} s CROSS JOIN {person} p WHERE p.id = s.pid AND {changed}",
        [m, b, now],
    )
    upd = (*FIELDS, "kanji_key", "kana_key", "row_hash")
    if _pg():
        sets = ", ".join(f"{c} = s.{c}" for c in upd)
        cur.execute(
            f"UPDATE {person} AS p SET {sets}, updated_batch_id = %s, updated_at = %s FROM {STAGE} s "
            f"WHERE p.id = s.pid AND {changed}",
            [b, now],
        )
    else:
        # SQLite would drive UPDATE … FROM from the person table; by primary key it walks only the changed.
        cur.execute(f"CREATE INDEX {STAGE}_pid ON {STAGE} (pid)")
        cur.execute(
            f"UPDATE {person} SET ({', '.join(upd)}) = (SELECT {', '.join('s.' + c for c in upd)} FROM {STAGE} s "
            f"WHERE s.pid = {person}.id), updated_batch_id = %s, updated_at = %s "
            f"WHERE id IN (SELECT s.pid FROM {STAGE} s WHERE {changed})",
            [b, now],
        )
    summary.updated = max(cur.rowcount, 0)

    # New persons: a creation history row each (the batch's person list stays derivable), then the rows.
    cur.execute(
        f"INSERT INTO people_history (municipality, atena_no, batch_id, changed_at, kind, changes, status, "
        f"status_date, status_reason, status_changed) "
        f"SELECT %s, s.atena_no, %s, %s, 'created', '{{}}', s.status, s.status_date, s.status_reason, "
        f"{'true' if _pg() else '1'} FROM {STAGE} s WHERE s.pid IS NULL",
        [m, b, now],
    )
    cols = ", ".join(_PERSON_COLUMNS)
    scols = ", ".join(f"s.{c}" for c in _PERSON_COLUMNS)
    cur.execute(
        f"INSERT INTO {person} (municipality, source, {cols}, created_batch_id, updated_batch_id, created_at, "
        f"updated_at) SELECT %s, 'juki', {scols}, %s, %s, %s, %s FROM {STAGE} s WHERE s.pid IS NULL",
        [m, b, b, now, now],
    )
    summary.inserted = max(cur.rowcount, 0)
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

    _refresh_households(cur, m, b)
    if _pg() and summary.inserted + summary.updated > 50_000:
        # Fresh statistics after a large load, so the next small diff gets index plans at once
        # (autovacuum would do it later). ANALYZE is transactional on PostgreSQL.
        # (The vault refreshes its own table after its bulk insert.)
        cur.execute(f"ANALYZE {person}, people_household, people_history")

    if full:
        cur.execute(
            f"INSERT INTO people_batch_absence (batch_id, municipality, atena_no, status) "
            f"SELECT %s, p.municipality, p.atena_no, p.status FROM {person} p WHERE p.municipality = %s "
            f"AND p.source = 'juki' AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE s.atena_no = p.atena_no) "
            f"AND NOT EXISTS (SELECT 1 FROM {STAGE_REJECTED} r WHERE r.atena_no = p.atena_no)",
            [b, m],
        )
        summary.absent = max(cur.rowcount, 0)


def _refresh_households(cur: Any, m: str, b: int) -> None:
    """Rebuild the household rows of the touched household numbers from their members."""
    cur.execute(f"CREATE INDEX {STAGE_HOUSEHOLDS}_no ON {STAGE_HOUSEHOLDS} (household_no)")
    touched = f"household_no IN (SELECT household_no FROM {STAGE_HOUSEHOLDS})"
    cur.execute(f"DELETE FROM people_household WHERE municipality = %s AND {touched}", [m])
    # Head: the resident 世帯主, else the first resident, else the first member.
    head = (
        "COALESCE(MIN(CASE WHEN p.status = 1 AND p.relationship = '世帯主' THEN p.atena_no END), "
        "MIN(CASE WHEN p.status = 1 THEN p.atena_no END), MIN(p.atena_no))"
    )
    cur.execute(
        f"INSERT INTO people_household (municipality, household_no, head_atena_no, postal_code, address, "
        f"address_extra, updated_batch_id) SELECT %s, p.household_no, {head}, '', '', '', %s "
        f"FROM people_person p WHERE p.municipality = %s AND p.{touched} GROUP BY p.household_no",
        [m, b, m],
    )
    cur.execute(
        "UPDATE people_household AS h SET postal_code = p.postal_code, address = p.address, "
        "address_extra = p.address_extra FROM people_person p WHERE h.municipality = %s AND h.updated_batch_id = %s "
        f"AND h.{touched} "
        "AND p.municipality = h.municipality AND p.atena_no = h.head_atena_no",
        [m, b],
    )


def _set_deceased(ctx: AccessContext, cur: Any, batch: ImportBatch) -> None:
    """Persons who became deceased in this batch: flag their vault link (kept, never deleted)."""
    cur.execute(
        "SELECT atena_no, status_date FROM people_history WHERE batch_id = %s AND status = %s AND status_changed",
        [batch.pk, int(ResidentStatus.DECEASED)],
    )
    items = [(a, d if d is None or isinstance(d, date) else date.fromisoformat(d)) for a, d in cur.fetchall()]
    if items:
        mynumber_services.bulk_set_deceased(ctx, items)
