"""Bulk reads and writes behind services and selectors (internal: always called inside a door).

What validation needs is loaded in a few set-based queries per batch: the named persons' birth date,
sex and residence status (``people.selectors.bulk_facts``), their active doses, and the masters. New dose
rows are written by COPY on PostgreSQL and ``executemany`` on SQLite, in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection

from yobo.core.context import AccessContext

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


def load_persons(ctx: AccessContext, atenas: Iterable[str]) -> Persons:
    """Persons named by a batch: (宛名番号, id, birth, sex, status, status date), read through the
    register's bulk selector (its own access-log entry)."""
    from yobo.people.selectors import bulk_facts

    return Persons.from_rows(bulk_facts(ctx, atenas))


def load_ledger(atenas: Iterable[str], *, whole_city: bool | None = None) -> Ledger:
    """Active doses of the persons: keys for duplicates, and the doses given as the engine's history
    arrays, from one query (joined to the products for their schedule product)."""
    wanted = sorted(set(atenas))
    m = municipality()
    d, p = Dose._meta.db_table, Product._meta.db_table
    # Raw SQL: on a re-run this is a million rows, and the ORM's per-value converters cost more
    # than the query.
    sql = (
        f"SELECT d.atena_no, d.vaccine, d.date, d.clinic_code, d.product_code, d.lot_number, d.screening_only, "
        f"p.schedule_product FROM {d} d LEFT JOIN {p} p ON p.municipality = d.municipality AND p.code = d.product_code "
        f"WHERE d.municipality = %s AND d.state = %s"
    )
    big = whole_city if whole_city is not None else len(wanted) > _WHOLE_CITY
    raw: list[tuple[Any, ...]] = []
    with connection.cursor() as cur:
        if big:
            cur.execute(sql, [m, DoseState.ACTIVE.value])
            keep = set(wanted)
            raw = [r for r in cur.fetchall() if r[0] in keep]
        else:
            for part in _chunks(wanted):
                cur.execute(f"{sql} AND d.atena_no IN ({', '.join(['%s'] * len(part))})",
                            [m, DoseState.ACTIVE.value, *part])
                raw.extend(cur.fetchall())
    ledger = Ledger()
    if not raw:
        return ledger
    iso = isinstance(raw[0][2], str)  # SQLite returns dates as ISO text
    keys = ledger.keys
    h_atena: list[str] = []
    h_vaccine: list[str] = []
    h_day: list[int] = []
    h_prod: list[str | None] = []
    for a, v, day, clinic, prod, lot, screening, sp in raw:
        dt = date.fromisoformat(day) if iso else day
        keys[(a, v, dt)] = fingerprint(clinic, prod, lot, bool(screening))
        if not screening:
            h_atena.append(a)
            h_vaccine.append(v)
            h_day.append(dt.toordinal())
            h_prod.append(sp or None)
    ledger.given(h_atena, h_vaccine, h_day, h_prod)
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
        # The driver's own executemany over the stream (dates and decimals through the adapters
        # Django registers for sqlite3).
        sql = f"INSERT INTO {Dose._meta.db_table} ({cols}) VALUES ({', '.join(['?'] * len(DOSE_COLUMNS))})"
        raw_cur: Any = cur.cursor
        raw_cur.executemany(sql, rows)
        n = raw_cur.rowcount
    return n


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def today() -> date:
    from django.utils import timezone

    return timezone.localdate()
