"""Notices benchmark: (a) target extraction for one vaccine on a city of ``size`` residents (default
1,000,000; target < 2 s), (b) a print batch of ``YOBO_BENCH_VOUCHERS`` vouchers + forms (default 30,000;
target < 120 s) with the peak memory growth while drawing.

(a) MR2 for next April through ``extract_targets`` (door, birth hull, one range query, the engine,
    saving the list), against a raw baseline in the same run: one plain SELECT of the same cohort's
    (宛名番号, birth date, sex) and a numpy age test, no door, no engine, nothing saved.
(b) ``issue_batch`` on a list of that many persons (allocation, PDF of cover + voucher + 予診票 per
    person with QR, numbers.csv, the vouchers recorded), against a raw baseline: ReportLab drawing the
    same number of pages with one line of Japanese text each.

Database: ``YOBO_DATABASE_URL`` (a PostgreSQL database is dropped and re-created: its name must
contain "bench"); unset: a fresh SQLite file under /tmp. The persons are bulk-inserted (the import
path has its own benchmark); the dose ledger is empty, so the engine counts no history here.
"""

from __future__ import annotations

import os
import random
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any


def _setup() -> Any:
    from bench.bench_audit import _prepare_database

    _prepare_database()
    os.environ.setdefault("YOBO_KEY_DIR", tempfile.mkdtemp(prefix="yobo-bench-keys-"))
    os.environ.setdefault("YOBO_VAR_DIR", tempfile.mkdtemp(prefix="yobo-bench-var-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yobo.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _persons(n: int, today: date) -> None:
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from yobo.core.text import address_key

    rnd = random.Random(6)
    now = timezone.now()
    wards = ["中区", "西区", "南区", "港北区", "青葉区", "泉区", "戸塚区", "鶴見区"]
    cols = ("municipality", "atena_no", "source", "household_no", "name_kanji", "name_kana", "kanji_key", "kana_key",
            "birth_date", "sex", "relationship", "postal_code", "address", "address_extra", "address_key", "phone",
            "status", "status_reason", "row_hash", "created_at", "updated_at")
    sql = f"INSERT INTO people_person ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
    m = settings.MUNICIPALITY_CODE
    with transaction.atomic(), connection.cursor() as cur:
        batch = []
        for i in range(n):
            age_days = int(rnd.triangular(0, 100 * 365.25, 45 * 365.25))
            born = today - timedelta(days=age_days)
            w = wards[i % len(wards)]
            status = 1 if rnd.random() > 0.04 else rnd.choice((2, 3))
            address = f"神奈川県横浜市{w}本町{1 + i % 9}丁目{1 + i % 30}番地"
            batch.append((m, f"{100000000 + i}", "juki", f"{200000000 + i // 2}", "横浜　太郎", "ヨコハマ　タロウ",
                          "横浜太郎", "ヨコハマタロウ", born, 1 + (i & 1), "", f"{2300000 + rnd.randrange(99999):07d}",
                          address, "", address_key(address),
                          "", status, "", "x", now, now))
            if len(batch) == 20_000:
                cur.executemany(sql, batch)
                batch = []
        if batch:
            cur.executemany(sql, batch)
        if connection.vendor == "postgresql":
            cur.execute("ANALYZE people_person")


def _staff() -> Any:
    from yobo.access.context import context_for_operator  # noqa: F401 - imported for its side effects only
    from yobo.access.models import Department, DutyRole, Staff
    from yobo.core.context import AccessContext
    from yobo.core.purposes import Duty, Purpose

    dept, _ = Department.objects.get_or_create(code="hoken", defaults={"name": "保健課"})
    role, _ = DutyRole.objects.get_or_create(code="clerk", defaults={"name": "事務", "duties": [Duty.CLERK.value]})
    s = Staff.objects.create_user(username="bench", password="x" * 16, department=dept)
    s.roles.add(role)
    return AccessContext(staff_id=s.pk, username=s.username, department="hoken", duties=frozenset({Duty.CLERK.value}),
                         terminal="bench-terminal", purpose=Purpose.TARGET_EXTRACTION.value)


def _raw_extract(lo: date, hi: date, as_of: date) -> tuple[float, int]:
    import numpy as np
    from django.conf import settings
    from django.db import connection

    t = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT atena_no, birth_date, sex FROM people_person WHERE municipality = %s AND status = 1 "
                    "AND birth_date BETWEEN %s AND %s ORDER BY atena_no", [settings.MUNICIPALITY_CODE, lo, hi])
        rows = cur.fetchall()
    birth = np.array([r[1] for r in rows], "datetime64[D]")
    n = int(((np.datetime64(as_of) - birth) >= 0).sum())
    return time.perf_counter() - t, n


def _raw_pdf(path: Path, pages: int) -> float:
    from yobo import printing

    t = time.perf_counter()
    c = printing.new_canvas(path, title="raw")
    f = printing.fonts()
    for i in range(pages):
        c.setFont(f.gothic, 11)
        c.drawString(72, 720, f"神奈川県横浜市中区本町1丁目 {i} 番地　横浜　太郎 様")
        c.showPage()
    c.save()
    return time.perf_counter() - t


def run(size: int | None = None) -> dict[str, object]:
    n = size or 1_000_000
    vouchers = int(os.environ.get("YOBO_BENCH_VOUCHERS", "30000"))
    _setup()
    from django.db import connection
    from django.utils import timezone

    from yobo.core.purposes import Purpose
    from yobo.notices import extraction, services
    from yobo.notices.models import ListKind, TargetEntry, TargetList

    today = date(2026, 11, 23)
    as_of = date(2027, 4, 1)
    t = time.perf_counter()
    _persons(n, today)
    load_s = time.perf_counter() - t
    ctx = _staff()

    extraction.birth_hull("MR2", as_of, ())  # rules compiled once per process, as in a server
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        s = extraction.extract_targets(ctx, "MR2", as_of, today=today)
        runs.append(time.perf_counter() - t)
    lo, hi = extraction.birth_hull("MR2", as_of, ())
    raw_s, raw_n = min(_raw_extract(lo, hi, as_of) for _ in range(3))
    extract_s = min(runs)

    # (b) a list of `vouchers` persons, then the batch
    from django.conf import settings

    atenas = [f"{100000000 + i}" for i in range(0, n, max(1, n // vouchers))][:vouchers]
    tl = TargetList.objects.create(municipality=settings.MUNICIPALITY_CODE, kind=ListKind.TARGETS, vaccine="MR2",
                                   as_of=as_of, created_by_id=ctx.staff_id, created_at=timezone.now(),
                                   terminal=ctx.terminal)
    TargetEntry.objects.bulk_create([TargetEntry(target_list=tl, atena_no=a, dose=1, status="due",
                                                 eligible_from=date(2027, 4, 1), eligible_until=date(2028, 3, 31),
                                                 age=5, area="中区") for a in atenas], batch_size=5000)
    out = Path(tempfile.mkdtemp(prefix="yobo-bench-pdf-"))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    r = services.issue_batch(ctx.for_purpose(Purpose.VOUCHER_ISSUANCE), tl.pk, out)
    batch_s = time.perf_counter() - t
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    raw_pdf_s = _raw_pdf(out / "raw.pdf", r.pages)
    return {
        "database": connection.vendor,
        "residents": n,
        "load_seconds": round(load_s, 1),
        "extract": {"vaccine": "MR2", "as_of": as_of.isoformat(), "targets": s.count, "cohort_rows": raw_n,
                    "seconds": round(extract_s, 3), "runs": [round(x, 3) for x in runs],
                    "raw_seconds": round(raw_s, 3), "ratio": round(extract_s / raw_s, 2) if raw_s else None,
                    "target_seconds": 2.0},
        "print_batch": {"vouchers": r.count, "pages": r.pages, "seconds": round(batch_s, 1),
                        "vouchers_per_second": round(r.count / batch_s, 1),
                        "pdf_mb": round(Path(r.pdf).stat().st_size / 1e6, 1),
                        "volumes": len(r.pdfs),
                        "peak_rss_growth_mb": round((rss1 - rss0) / 1024, 1),
                        "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
                        "raw_seconds": round(raw_pdf_s, 1), "ratio": round(batch_s / raw_pdf_s, 2),
                        "target_seconds": 120},
    }
