"""Access-log benchmark: (a) the cost of the logged door on a read, (b) verify speed.

(a) The same realistic read — a staff row with its department and roles through the ORM — done N
    times plainly, N times inside a bare transaction, and N times through ``door`` (check + the read
    + the chained log entry in the same transaction). Reports µs/op and the overhead ratio
    (target: door under 1.10 × the plain read).
(b) The staff person page (個人画面): ``yobo.people.lookup.person_page`` — the person, protection
    status, history, household members and My Number link status; three doors — on a synthetic
    population of ``YOBO_BENCH_PERSONS`` (default 2,000) imported through ``import_residents``, versus
    exactly the same ORM queries with ``door`` replaced by a no-op (no check, no transaction, no log).
(c) ``size`` entries (default 10,000,000) with a valid chain and signed checkpoints are bulk-loaded
    (COPY on PostgreSQL, executemany on SQLite), then ``verify()`` is timed (target: 10M in < 60 s),
    next to a raw baseline: a plain chunked ``SELECT`` of the same rows without hashing.

Database: ``YOBO_DATABASE_URL``. A PostgreSQL database is dropped and re-created, so its name must
contain "bench" (e.g. ``postgresql://postgres@127.0.0.1:5432/h3bench``). Unset: a fresh SQLite file
under /tmp. Keys go to a temporary directory unless ``YOBO_KEY_DIR`` is set.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SEP = "\x1f"
COLS = ("seq", "at_us", "staff", "department", "terminal", "purpose", "operation", "resource", "target", "result",
        "request_id", "detail", "hash")


def _prepare_database() -> str:
    url = os.environ.get("YOBO_DATABASE_URL", "")
    if not url:
        path = tempfile.mkdtemp(prefix="yobo-bench-") + "/bench.sqlite3"
        os.environ["YOBO_DATABASE_URL"] = f"sqlite:///{path}"
        return "sqlite"
    if url.startswith("postgres"):
        import psycopg

        base, _, name = url.rpartition("/")
        name = name.split("?")[0]
        if "bench" not in name:
            raise SystemExit(f"refusing to drop {name!r}: the bench database name must contain 'bench'")
        with psycopg.connect(base + "/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        return "postgresql"
    if url.startswith("sqlite:///"):
        p = url[len("sqlite:///"):]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(p + suffix):
                os.remove(p + suffix)
        return "sqlite"
    raise SystemExit(f"unsupported database url {url}")


def _setup() -> str:
    vendor = _prepare_database()
    os.environ.setdefault("YOBO_KEY_DIR", tempfile.mkdtemp(prefix="yobo-bench-keys-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yobo.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from yobo.audit.signing import ensure_key

    ensure_key()
    return vendor


def _door_cost(n: int) -> dict[str, Any]:
    from django.db import transaction

    from yobo.access.models import Department, DutyRole, Staff
    from yobo.audit.door import door
    from yobo.core.context import AccessContext
    from yobo.core.purposes import Duty, Operation, Purpose

    dept = Department.objects.create(code="hoken", name="健康福祉局")
    role = DutyRole.objects.create(code="admin", name="管理", duties=[Duty.ADMIN.value])
    staff = Staff.objects.create_user(username="bench", password="x" * 16, department=dept)
    staff.roles.add(role)
    ctx = AccessContext(staff_id=staff.pk, username="bench", department="hoken", duties=staff.duties(),
                        terminal="bench-terminal", purpose=Purpose.ADMINISTRATION.value)
    pk = staff.pk

    def read() -> Any:
        s = Staff.objects.select_related("department").prefetch_related("roles").get(pk=pk)
        return s.department.name, s.duties()

    def plain() -> None:
        read()

    def in_txn() -> None:
        with transaction.atomic():
            read()

    def logged() -> None:
        with door(ctx, Operation.READ, resource="access.staff", target=str(pk)):
            read()

    def timed(fn: Any) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n * 1e6

    for fn in (plain, in_txn, logged):  # warm up
        for _ in range(200):
            fn()
    best = {"plain": 1e9, "txn": 1e9, "door": 1e9}
    for _ in range(5):  # interleaved rounds; the best of each is the least disturbed
        best["plain"] = min(best["plain"], timed(plain))
        best["txn"] = min(best["txn"], timed(in_txn))
        best["door"] = min(best["door"], timed(logged))
    extra: dict[str, Any] = {}
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "postgresql":
        settings.YOBO_AUDIT_ASYNC_READ_COMMIT = True
        try:
            a = min(timed(logged) for _ in range(5))
        finally:
            settings.YOBO_AUDIT_ASYNC_READ_COMMIT = False
        extra = {
            "door_read_async_commit_us": round(a, 1),
            "door_async_commit_overhead_ratio": round(a / best["plain"], 3),
        }
    return {
        **extra,
        "iterations": n,
        "read_us": round(best["plain"], 1),
        "read_in_transaction_us": round(best["txn"], 1),
        "door_read_us": round(best["door"], 1),
        "door_overhead_ratio": round(best["door"] / best["plain"], 3),
        "door_overhead_vs_transaction_ratio": round(best["door"] / best["txn"], 3),
        "target_ratio": 1.10,
    }


@contextmanager
def _no_door(ctx: Any, operation: Any, *, resource: str, target: str = "", detail: str = "") -> Iterator[Any]:
    """The door without the door: same block, same record object, no check, transaction or entry."""
    from yobo.audit.door import AccessRecord

    yield AccessRecord(detail=detail)


def _person_page_cost(n: int, persons: int) -> dict[str, Any]:
    from datetime import date

    from django.conf import settings

    from yobo.access.models import Staff
    from yobo.core.context import AccessContext
    from yobo.core.purposes import Duty, Purpose
    from yobo.mynumber import selectors as vault_selectors
    from yobo.people import lookup, synth
    from yobo.people.models import Person
    from yobo.people.services import import_residents

    work = tempfile.mkdtemp(prefix="yobo-bench-pp-")
    csv = os.path.join(work, "residents.csv")
    synth.write_csv(csv, persons, seed=11, as_of="2025-09-01")
    staff = Staff.objects.create_user(username="bench-clerk", password=None)
    sync = AccessContext(staff_id=staff.pk, username=staff.username, department="", duties=frozenset({Duty.CLERK}),
                         terminal="bench-terminal", purpose=str(Purpose.RESIDENT_SYNC))
    import_residents(sync, csv, as_of=date(2025, 9, 1))
    ctx = AccessContext(staff_id=staff.pk, username=staff.username, department="", duties=frozenset({Duty.CLERK}),
                        terminal="bench-terminal", purpose=str(Purpose.PERSON_INQUIRY))
    # Persons in households of several members: the page then shows (and logs) the household too.
    atena = list(Person.objects.filter(municipality=settings.MUNICIPALITY_CODE).exclude(household_no="")
                 .order_by("atena_no").values_list("atena_no", flat=True))
    rnd = random.Random(7)
    sample = [rnd.choice(atena) for _ in range(n)]

    def logged() -> None:
        for a in sample:
            lookup.person_page(ctx, a)

    def plain() -> None:
        real = (lookup.door, vault_selectors.door)
        lookup.door = vault_selectors.door = _no_door  # type: ignore[assignment]
        try:
            for a in sample:
                lookup.person_page(ctx, a)
        finally:
            lookup.door, vault_selectors.door = real  # type: ignore[assignment]

    def timed(fn: Any) -> float:
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) / n * 1e6

    timed(plain), timed(logged)  # warm up
    best = {"plain": 1e9, "door": 1e9}
    for _ in range(5):
        best["plain"] = min(best["plain"], timed(plain))
        best["door"] = min(best["door"], timed(logged))
    return {
        "persons": persons,
        "iterations": n,
        "page_us": round(best["plain"], 1),
        "door_page_us": round(best["door"], 1),
        "door_overhead_ratio": round(best["door"] / best["plain"], 3),
        "target_ratio": 1.10,
    }


def _rows(size: int, start_us: int) -> Any:
    """Yield (seq, at_us, fields..., hash) tuples forming a valid chain, plus checkpoints to sign."""
    rnd = random.Random(42)
    staff = [f"staff{i:03d}" for i in range(200)]
    depts = ["hoken", "kenko", "kosodate", "jinji"]
    ops = ["read", "read", "read", "search", "update", "create", "issue"]
    prev = bytes(32)
    sha = hashlib.sha256
    at = start_us
    for seq in range(1, size + 1):
        at += rnd.randrange(1, 2_000_000)
        f = (staff[seq % 200], depts[seq % 4], f"madoguchi-{seq % 37:02d}", "P02", ops[seq % 7], "people.person",
             str(100000000 + rnd.randrange(900000000)), "ok", f"{seq * 2654435761 % (1 << 64):032x}", "")
        dg = sha(prev + SEP.join((str(seq), str(at), *f)).encode())
        h = dg.hexdigest()
        prev = dg.digest()
        yield (seq, at, *f, h)


def _load(vendor: str, size: int) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection, transaction

    from yobo.audit import signing

    every = int(settings.YOBO_AUDIT_CHECKPOINT_EVERY)
    t0 = time.perf_counter()
    start_us = 1_600_000_000 * 1_000_000
    last: tuple[Any, ...] = ()
    checkpoints: list[tuple[int, str]] = []
    with transaction.atomic(), connection.cursor() as cur:
        if vendor == "postgresql":
            raw = cur.cursor
            with raw.copy(f"COPY audit_access_log ({', '.join(COLS)}) FROM STDIN") as cp:
                buf: list[str] = []
                for r in _rows(size, start_us):
                    buf.append("\t".join(map(str, r)))
                    if r[0] % every == 0:
                        checkpoints.append((r[0], r[-1]))
                    if len(buf) >= 20000:
                        cp.write("\n".join(buf) + "\n")
                        buf.clear()
                    last = r
                if buf:
                    cp.write("\n".join(buf) + "\n")
        else:
            raw = cur.cursor
            sql = f"INSERT INTO audit_access_log ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})"
            batch: list[tuple[Any, ...]] = []
            for r in _rows(size, start_us):
                batch.append(r)
                if r[0] % every == 0:
                    checkpoints.append((r[0], r[-1]))
                if len(batch) >= 50000:
                    raw.executemany(sql, batch)
                    batch.clear()
                last = r
            if batch:
                raw.executemany(sql, batch)
        key = signing.private_key()
        if key is None:
            raise SystemExit("no signing key")
        kid = signing.key_id_of(key.public_key())
        for seq, h in checkpoints:
            at_us = start_us + seq
            sig = key.sign(signing.checkpoint_message(seq, h, at_us, kid)).hex()
            cur.execute(
                "INSERT INTO audit_checkpoint (seq, hash, at_us, key_id, signature) VALUES (%s, %s, %s, %s, %s)",
                [seq, h, at_us, kid, sig],
            )
        cur.execute("INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, %s, %s)", [last[0], last[-1]])
    if vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE audit_access_log")  # as autovacuum would after a bulk load
    return {"load_seconds": round(time.perf_counter() - t0, 1), "checkpoints": len(checkpoints)}


def _baseline(vendor: str) -> float:
    """A plain chunked scan of the same rows and columns, no hashing (one process)."""
    from django.db import connection

    t0 = time.perf_counter()
    n = 0
    with connection.cursor() as cur:
        raw = cur.cursor
        q = f"SELECT {', '.join(COLS)} FROM audit_access_log WHERE seq >= %s ORDER BY seq LIMIT 50000"
        if vendor != "postgresql":
            q = q.replace("%s", "?")
        nxt = 1
        while True:
            raw.execute(q, (nxt,))
            rows = raw.fetchall()
            if not rows:
                break
            n += len(rows)
            nxt = rows[-1][0] + 1
    return time.perf_counter() - t0


def run(size: int | None) -> dict[str, Any]:
    size = size or 10_000_000
    vendor = _setup()
    from django.db import connection

    out: dict[str, Any] = {"database": vendor, "size": size, "cpus": os.cpu_count()}
    if os.environ.get("YOBO_BENCH_DOOR_ONLY"):  # (a) and (b) on an empty log, no verify
        out["door"] = _door_cost(int(os.environ.get("YOBO_BENCH_DOOR_N", "2000")))
        out["person_page"] = _person_page_cost(int(os.environ.get("YOBO_BENCH_PAGE_N", "300")),
                                               int(os.environ.get("YOBO_BENCH_PERSONS", "2000")))
        return out
    out["load"] = _load(vendor, size)
    print(f"load: {out['load']}", file=sys.stderr)
    connection.close()
    from yobo.audit.verify import verify

    res = verify()
    if not res.ok:
        raise SystemExit(f"verify failed on the bench data: {res.message}")
    v: dict[str, Any] = {
        "entries": res.entries, "seconds": res.seconds, "workers": res.workers,
        "entries_per_second": round(res.entries / res.seconds) if res.seconds else None,
        "checkpoints_checked": res.checkpoints,
        "projected_10M_seconds": round(res.seconds * 10_000_000 / max(res.entries, 1), 1),
        "target_10M_seconds": 60,
    }
    if size <= 2_000_000:
        one = verify(workers=1)
        v["single_process_seconds"] = one.seconds
    base = _baseline(vendor)
    v["raw_select_seconds"] = round(base, 2)
    v["verify_over_raw_select_ratio"] = round(res.seconds / base, 2) if base else None
    out["verify"] = v
    # The door on top of the loaded log (a log of ``size`` entries, as in production).
    out["door"] = _door_cost(int(os.environ.get("YOBO_BENCH_DOOR_N", "2000")))
    print(f"door: {out['door']}", file=sys.stderr)
    out["person_page"] = _person_page_cost(int(os.environ.get("YOBO_BENCH_PAGE_N", "300")),
                                           int(os.environ.get("YOBO_BENCH_PERSONS", "2000")))
    print(f"person_page: {out['person_page']}", file=sys.stderr)
    return out
