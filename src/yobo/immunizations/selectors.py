"""Reads of dose records (接種履歴の参照), entry batches and masters.

Every read of personal data takes an ``AccessContext`` and runs inside the audit door; a person's
history is logged as a READ with the 宛名番号, a population read as one BATCH entry with counts.

- :func:`person_history` — one person's doses with each dose's validity per the schedule engine,
  and what is due now (the person page, the API).
- :func:`doses_of` — active doses of a set of persons, grouped by 宛名番号.
- :func:`population_rows` / :func:`population_history` — every active dose of the city (or of given
  vaccines), as plain tuples or as the engine's ``History`` arrays, for set-based extraction.
- :func:`claim_month_doses` — the active doses of a claim month (請求月), for the clinic-payment build.
- :func:`find_by_voucher`, :func:`get_dose`, :func:`corrections`, :func:`batch`, :func:`batches`.
- Masters (no personal data, no door): :func:`clinics`, :func:`clinic`, :func:`products`, :func:`lots`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation
from yobo.schedule import api as schedule_api
from yobo.schedule.engine import CODE_INDEX, PRODUCT_INDEX, History

from . import store
from .models import Category, Clinic, Dose, DoseCorrection, DoseState, EntryBatch, Lot, Product, SourceKind
from .validation import SCHEDULE_INVALID_CODES

Day = date  # DoseView has a field named "date"
RESOURCE = "immunizations.dose"
BATCH_RESOURCE = "immunizations.batch"

DOSE_FIELDS = (
    "id", "atena_no", "vaccine", "dose_number", "date", "fiscal_year", "age_years", "age_months", "age_fy_end",
    "clinic_code", "venue", "doctor", "product_code", "manufacturer", "lot_number", "amount_ml", "category",
    "screening_only", "reason_not_vaccinated", "findings", "reactions", "claim_month", "voucher_no",
    "registered_at", "source", "source_ref", "entered_on", "batch_id", "problems", "state", "replaced_by_id",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DoseView:
    """One dose record as staff and other apps see it (接種記録)."""

    id: int
    atena_no: str
    vaccine: str
    dose_number: int | None
    date: Day
    fiscal_year: int
    age_years: int
    age_months: int
    age_fy_end: int
    clinic_code: str
    venue: str
    doctor: str
    product_code: str
    manufacturer: str
    lot_number: str
    amount_ml: Decimal | None
    category: str
    screening_only: bool
    reason_not_vaccinated: str
    findings: str
    reactions: str
    claim_month: str
    voucher_no: str
    registered_at: datetime | None
    source: str
    source_ref: str
    entered_on: Day
    batch_id: int | None
    problems: list[dict[str, str]]
    state: str
    replaced_by_id: int | None

    @property
    def category_label(self) -> str:
        return Category(self.category).label

    @property
    def source_label(self) -> str:
        return SourceKind(self.source).label

    @property
    def active(self) -> bool:
        return self.state == DoseState.ACTIVE


@dataclass(frozen=True, slots=True)
class CountedDose:
    """A dose with how the schedule counts it today (有効・無効と理由)."""

    dose: DoseView
    valid: bool | None  # None: not judged (予診のみ, or a vaccine outside the schedule)
    counted_as: int | None  # the dose number the engine counts it as
    reason: str  # valid / too_young / too_soon / too_old / extra (engine wording)
    message: str  # Japanese / English


@dataclass(frozen=True, slots=True)
class PersonHistory:
    """A person's vaccination history (接種履歴) and state per series on ``as_of`` (what is due now)."""

    atena_no: str
    as_of: date
    doses: list[CountedDose]
    series: list[schedule_api.SeriesStatus] = field(default_factory=list)

    @property
    def due(self) -> list[schedule_api.SeriesStatus]:
        return [s for s in self.series if s.status == "due"]


def _view(row: dict[str, Any]) -> DoseView:
    return DoseView(**{f: row[f] for f in DOSE_FIELDS})


def _person_facts(ctx: AccessContext, atena_no: str) -> tuple[date, int] | None:
    p = store.load_persons(ctx, [atena_no])
    i = p.index.get(atena_no)
    if i is None:
        return None
    return p.birth[i].astype("datetime64[D]").item(), int(p.sex[i])


def _product_map() -> dict[str, str]:
    return dict(Product.objects.filter(municipality=store.municipality()).values_list("code", "schedule_product"))


