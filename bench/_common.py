"""Pieces every import benchmark shares: a fresh bench database, the raw baseline, peak memory."""

from __future__ import annotations

import csv
import resource
import time
from pathlib import Path
from typing import Any


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


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
