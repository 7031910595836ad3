"""Register reads by a batch: ``people.selectors.bulk_facts`` for a list of 宛名番号 that is a part of
a city of ``size`` persons (default 1,000,000) — 15 %, 40 % and all of it — on SQLite and
PostgreSQL. This is the read the dose import, the clinic-payment build and the tax/welfare status
import make of the register.

Each read runs in its own process, so its peak memory is its own: ``rss_added_mb`` is the growth of
the process's peak RSS over the read (the list itself is built before). Raw baseline, measured in
the same run: a plain ``SELECT`` of the same six columns of the whole city, fetched into Python with
no filtering and no objects built (what any read of the city through Python costs at least).

PostgreSQL database: ``YOBO_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/yobo_bench_facts``),
dropped and re-created (its name must contain "bench"). ``YOBO_BENCH_ONLY=sqlite|postgresql``: one.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/yobo_bench_facts"
FRACTIONS = (0.15, 0.4, 1.0)
COLS = "atena_no, id, birth_date, sex, status, status_date"


def _django(url: str, work: Path) -> None:
    os.environ["YOBO_DATABASE_URL"] = url
    os.environ["YOBO_KEY_DIR"] = str(work / "keys")
    os.environ["YOBO_VAR_DIR"] = str(work / "var")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yobo.settings")
    import django

    django.setup()


def _build(url: str, work: Path, n: int) -> dict[str, Any]:
    from bench._common import prepare_database

    _django(prepare_database(url, work), work)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench.bench_notices import _persons
    from yobo.access.models import Staff

    t0 = time.perf_counter()
    _persons(n, date(2026, 10, 1))
    staff = Staff.objects.create_user(username="bench-facts", password=None)
    return {"url": os.environ["YOBO_DATABASE_URL"], "staff_id": staff.pk, "load_s": round(time.perf_counter() - t0, 1)}


def _read(url: str, work: Path, n: int, staff_id: int, fraction: float) -> dict[str, Any]:
    _django(url, work)
    from django.conf import settings
    from django.db import connection, transaction

    from yobo.core.context import AccessContext
    from yobo.core.purposes import Duty, Purpose
    from yobo.people.selectors import bulk_facts

    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    if fraction == 0:  # the raw baseline
        before = peak()
        t0 = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"SELECT {COLS} FROM people_person WHERE municipality = %s",
                        [settings.MUNICIPALITY_CODE])
            rows = len(cur.fetchall())
        return {"seconds": round(time.perf_counter() - t0, 3), "rows": rows, "rss_added_mb": round(peak() - before)}
    rnd = random.Random(7)
    k = round(n * fraction)
    wanted = [str(100000000 + i) for i in (range(n) if k >= n else rnd.sample(range(n), k))]
    ctx = AccessContext(staff_id=staff_id, username="bench-facts", department="", duties=frozenset({Duty.CLERK}),
                        terminal="bench-terminal", purpose=str(Purpose.DOSE_IMPORT))
    before = peak()
    t0 = time.perf_counter()
    got = bulk_facts(ctx, wanted)
    secs = time.perf_counter() - t0
    assert len(got) == len(wanted)  # noqa: S101 - every synthetic 宛名番号 exists
    return {"asked": len(wanted), "seconds": round(secs, 3), "rss_added_mb": round(peak() - before)}


def _child(*args: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "bench.bench_facts", *args], capture_output=True, text=True,
                          check=False, cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode != 0:
        return {"error": proc.stderr[-3000:]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run(size: int | None = None) -> dict[str, Any]:
    n = size or 1_000_000
    result: dict[str, Any] = {"persons": n}
    only = os.environ.get("YOBO_BENCH_ONLY", "")
    for label, url in (("sqlite", "sqlite"), ("postgresql", os.environ.get("YOBO_BENCH_PG", PG_DEFAULT))):
        if only and only != label:
            continue
        work = Path(tempfile.mkdtemp(prefix=f"yobo-bench-facts-{label}-"))
        built = _child("--build", url, str(work), str(n))
        if "error" in built:
            result[label] = built
            continue
        common = [built["url"], str(work), str(n), str(built["staff_id"])]
        raw = _child("--read", *common, "0")
        out: dict[str, Any] = {"load_s": built["load_s"], "raw_city_select_s": raw.get("seconds"), "raw": raw}
        for f in FRACTIONS:
            r = _child("--read", *common, str(f))
            if "seconds" in r and raw.get("seconds"):
                r["vs_raw_city_select"] = round(raw["seconds"] / r["seconds"], 3)
            out[f"list_{round(f * 100)}pct"] = r
        result[label] = out
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["--build"]:
        print(json.dumps(_build(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))))
    elif sys.argv[1:2] == ["--read"]:
        print(json.dumps(_read(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
                               float(sys.argv[6]))))
    else:
        print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else None), indent=2))
