"""Resident-register import benchmark (issue #3): ``size`` synthetic residents (default 1,000,000).

For SQLite and PostgreSQL, each in a fresh database and its own process (so peak RSS is per run):

- ``baseline``: the raw floor — the same file read with ``csv.reader`` and its cells loaded into a
  bare table with no index (COPY on PostgreSQL, ``executemany`` in one transaction on SQLite);
- ``full``: ``import_residents`` into the empty database (validation, normalisation, staging,
  SQL diff/apply, history, households, and the My Number vault: AES-GCM + blind index per number);
- ``reimport``: the same file again (everything unchanged);
- ``diff``: a diff file with 1% of the persons changed (address, some moved out or deceased);
- ``floor``: after the three imports (last, so that its temporary copies of whole tables do not
  count in the imports' peak RSS), the tables the full import wrote (persons, their history, the
  vault's links; the diff added 1% more history rows) emptied and refilled with those very rows,
  copied server-side (no reading, validating, hashing or sealing, nothing passing through Python),
  their indexes dropped and rebuilt as a first load does, then rolled back (so no commit is
  counted). ``floor_vs_baseline`` is therefore a ceiling: no import that stores what this one must
  store, with the indexes the requirements need (unique 宛名番号 and blind index, name/birth/household
  search, history by person and batch), reaches a higher ratio on this machine, however fast its
  reading. ``full_vs_floor`` (floor seconds ÷ full import seconds) says how close the import comes to
  that ceiling.

Each import phase also reports its steps (``<phase>_phases``, seconds): ``read_wait`` (reading
in-process, or waiting for the reader worker), ``stage_load`` (COPY/executemany into staging),
``vault_chunks`` (blind index, lookups, sealing, vault staging), ``duplicates``, ``vault_finish``,
``apply_*`` (delta join, history, update, insert, index build, households, ANALYZE, absences) and
``vault_deceased``, ``stage_drop`` and ``commit`` (the access log entry and COMMIT). On both databases
the import loads in the main process while a worker process reads (files of
``importer.WORKER_MIN_BYTES`` and more), so those steps overlap with the reading.

Targets: full import ≥ 50% of the baseline's rows per second; the 1% diff under 3 s.
PostgreSQL database: ``YOBO_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/yobo_bench``),
dropped and re-created (its name must contain "bench"). SQLite: a file under a temporary directory.
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import batch_context, child_django, each_database, raw_baseline, rss_mb

AS_OF = "2025-09-01"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/yobo_bench"


def _make_files(size: int, work: Path) -> tuple[Path, Path]:
    from yobo.people import synth
    from yobo.people.extract import COLUMNS

    full = work / "residents.csv"
    synth.write_csv(full, size, seed=11, as_of=AS_OF)
    diff = work / "diff.csv"
    ist, idt, ir, iad, ib = (COLUMNS.index(c) for c in ("住民区分", "異動日", "異動事由", "住所", "生年月日"))
    with full.open(encoding="utf-8", newline="") as src, diff.open("w", encoding="utf-8", newline="") as out:
        r = csv.reader(src)
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(next(r))
        for i, cells in enumerate(r):
            if i % 100 != 7:
                continue
            adult = cells[ib] < "2025"  # a status change must not predate the birth
            # the next days' 異動: a 異動日 earlier than the one on record would be refused as backdated
            if adult and cells[ist] == "1" and i % 1000 == 7:
                cells[ist], cells[idt], cells[ir] = "2", "2025-09-02", "転出"
            elif adult and cells[ist] == "1" and i % 1000 == 107:
                cells[ist], cells[idt], cells[ir] = "3", "2025-09-03", "死亡"
            else:
                cells[iad] = cells[iad] + "（変更）"
            w.writerow(cells)
    return full, diff


def _baseline(path: Path) -> float:
    """Seconds to read the file with csv.reader and load the raw cells into a bare table."""
    from yobo.people.extract import COLUMNS

    return raw_baseline(path, len(COLUMNS))


FLOOR_TABLES = ("people_person", "people_history", "mynumber_link")


def _floor() -> dict[str, Any]:
    """Seconds to store the full import's own rows again (see the module docstring), by step."""
    from django.db import connection, transaction

    from yobo.core import bulkload
    from yobo.people import importer

    pg = connection.vendor == "postgresql"
    with connection.cursor() as cur:
        for t in FLOOR_TABLES:
            cur.execute(f"DROP TABLE IF EXISTS floor_{t}")
            cur.execute(f"CREATE TEMPORARY TABLE floor_{t} AS SELECT * FROM {t}")
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        # TRUNCATE on PostgreSQL: a DELETE would leave deferred foreign-key events that forbid the
        # index DDL. Everything here is rolled back below.
        cur.execute(f"TRUNCATE {', '.join(FLOOR_TABLES)} CASCADE" if pg else "SELECT 1")
        if pg:  # the import's own settings (memory for the index builds above all)
            importer.tune_transaction(cur)
        else:
            for t in FLOOR_TABLES:
                cur.execute(f"DELETE FROM {t}")
        t1 = time.perf_counter()
        ddl = [d for t in FLOOR_TABLES for d in bulkload.drop_indexes(cur, connection.vendor, t, unique=True)]
        for t in FLOOR_TABLES:
            ts = time.perf_counter()
            cur.execute(f"INSERT INTO {t} SELECT * FROM floor_{t}")
            out[f"insert_{t}"] = round(time.perf_counter() - ts, 3)
        ts = time.perf_counter()
        bulkload.rebuild(cur, ddl)
        out["index_build"] = round(time.perf_counter() - ts, 3)
        if pg:  # as the import does after a large load
            ts = time.perf_counter()
            cur.execute(f"ANALYZE {', '.join(FLOOR_TABLES)}")
            out["analyze"] = round(time.perf_counter() - ts, 3)
        out["indexes_built"] = len(ddl)
        out["floor_s"] = round(time.perf_counter() - t1, 2)
        transaction.set_rollback(True)
    out["emptying_s"] = round(t1 - t0, 2)
    with connection.cursor() as cur:
        for t in FLOOR_TABLES:
            cur.execute(f"DROP TABLE floor_{t}")
    return out


