"""Bulk reads and writes behind services and selectors (internal: always called inside a door).

What validation needs is loaded in a few set-based queries per batch: the named persons' birth date,
sex and residence status (read from the resident register's table, the columns validation needs and
nothing else: see docs/decisions/060-dose-records.md), their active doses, and the masters. New dose
rows are written by COPY on PostgreSQL and ``executemany`` on SQLite, in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection

from .models import Clinic, Dose, DoseState, Lot, Product
from .validation import Ledger, Masters, Persons, ProductInfo, fingerprint

_CHUNK = 900  # IN-list size kept under SQLite's default variable limit
_WHOLE_CITY = 20_000  # above this many distinct persons, one scan of the city beats IN lists


def municipality() -> str:
    return settings.MUNICIPALITY_CODE


def pg() -> bool:
    return connection.vendor == "postgresql"


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for k in range(0, len(items), size):
        yield items[k : k + size]


def load_persons(atenas: Iterable[str]) -> Persons:
    """Persons named by a batch: (宛名番号, id, birth, sex, status, status date) in bulk."""
    from yobo.people.models import Person  # the register's table, read-only here

    wanted = sorted(set(atenas))
    m = municipality()
    cols = ("atena_no", "id", "birth_date", "sex", "status", "status_date")
    qs = Person.objects.filter(municipality=m)
    rows: list[tuple[Any, ...]] = []
    if len(wanted) > _WHOLE_CITY:
        keep = set(wanted)
        rows = [r for r in qs.values_list(*cols).iterator(chunk_size=20_000) if r[0] in keep]
    else:
        for part in _chunks(wanted):
            rows.extend(qs.filter(atena_no__in=list(part)).values_list(*cols))
    return Persons.from_rows(rows)


def load_ledger(atenas: Iterable[str], *, whole_city: bool | None = None) -> Ledger:
    """Active doses of the persons (keys for duplicates, rows for the schedule)."""
    wanted = sorted(set(atenas))
    m = municipality()
    ledger = Ledger()
    products = {c: sp for c, sp in Product.objects.filter(municipality=m).values_list("code", "schedule_product")}
    cols = ("atena_no", "vaccine", "date", "clinic_code", "product_code", "lot_number", "screening_only")
    qs = Dose.objects.filter(municipality=m, state=DoseState.ACTIVE)
    big = whole_city if whole_city is not None else len(wanted) > _WHOLE_CITY
    if big:
        keep = set(wanted)
        it: Iterable[tuple[Any, ...]] = (r for r in qs.values_list(*cols).iterator(chunk_size=20_000) if r[0] in keep)
    else:
        it = (r for part in _chunks(wanted) for r in qs.filter(atena_no__in=list(part)).values_list(*cols))
    for a, v, d, clinic, prod, lot, screening in it:
        ledger.keys[(a, v, d)] = fingerprint(clinic, prod, lot, screening)
        if not screening:
            ledger.rows.append((a, v, d, products.get(prod) or None))
    return ledger


def load_masters() -> Masters:
    m = municipality()
    out = Masters()
    for code, f, u in Clinic.objects.filter(municipality=m).values_list("code", "contracted_from", "contracted_until"):
        out.clinics[code] = (f, u)
    for code, vaccines, maker, sp in Product.objects.filter(municipality=m).values_list(
        "code", "vaccines", "manufacturer", "schedule_product"
    ):
        out.products[code] = ProductInfo(frozenset(vaccines.split()), maker, sp)
    for prod, lot, exp in Lot.objects.filter(municipality=m).values_list("product_code", "lot_number", "expiry"):
        out.lots.setdefault(lot.upper(), []).append((prod, exp))
    return out


DOSE_COLUMNS = (
    "municipality", "atena_no", "person_id", "vaccine", "dose_number", "date", "fiscal_year", "age_years",
    "age_months", "age_fy_end", "clinic_code", "venue", "doctor", "product_code", "manufacturer", "lot_number",
    "amount_ml", "category", "screening_only", "reason_not_vaccinated", "findings", "reactions", "claim_month",
    "voucher_no", "registered_at", "source", "source_ref", "entered_on", "entered_by_id", "batch_id", "problems",
    "has_warnings", "state", "replaced_by_id", "extra",
)  # fmt: skip


def insert_doses(rows: Iterable[tuple[Any, ...]]) -> int:
    """Insert dose rows (values in :data:`DOSE_COLUMNS` order; JSON columns as text). Returns the count."""
    n = 0
    cols = ", ".join(DOSE_COLUMNS)
    with connection.cursor() as cur:
        if pg():
            raw: Any = cur.cursor
            with raw.copy(f"COPY {Dose._meta.db_table} ({cols}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
                    n += 1
            return n
        # The driver's own executemany: dates as ISO text, as Django's adapter would write them.
        sql = f"INSERT INTO {Dose._meta.db_table} ({cols}) VALUES ({', '.join(['?'] * len(DOSE_COLUMNS))})"
        di, ei = DOSE_COLUMNS.index("date"), DOSE_COLUMNS.index("entered_on")
        raw_cur: Any = cur.cursor
        buf: list[tuple[Any, ...]] = []
        for r in rows:
            row = list(r)
            row[di] = row[di].isoformat()
            row[ei] = row[ei].isoformat()
            buf.append(tuple(row))
            if len(buf) >= 5000:
                raw_cur.executemany(sql, buf)
                n += len(buf)
                buf = []
        if buf:
            raw_cur.executemany(sql, buf)
            n += len(buf)
    return n


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def today() -> date:
    from django.utils import timezone

    return timezone.localdate()
