"""Pieces every import benchmark shares: a fresh bench database, the raw baseline, peak memory."""

from __future__ import annotations

import csv
import resource
import time
from pathlib import Path
from typing import Any


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child_django(url: str, prefix: str) -> Path:
    """In a benchmark's child process: a fresh bench database for ``url`` ("sqlite" or a
    PostgreSQL URL), its own key and data directories, Django set up and migrated. Returns the
    work directory (removed when the child exits)."""
    import atexit
    import os
    import shutil
    import tempfile

    work = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, work, True)  # a SQLite bench database of 4M persons is ~4 GB
    os.environ["YOBO_DATABASE_URL"] = prepare_database(url, work)
    os.environ["YOBO_KEY_DIR"] = str(work / "keys")
    os.environ["YOBO_VAR_DIR"] = str(work / "var")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yobo.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return work


def batch_context(username: str, purpose: str) -> Any:
    """A new clerk's ``AccessContext`` on the bench terminal, acting for ``purpose``."""
    from yobo.access.models import Staff
    from yobo.core.context import AccessContext
    from yobo.core.purposes import Duty

    staff = Staff.objects.create_user(username=username, password=None)
    return AccessContext(staff_id=staff.pk, username=staff.username, department="", duties=frozenset({Duty.CLERK}),
                         terminal="bench-terminal", purpose=purpose)


def each_database(module: str, pg_default: str, args: list[str], *, then_remove: Path | None = None) -> dict[str, Any]:
    """Run ``python -m <module> --child <url> <args…>`` for SQLite, then PostgreSQL
    (``YOBO_BENCH_PG``, default ``pg_default``), each in its own process (so peak RSS is per
    database); ``YOBO_BENCH_ONLY=sqlite|postgresql`` runs one. The child prints its figures as
    JSON on its last line; a failed child gives ``{"error": <the end of its stderr>}``.
    ``then_remove``: the directory of the input files, removed afterwards."""
    import json
    import os
    import subprocess
    import sys

    out: dict[str, Any] = {}
    only = os.environ.get("YOBO_BENCH_ONLY", "")
    for label, url in (("sqlite", "sqlite"), ("postgresql", os.environ.get("YOBO_BENCH_PG", pg_default))):
        if only and only != label:
            continue
        proc = subprocess.run(
            [sys.executable, "-m", module, "--child", url, *args],
            capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parent.parent,
        )
        if proc.returncode != 0:
            out[label] = {"error": proc.stderr[-3000:]}
            continue
        out[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    if then_remove is not None:
        import shutil

        shutil.rmtree(then_remove, ignore_errors=True)
    return out


def prepare_database(url: str, work: Path) -> str:
    if url.startswith("postgres"):
        import psycopg

        base, _, name = url.rpartition("/")
        if "bench" not in name:
            raise SystemExit(f"refusing to drop {name!r}: the bench database name must contain 'bench'")
        with psycopg.connect(base + "/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        return url
    path = work / "bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"


def raw_baseline(path: Path, width: int) -> float:
    """Seconds to read ``path`` with csv.reader and load its raw cells into a bare table of ``width``
    text columns (COPY on PostgreSQL, executemany in 5,000-row batches on SQLite): the baseline
    every import's rows/s is compared to, measured in the same run."""
    from django.db import connection, transaction

    cols = [f"c{i}" for i in range(width)]
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_raw")
        cur.execute(f"CREATE TABLE bench_raw ({', '.join(c + ' text' for c in cols)})")
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur, path.open(encoding="utf-8", newline="") as f:
        r = csv.reader(f)
        next(r)
        if connection.vendor == "postgresql":
            raw: Any = cur.cursor
            with raw.copy(f"COPY bench_raw ({', '.join(cols)}) FROM STDIN") as copy:
                for cells in r:
                    copy.write_row(cells)
        else:
            sql = f"INSERT INTO bench_raw VALUES ({', '.join(['%s'] * len(cols))})"
            buf: list[list[str]] = []
            for cells in r:
                buf.append(cells)
                if len(buf) == 5000:
                    cur.executemany(sql, buf)
                    buf = []
            if buf:
                cur.executemany(sql, buf)
    secs = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("DROP TABLE bench_raw")
    return secs
