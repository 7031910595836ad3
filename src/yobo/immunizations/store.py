"""Bulk reads and writes behind services and selectors (internal: always called inside a door).

What validation needs is loaded in a few set-based queries per batch: the named persons' birth date,
sex and residence status (``people.selectors.bulk_facts``), their active doses, and the masters. New dose
rows are written by COPY on PostgreSQL and ``executemany`` on SQLite, in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection

from yobo.core import bulkload
from yobo.core.context import AccessContext

from .models import Clinic, Dose, DoseState, Lot, Product
from .validation import Ledger, Masters, Persons, ProductInfo, fingerprint

_ANALYZE_AFTER = 50_000  # doses inserted by one batch above which PostgreSQL statistics are refreshed
_IN_LISTS = 20_000  # above this many distinct persons, a staged join (or one scan) beats IN lists


def municipality() -> str:
    return settings.MUNICIPALITY_CODE


def pg() -> bool:
    return connection.vendor == "postgresql"


def _persons_with_doses(cur: Any) -> int:
    """How many persons have an active dose, counted along the partial unique index on
    (municipality, 宛名番号, vaccine, date) of active doses."""
    cur.execute(f"SELECT count(DISTINCT atena_no) FROM {Dose._meta.db_table} WHERE municipality = %s AND state = %s",
                [municipality(), DoseState.ACTIVE.value])
    return int(cur.fetchone()[0])


def load_persons(ctx: AccessContext, atenas: Iterable[str]) -> Persons:
    """Persons named by a batch: (宛名番号, id, birth, sex, status, status date), read through the
    register's bulk selector (its own access-log entry)."""
    from yobo.people.selectors import bulk_facts

    return Persons.from_rows(bulk_facts(ctx, atenas))


def load_ledger(atenas: Iterable[str], *, whole_city: bool | None = None) -> Ledger:
    """Active doses of the persons: keys for duplicates, and the doses given as the engine's history
    arrays, from one query (joined to the products for their schedule product).

    A short list goes in IN lists; a long one is staged in a temporary table and joined (time and
    memory follow the list, not the city's doses); ``whole_city`` (or a list naming at least half
    of the persons with doses) reads the city's doses once, streamed, keeping the wanted ones."""
    wanted = sorted(set(atenas))
    m = municipality()
    d, p = Dose._meta.db_table, Product._meta.db_table
    # Raw SQL: on a re-run this is a million rows, and the ORM's per-value converters cost more
    # than the query.
    cols = ("d.atena_no, d.vaccine, d.date, d.clinic_code, d.product_code, d.lot_number, d.screening_only, "
            "p.schedule_product")
    source = f"{d} d LEFT JOIN {p} p ON p.municipality = d.municipality AND p.code = d.product_code"
    with connection.cursor() as cur:
        long = len(wanted) > _IN_LISTS
        if whole_city is None and long:
            whole_city = 2 * len(wanted) >= _persons_with_doses(cur)
        raw = bulkload.rows_for_keys(
            cur, connection.vendor, select=cols, source=source, where="d.municipality = %s AND d.state = %s",
            params=[m, DoseState.ACTIVE.value], key="d.atena_no", keys=wanted,
            way="scan" if whole_city else "joined" if long else "in_lists", stage="imm_ledger_wanted",
        )
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


def load_masters(codes: tuple[Iterable[str], Iterable[str], Iterable[str]] | None = None) -> Masters:
    """The masters validation needs: all of them, or with ``codes`` (clinic codes, product codes, lot
    numbers) only the rows those codes name — a keyed form reads a few rows, not a city's thousands of
    clinics and lots. Validation only looks codes up, so both give the same answers for those codes."""
    m = municipality()
    out = Masters()
    clinics = Clinic.objects.filter(municipality=m)
    products = Product.objects.filter(municipality=m)
    lots = Lot.objects.filter(municipality=m)
    if codes is not None:
        c, p, lo = ({x for x in xs if x} for xs in codes)
        clinics = clinics.filter(code__in=c)
        products = products.filter(code__in=p)
        lots = lots.filter(lot_number__in={x.upper() for x in lo})  # stored upper-cased (save_masters)
    for code, f, u in clinics.values_list("code", "contracted_from", "contracted_until"):
        out.clinics[code] = (f, u)
    for code, vaccines, maker, sp in products.values_list("code", "vaccines", "manufacturer", "schedule_product"):
        out.products[code] = ProductInfo(frozenset(vaccines.split()), maker, sp)
    for prod, lot, exp in lots.values_list("product_code", "lot_number", "expiry"):
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
            if n > _ANALYZE_AFTER:
                # Fresh statistics after a large load, so the next batch's reads get index plans at
                # once (autovacuum would do it later; until then the planner takes the table for
                # empty and walks all of it). ANALYZE is transactional on PostgreSQL.
                cur.execute(f"ANALYZE {Dose._meta.db_table}")
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