def person_history(ctx: AccessContext, atena_no: str, *, as_of: date | None = None,
                   include_inactive: bool = False) -> PersonHistory:
    """One person's doses (newest first) with validity per the schedule, and each series' state on
    ``as_of`` (default today). ``include_inactive`` adds superseded and voided records (not judged)."""
    a = str(atena_no).strip()
    on = as_of or store.today()
    with door(ctx, Operation.READ, resource=RESOURCE, target=a):
        facts = _person_facts(ctx, a)
        if facts is None:
            from yobo.people.selectors import PersonNotFound

            raise PersonNotFound(a)
        qs = Dose.objects.filter(municipality=store.municipality(), atena_no=a)
        if not include_inactive:
            qs = qs.filter(state=DoseState.ACTIVE)
        views = [_view(r) for r in qs.order_by("date", "id").values(*DOSE_FIELDS)]
        pmap = _product_map()
    birth, sex = facts
    judged = [v for v in views if v.active and not v.screening_only and v.vaccine in CODE_INDEX and v.date <= on
              and v.date >= birth]
    records = [schedule_api.DoseRecord(v.vaccine, v.date, _sched_product(v, pmap)) for v in judged]
    series = schedule_api.evaluate(birth, sex, on, records) if on >= birth else []
    verdict: dict[int, tuple[bool, int | None, str, str]] = {}
    for s in series:
        for chk in s.checks:
            if chk.series != chk.vaccine:
                continue
            for v in judged:
                if v.vaccine == chk.vaccine and v.date == chk.date and v.id not in verdict:
                    verdict[v.id] = (chk.valid, chk.dose, _REASON_CODES.get(chk.reason, chk.reason), chk.message)
                    break
    out = []
    for v in reversed(views):
        if v.id in verdict:
            ok, n, reason, msg = verdict[v.id]
            out.append(CountedDose(v, ok, n, reason, msg))
        else:
            out.append(CountedDose(v, None, None, "", ""))
    return PersonHistory(a, on, out, series)


def _reason_codes() -> dict[str, str]:
    from yobo.schedule.engine import EXTRA, REASONS, TOO_OLD, TOO_SOON, TOO_YOUNG, VALID

    names = {VALID: "valid", TOO_YOUNG: "too_young", TOO_SOON: "too_soon", TOO_OLD: "too_old", EXTRA: "extra_dose"}
    # schedule.api words a reason by its English text; the codes here are validation's (README.md).
    return {("valid" if k == VALID else en.split(";")[0].replace(" ", "_")): names[k] for k, (_, en) in REASONS.items()}


_REASON_CODES = _reason_codes()


def _sched_product(v: DoseView, pmap: dict[str, str]) -> str | None:
    from yobo.schedule.engine import load_series

    sp = pmap.get(v.product_code) or ""
    series = load_series().get(v.vaccine)
    return sp if sp and series is not None and sp in series.products else None


def doses_of(ctx: AccessContext, atena_nos: Iterable[str], *, vaccines: Sequence[str] | None = None
             ) -> dict[str, list[DoseView]]:
    """Active doses of the given persons, in date order, keyed by 宛名番号 (one log entry per person)."""
    wanted = sorted({str(a).strip() for a in atena_nos})
    out: dict[str, list[DoseView]] = {a: [] for a in wanted}
    with door(ctx, Operation.READ, resource=RESOURCE) as rec:
        qs = Dose.objects.filter(municipality=store.municipality(), state=DoseState.ACTIVE)
        if vaccines:
            qs = qs.filter(vaccine__in=list(vaccines))
        for k in range(0, len(wanted), 900):
            for r in qs.filter(atena_no__in=wanted[k : k + 900]).order_by("atena_no", "date", "id").values(
                *DOSE_FIELDS
            ):
                out[r["atena_no"]].append(_view(r))
        rec.targets = wanted or [""]
    return out