def _child(url: str, full: Path, diff: Path, size: int) -> dict[str, Any]:
    child_django(url, "yobo-bench-res-")
    from datetime import date

    from django.db import connection

    from yobo.core.purposes import Purpose
    from yobo.people.services import import_residents

    ctx = batch_context("bench-admin", str(Purpose.RESIDENT_SYNC))
    as_of = date.fromisoformat(AS_OF)
    out: dict[str, Any] = {"vendor": connection.vendor, "rows": size}
    base = _baseline(full)
    out["baseline_s"] = round(base, 2)
    out["baseline_rows_per_s"] = round(size / base)
    out["rss_mb_after_baseline"] = rss_mb()
    # The validating reader alone (no database): the per-row Python floor of any import of the file.
    from yobo.people.extract import read_extract

    t0 = time.perf_counter()
    n = sum(1 for _ in read_extract(full, as_of=as_of, check_duplicates=False))  # as the importer reads
    out["reader_only_s"] = round(time.perf_counter() - t0, 2)
    out["reader_rows_per_s"] = round(n / out["reader_only_s"])
    out["rss_mb_after_reader"] = rss_mb()
    for phase, path in (("full", full), ("reimport", full), ("diff", diff)):
        t0 = time.perf_counter()
        s = import_residents(ctx, path, as_of=as_of, on_problem=lambda p: print(p, file=sys.stderr))
        secs = time.perf_counter() - t0
        out[f"{phase}_s"] = round(secs, 2)
        out[f"{phase}_counts"] = {k: getattr(s, k) for k in ("inserted", "updated", "unchanged", "rejected")}
        out[f"{phase}_rss_mb"] = rss_mb()
        out[f"{phase}_phases"] = dict(s.phases)  # seconds per step (importer._Phases)
    # Last, so that its temporary copies of the tables do not count in the imports' peak RSS.
    out["floor"] = _floor()
    out["floor_rss_mb"] = rss_mb()
    out["full_rows_per_s"] = round(size / out["full_s"])
    out["full_vs_baseline"] = round(out["full_rows_per_s"] / out["baseline_rows_per_s"], 3)
    out["floor_vs_baseline"] = round(base / out["floor"]["floor_s"], 3)  # the ceiling of full_vs_baseline
    # How close the import comes to that ceiling: 1.0 would be an import that costs no more than storing.
    out["full_vs_floor"] = round(out["floor"]["floor_s"] / out["full_s"], 3)
    out["diff_under_3s"] = out["diff_s"] < 3.0
    return out


def run(size: int | None = None) -> dict[str, Any]:
    size = size or 1_000_000
    work = Path(tempfile.mkdtemp(prefix="yobo-bench-files-"))
    t0 = time.perf_counter()
    full, diff = _make_files(size, work)
    result: dict[str, Any] = {"size": size, "synth_s": round(time.perf_counter() - t0, 1)}
    result.update(each_database("bench.bench_residents", PG_DEFAULT, [str(full), str(diff), str(size)],
                                then_remove=work))
    return result


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        res = _child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]))
        print(json.dumps(res, ensure_ascii=False))
    else:
        print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else None), ensure_ascii=False, indent=2))
