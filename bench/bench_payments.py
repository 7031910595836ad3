"""Clinic payments benchmark: building one claim month of ``size`` dose records (default 200,000,
spread over 300 clinics, ~2 % planted invalid doses) through ``fees.payments.build_claims`` (door,
one staging ``INSERT … SELECT`` with every exclusion check, claims, lines, totals), then a re-run of
the same month (drafts rebuilt), against a raw baseline in the same run: one plain ``SELECT`` of the
month's doses joined with the clinic master, the register and the unit prices (no checks, nothing
written).

Database: ``YOBO_DATABASE_URL`` (a PostgreSQL database is dropped and re-created: its name must
contain "bench"); unset: a fresh SQLite file under /tmp.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from typing import Any


def _load(n: int) -> Any:
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.bench_notices import _persons

    _persons(n, date(2026, 10, 1))
    m = settings.MUNICIPALITY_CODE
    rnd = random.Random(122)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cur:
        cur.executemany(
            "INSERT INTO imm_clinic (municipality, code, name, name_kana, postal_code, address, phone, "
            "medical_association, contracted_from, contracted_until, updated_at) VALUES "
            "(%s, %s, %s, '', '', '', '', '', %s, NULL, %s)",
            [(m, f"14{i:08d}", f"医院{i}", date(2020, 4, 1), now) for i in range(300)])
        cur.execute("SELECT id, atena_no FROM people_person ORDER BY id")
        persons = cur.fetchall()
        cols = ("municipality", "atena_no", "person_id", "vaccine", "dose_number", "date", "fiscal_year", "age_years",
                "age_months", "age_fy_end", "clinic_code", "venue", "doctor", "product_code", "manufacturer",
                "lot_number", "category", "screening_only", "reason_not_vaccinated", "findings", "reactions",
                "claim_month", "voucher_no", "source", "source_ref", "entered_on", "entered_by_id", "problems",
                "has_warnings", "state", "extra")
        sql = f"INSERT INTO imm_dose ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
        batch = []
        for i, (pid, atena) in enumerate(persons):
            bad = rnd.random() < 0.02
            problems = '[{"code": "too_soon", "severity": "warning", "message": "x"}]' if bad else "[]"
            batch.append((m, atena, pid, rnd.choice(("MR1", "HIB", "PCV", "DPT-IPV")), 1,
                          date(2026, 9, 1) + timedelta(days=i % 30), 2026, 1, 0, 1, f"14{rnd.randrange(300):08d}",
                          "", "", "", "", "", "routine", False, "", "", "", "202610", "", "keyed", "",
                          date(2026, 10, 5), 1, problems, bad, "active", "{}"))
            if len(batch) == 20_000:
                cur.executemany(sql, batch)
                batch = []
        if batch:
            cur.executemany(sql, batch)
        if connection.vendor == "postgresql":
            cur.execute("ANALYZE imm_dose")


def _ctx() -> Any:
    from yobo.access.models import Department, DutyRole, Staff
    from yobo.core.context import AccessContext
    from yobo.core.purposes import Duty, Purpose

    dept, _ = Department.objects.get_or_create(code="hoken", defaults={"name": "保健課"})
    role, _ = DutyRole.objects.get_or_create(code="payment", defaults={"name": "支払", "duties": [Duty.PAYMENT.value]})
    s = Staff.objects.create_user(username="bench-pay", password="x" * 16, department=dept)
    s.roles.add(role)
    return AccessContext(staff_id=s.pk, username=s.username, department="hoken",
                         duties=frozenset({Duty.PAYMENT.value}), terminal="bench-terminal",
                         purpose=Purpose.CLINIC_PAYMENT.value)


def _raw(month: str) -> tuple[float, int]:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT d.id, d.atena_no, d.vaccine, d.date, k.contracted_from, p.status, u.amount_yen FROM imm_dose d "
            "LEFT JOIN imm_clinic k ON k.municipality = d.municipality AND k.code = d.clinic_code "
            "LEFT JOIN people_person p ON p.municipality = d.municipality AND p.atena_no = d.atena_no "
            "LEFT JOIN fees_unit_price u ON u.municipality = d.municipality AND u.fiscal_year = d.fiscal_year "
            "AND u.vaccine = d.vaccine WHERE d.claim_month = %s AND d.state = 'active'", [month])
        n = len(cur.fetchall())
    return time.perf_counter() - t0, n


def run(size: int | None = None) -> dict[str, object]:
    from bench.bench_notices import _setup

    n = size or 200_000
    _setup()
    _load(n)
    from yobo.fees import payments

    ctx = _ctx()
    for v, yen in (("MR1", 11_000), ("HIB", 8_500), ("PCV", 10_200), ("DPT-IPV", 9_000)):
        payments.set_unit_price(ctx, 2026, v, yen)
    raw_s, rows = _raw("202610")
    t0 = time.perf_counter()
    s = payments.build_claims(ctx, "202610")
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    s2 = payments.build_claims(ctx, "202610")
    rerun_s = time.perf_counter() - t0
    assert s2.as_json() == s.as_json()  # noqa: S101
    from django.db import connection

    return {
        "database": connection.vendor, "doses": n, "raw_rows": rows, "claims": s.claims, "included": s.included,
        "excluded": s.excluded, "build_seconds": round(build_s, 3), "rerun_seconds": round(rerun_s, 3),
        "raw_select_seconds": round(raw_s, 3), "ratio_build_to_raw": round(build_s / raw_s, 2) if raw_s else None,
    }