def bulk_history(ctx: AccessContext, atena_nos: Iterable[str], *, codes: Sequence[str] | None = None
                 ) -> Iterator[tuple[str, str, date, str | None]]:
    """Active doses (not 予診のみ) of the given persons as (宛名番号, vaccine, date, schedule product
    or None): the rows ``schedule.engine.History.from_records`` takes once 宛名番号 is mapped to the
    population index. Reads in chunks (or one scan of the city for large sets); one BATCH log entry."""
    wanted = sorted({str(a).strip() for a in atena_nos})
    with door(ctx, Operation.BATCH, resource=RESOURCE) as rec:
        pmap = _product_map()
        series = _series_products()
        qs = Dose.objects.filter(municipality=store.municipality(), state=DoseState.ACTIVE, screening_only=False)
        if codes:
            qs = qs.filter(vaccine__in=list(codes))
        cols = ("atena_no", "vaccine", "date", "product_code")
        out: list[tuple[str, str, date, str | None]] = []
        if len(wanted) > 20_000:
            keep = set(wanted)
            it: Iterable[tuple[Any, ...]] = (r for r in qs.values_list(*cols).iterator(chunk_size=20_000)
                                             if r[0] in keep)
        else:
            it = (r for k in range(0, len(wanted), 900) for r in qs.filter(atena_no__in=wanted[k : k + 900])
                  .values_list(*cols))
        for a, v, d, p in it:
            sp = pmap.get(p) or None
            out.append((a, v, d, sp if sp and sp in series.get(v, ()) else None))
        rec.detail = f"bulk history persons={len(wanted)} rows={len(out)}"
    return iter(out)


def _series_products() -> dict[str, frozenset[str]]:
    from yobo.schedule.engine import load_series

    return {c: frozenset(s.products) for c, s in load_series().items()}


def population_rows(ctx: AccessContext, *, vaccines: Sequence[str] | None = None,
                    screening: bool = False) -> Iterator[tuple[str, int, str, int | None, date, str]]:
    """Every active dose of the city as (宛名番号, person id, vaccine, dose number, date, schedule
    product or ""), streamed in (person id, date) order: the input of set-based extraction. One BATCH
    log entry (the extraction's own record lists who was selected). ``screening``: include 予診のみ."""
    pmap = None
    with door(ctx, Operation.BATCH, resource=RESOURCE, detail="population history") as rec:
        pmap = _product_map()
        qs = Dose.objects.filter(municipality=store.municipality(), state=DoseState.ACTIVE)
        if vaccines:
            qs = qs.filter(vaccine__in=list(vaccines))
        if not screening:
            qs = qs.filter(screening_only=False)
        rows = qs.order_by("person_id", "date", "id").values_list(
            "atena_no", "person_id", "vaccine", "dose_number", "date", "product_code"
        )
        buf = [(a, pid, v, n, d, pmap.get(p) or "") for a, pid, v, n, d, p in rows.iterator(chunk_size=20_000)]
        rec.detail = f"population history rows={len(buf)}"
    return iter(buf)


def population_history(ctx: AccessContext, person_index: dict[str, int], *,
                       vaccines: Sequence[str] | None = None) -> History:
    """Active doses of the persons in ``person_index`` (宛名番号 -> row of the caller's population
    arrays) as the schedule engine's ``History``: feed it to ``Engine.evaluate_population`` with the
    same population's birth and sex arrays. Doses of persons outside the index are left out."""
    from yobo.schedule.engine import load_series

    series = load_series()
    person: list[int] = []
    code: list[int] = []
    day: list[date] = []
    prod: list[int] = []
    for a, _pid, v, _n, d, sp in population_rows(ctx, vaccines=vaccines):
        i = person_index.get(a)
        if i is None or v not in CODE_INDEX:
            continue
        person.append(i)
        code.append(CODE_INDEX[v])
        day.append(d)
        s = series[v]
        prod.append(PRODUCT_INDEX[sp] if sp and sp in s.products else -1)
    if not person:
        return History.empty()
    return History(np.array(person, np.int64), np.array(code, np.int16), np.array(day, "datetime64[D]"),
                   np.array(prod, np.int16))


@dataclass(frozen=True, slots=True)
class ClaimDose:
    """An active dose record of a claim month (請求月), as the clinic-payment build needs it."""

    dose_id: int
    atena_no: str
    vaccine: str
    date: Day
    dose_number: int | None
    clinic_code: str
    screening_only: bool
    voluntary: bool  # 任意接種
    fiscal_year: int
    schedule_invalid: bool  # saved with a warning that keeps it from counting (SCHEDULE_INVALID_CODES)
    repeated: bool  # an earlier active record of the same person, vaccine and dose number exists


def claim_month_doses(ctx: AccessContext, claim_month: str) -> list[ClaimDose]:
    """Every active dose record of ``claim_month`` (YYYYMM) with the two facts only this app can judge:
    whether the schedule did not count it, and whether an earlier record of the same dose exists
    (重複: same person, vaccine and dose number, 予診のみ left out). One SQL pass; one BATCH entry."""
    invalid = " OR ".join(f"CAST(d.problems AS TEXT) LIKE '%%\"code\": \"{c}\"%%'"
                          for c in SCHEDULE_INVALID_CODES)
    table = Dose._meta.db_table
    sql = f"""
        SELECT d.id, d.atena_no, d.vaccine, d.date, d.dose_number, d.clinic_code, d.screening_only,
               d.category = %s, d.fiscal_year, ({invalid}),
               (NOT d.screening_only AND d.dose_number IS NOT NULL AND EXISTS (
                  SELECT 1 FROM {table} d2 WHERE d2.municipality = d.municipality AND d2.atena_no = d.atena_no
                  AND d2.vaccine = d.vaccine AND d2.state = %s AND NOT d2.screening_only
                  AND d2.dose_number = d.dose_number AND (d2.date < d.date OR (d2.date = d.date AND d2.id < d.id))))
        FROM {table} d WHERE d.municipality = %s AND d.claim_month = %s AND d.state = %s ORDER BY d.id"""
    with door(ctx, Operation.BATCH, resource=RESOURCE, detail=f"claim month {claim_month}") as rec, \
            connection.cursor() as cur:
        cur.execute(sql, [Category.VOLUNTARY.value, DoseState.ACTIVE.value, store.municipality(), claim_month,
                          DoseState.ACTIVE.value])
        raw = cur.fetchall()
        rec.detail = f"claim month {claim_month} doses={len(raw)}"
    iso = date.fromisoformat
    # SQLite hands back dates as ISO text and booleans as 0/1.
    return [ClaimDose(int(i), a, v, iso(d) if isinstance(d, str) else d, n, c, bool(so), bool(vo), int(fy),
                      bool(inv), bool(rep)) for i, a, v, d, n, c, so, vo, fy, inv, rep in raw]


def get_dose(ctx: AccessContext, dose_id: int) -> DoseView:
    """One record by id (any state)."""
    with door(ctx, Operation.READ, resource=RESOURCE, target=str(dose_id)) as rec:
        row = Dose.objects.filter(pk=dose_id, municipality=store.municipality()).values(*DOSE_FIELDS).first()
        if row is not None:
            rec.targets = [row["atena_no"]]
    if row is None:
        raise InputRejected(f"接種記録 {dose_id} はありません / no such dose record")
    return _view(row)


def find_by_voucher(ctx: AccessContext, voucher_no: str) -> list[DoseView]:
    """Active records carrying a voucher number (券番号)."""
    v = str(voucher_no).strip()
    with door(ctx, Operation.SEARCH, resource=RESOURCE) as rec:
        rows = list(Dose.objects.filter(municipality=store.municipality(), voucher_no=v, state=DoseState.ACTIVE)
                    .order_by("date", "id").values(*DOSE_FIELDS))
        rec.targets = sorted({r["atena_no"] for r in rows}) or [""]
        rec.detail = f"voucher hits={len(rows)}"
    return [_view(r) for r in rows]


@dataclass(frozen=True, slots=True)
class CorrectionView:
    id: int
    kind: str
    old_id: int
    new_id: int | None
    reason: str
    before: dict[str, Any]
    after: dict[str, Any]
    changed_by: str
    changed_at: datetime


def corrections(ctx: AccessContext, atena_no: str) -> list[CorrectionView]:
    """A person's corrections and cancellations (訂正・取消の履歴), newest first."""
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=RESOURCE, target=a):
        rows = list(DoseCorrection.objects.filter(municipality=store.municipality(), atena_no=a)
                    .select_related("changed_by").order_by("-changed_at", "-id"))
    return [CorrectionView(c.pk, c.kind, c.old_id, c.new_id, c.reason, c.before, c.after, c.changed_by.username,
                           c.changed_at) for c in rows]


@dataclass(frozen=True, slots=True)
class BatchView:
    """An entry batch (束) or import run: counts only."""

    id: int
    kind: str
    state: str
    label: str
    clinic_code: str
    claim_month: str
    declared_count: int | None
    source: str
    file_name: str
    operator: str
    terminal: str
    opened_at: datetime
    closed_at: datetime | None
    saved: int
    with_warnings: int
    rejected: int
    unchanged: int
    summary: dict[str, Any]


def _batch_view(b: EntryBatch) -> BatchView:
    return BatchView(b.pk, b.kind, b.state, b.label, b.clinic_code, b.claim_month, b.declared_count, b.source,
                     b.file_name, b.opened_by.username, b.terminal, b.opened_at, b.closed_at, b.saved,
                     b.with_warnings, b.rejected, b.unchanged, b.summary)


def batch(ctx: AccessContext, batch_id: int) -> BatchView:
    with door(ctx, Operation.READ, resource=BATCH_RESOURCE, target=str(batch_id)):
        b = EntryBatch.objects.select_related("opened_by").filter(pk=batch_id,
                                                                  municipality=store.municipality()).first()
    if b is None:
        raise InputRejected(f"束 {batch_id} はありません / no such batch")
    return _batch_view(b)


def batches(ctx: AccessContext, *, limit: int = 50, mine: bool = False, kind: str | None = None
            ) -> list[BatchView]:
    """Latest batches (newest first); ``mine``: only those the acting staff member opened."""
    with door(ctx, Operation.READ, resource=BATCH_RESOURCE):
        qs = EntryBatch.objects.select_related("opened_by").filter(municipality=store.municipality())
        if mine:
            qs = qs.filter(opened_by_id=ctx.staff_id)
        if kind:
            qs = qs.filter(kind=kind)
        rows = list(qs.order_by("-opened_at", "-id")[:limit])
    return [_batch_view(b) for b in rows]


def batch_doses(ctx: AccessContext, batch_id: int) -> list[DoseView]:
    """The records saved in one batch (e.g. the 束 being keyed), in entry order."""
    with door(ctx, Operation.READ, resource=RESOURCE, target=f"batch:{batch_id}") as rec:
        rows = list(Dose.objects.filter(municipality=store.municipality(), batch_id=batch_id)
                    .order_by("id").values(*DOSE_FIELDS))
        rec.targets = sorted({r["atena_no"] for r in rows}) or [f"batch:{batch_id}"]
    return [_view(r) for r in rows]


# --- masters (no personal data) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClinicView:
    code: str
    name: str
    name_kana: str
    address: str
    phone: str
    medical_association: str
    contracted_from: date | None
    contracted_until: date | None

    def contracted_on(self, d: date) -> bool:
        return (self.contracted_from is None or d >= self.contracted_from) and (
            self.contracted_until is None or d <= self.contracted_until
        )


@dataclass(frozen=True, slots=True)
class ProductView:
    code: str
    name: str
    vaccines: tuple[str, ...]
    manufacturer: str
    schedule_product: str
    standard_amount_ml: Decimal | None


@dataclass(frozen=True, slots=True)
class LotView:
    product_code: str
    lot_number: str
    expiry: date | None


_CLINIC_FIELDS = ("code", "name", "name_kana", "address", "phone", "medical_association", "contracted_from",
                  "contracted_until")


def clinics(*, on: date | None = None) -> list[ClinicView]:
    """The clinic master (実施医療機関), by code; ``on``: only those contracted on that date."""
    rows = [ClinicView(*r) for r in Clinic.objects.filter(municipality=store.municipality()).order_by("code")
            .values_list(*_CLINIC_FIELDS)]
    return [c for c in rows if on is None or c.contracted_on(on)]


def clinic(code: str) -> ClinicView | None:
    r = Clinic.objects.filter(municipality=store.municipality(), code=code.strip()).values_list(
        *_CLINIC_FIELDS).first()
    return ClinicView(*r) if r else None


def products(vaccine: str | None = None) -> list[ProductView]:
    """The product master; ``vaccine``: only products serving that code."""
    out = [
        ProductView(c, n, tuple(v.split()), mk, sp, amt)
        for c, n, v, mk, sp, amt in Product.objects.filter(municipality=store.municipality(), active=True)
        .order_by("code").values_list("code", "name", "vaccines", "manufacturer", "schedule_product",
                                      "standard_amount_ml")
    ]
    return [p for p in out if vaccine is None or vaccine in p.vaccines]


def lots(product_code: str | None = None) -> list[LotView]:
    qs = Lot.objects.filter(municipality=store.municipality())
    if product_code:
        qs = qs.filter(product_code=product_code)
    return [LotView(*r) for r in qs.order_by("product_code", "lot_number").values_list(
        "product_code", "lot_number", "expiry")]
