"""Writes of dose records (接種記録の登録・訂正・取消), entry batches (束) and masters.

Every function takes an ``AccessContext`` and runs inside the audit door, so the change and its
access-log entry commit together. Validation (``validation.py``) runs on every path: a blocking
problem means not saved, a warning is saved with the record.

- :func:`record_dose` — one keyed form (予診票), purpose V01 (DOSE_ENTRY), one CREATE entry.
- :func:`record_batch` — many inputs (a file), set-based and atomic: all or nothing unless
  ``skip_invalid``; one BATCH entry (V02) with the counts. Re-running the same input is harmless
  (already recorded rows are ``unchanged``).
- :func:`correct_dose` / :func:`void_dose` — a correction supersedes the old record with a new one,
  a cancellation voids it; both keep before/after in ``DoseCorrection``. Nothing is hard-deleted.
- :func:`open_batch` / :func:`close_batch` — the 束 of forms one staff member keys, with counts.
- :func:`save_clinic`, :func:`save_product`, :func:`save_lot`, :func:`load_demo_masters` — masters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from django.db import IntegrityError, connection
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.problems import ERROR, Problem
from yobo.core.purposes import Operation, Purpose

from . import gcpause, store, validation
from .inputs import DoseInput, Source
from .masterdata import ClinicData, LotData, ProductData
from .models import (
    BatchKind,
    BatchState,
    Clinic,
    CorrectionKind,
    Dose,
    DoseCorrection,
    DoseState,
    EntryBatch,
    Lot,
    Product,
)
from .validation import NEW, REJECTED, UNCHANGED, DoseProblem

RESOURCE = "immunizations.dose"
BATCH_RESOURCE = "immunizations.batch"
MASTER_RESOURCE = "immunizations.master"
MASTERS_BY_CODE_MAX = 500  # inputs up to this many read only the masters they name


class DoseRejected(InputRejected):
    """The input has blocking problems (nothing was saved). ``problems`` lists them all (with
    warnings); ``file_problems`` are the same as ``core.problems.Problem`` with file/row/column."""

    def __init__(self, message: str, problems: list[DoseProblem] | None = None,
                 file_problems: list[Problem] | None = None, result: BatchResult | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []
        self.file_problems = file_problems or []
        self.result = result


class DoseNotFound(InputRejected):
    def __init__(self, dose_id: int) -> None:
        super().__init__(f"接種記録 {dose_id} はありません（取消・訂正済みを含む） / no such dose record")


@dataclass(frozen=True, slots=True)
class SaveResult:
    """The outcome of one keyed form: the new record's id (None when already on record) and the
    warnings it was saved with."""

    dose_id: int | None
    unchanged: bool
    warnings: list[DoseProblem]
    dose_number: int | None


@dataclass
class BatchResult:
    """Counts of a batch and its problems (``Problem`` with file/row/column where inputs had a ``ref``)."""

    batch_id: int | None
    read: int = 0
    inserted: int = 0
    unchanged: int = 0
    rejected: int = 0
    with_warnings: int = 0
    applied: bool = False
    codes: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    rejected_rows: list[int] = field(default_factory=list)  # input positions (0-based) refused

    def as_json(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "read": self.read, "inserted": self.inserted,
                "unchanged": self.unchanged, "rejected": self.rejected, "with_warnings": self.with_warnings,
                "applied": self.applied, "problems_by_code": self.codes}


# --- refs: where an input came from, for file problems -------------------------------------------------


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``"file.csv:12"`` -> ("file.csv", 12); anything else -> (ref, None)."""
    head, sep, tail = ref.rpartition(":")
    if sep and tail.isdigit():
        return head, int(tail)
    return ref, None


def file_problem(inp: DoseInput, p: DoseProblem, column_of: dict[str, str] | None = None) -> Problem:
    """A dose problem as a ``core.problems.Problem`` (file, row, column) for import reports."""
    file, row = parse_ref(inp.ref)
    col = (column_of or {}).get(p.field or "", p.field)
    return Problem(file or "(入力)", row, col, f"[{p.code}] {p.message}", p.severity)


# --- rows ------------------------------------------------------------------------------------------


def _rows(inputs: Sequence[DoseInput], c: validation.Checked, idx: Iterable[int], ctx: AccessContext,
          batch_id: int | None, today: date) -> Iterable[tuple[Any, ...]]:
    m = store.municipality()
    pg = store.pg()
    ops = connection.ops
    active = DoseState.ACTIVE.value
    staff = ctx.staff_id
    # Column arrays as Python lists once (numpy scalars are slow to convert one by one); repeated
    # small values (enums, codes) converted once each.
    person, number = c.person_id.tolist(), c.dose_number.tolist()
    fy, ay, am, afy = c.fiscal_year.tolist(), c.age_years.tolist(), c.age_months.tolist(), c.age_fy_end.tolist()
    problems, amount = c.problems, c.amount
    text: dict[Any, str] = {}
    codes: dict[str, str] = {}
    dumps = store.dumps
    for i in idx:
        x = inputs[i]
        ps = problems.get(i)
        reg: Any = x.registered_at
        if reg is not None:
            if timezone.is_naive(reg):
                reg = timezone.make_aware(reg)
            if not pg:
                reg = ops.adapt_datetimefield_value(reg)
        v = codes.get(x.vaccine)
        if v is None:
            v = codes[x.vaccine] = x.vaccine.strip().upper()
        cat = text.get(x.category)
        if cat is None:
            cat = text[x.category] = str(x.category)
        src = text.get(x.source)
        if src is None:
            src = text[x.source] = str(x.source)
        yield (
            m, x.atena_no, person[i], v, number[i] or None, x.date, fy[i], ay[i], am[i],
            afy[i], x.clinic_code, x.venue[:200], x.doctor[:100], x.product_code, x.manufacturer[:100],
            x.lot_number[:30], amount[i], cat, x.screening_only,
            x.reason_not_vaccinated[:200], x.findings[:500], x.reactions[:500], x.claim_month, x.voucher_no, reg,
            src, x.ref[:200], today, staff, batch_id,
            dumps([p.as_dict() for p in ps]) if ps else "[]", bool(ps), active, None,
            dumps(x.extra) if x.extra else "{}",
        )


def _check(ctx: AccessContext, inputs: Sequence[DoseInput]) -> tuple[validation.Checked, date]:
    today = store.today()
    atenas = [x.atena_no for x in inputs]
    persons = store.load_persons(ctx, atenas)
    ledger = store.load_ledger(atenas)
    # a form or a small batch reads only the masters it names; a file reads them all at once
    named = None if len(inputs) > MASTERS_BY_CODE_MAX else (
        [x.clinic_code for x in inputs], [x.product_code for x in inputs], [x.lot_number for x in inputs])
    masters = store.load_masters(named)
    return validation.validate(inputs, persons, ledger, masters, today), today


def check_inputs(ctx: AccessContext, inputs: Sequence[DoseInput]) -> validation.Checked:
    """Validate without saving (the entry screen's immediate check). Logged as a READ of the persons."""
    with door(ctx, Operation.READ, resource=RESOURCE) as rec:
        c, _ = _check(ctx, inputs)
        rec.targets = sorted({x.atena_no for x in inputs}) or [""]
        rec.detail = "validate"
    return c


# --- one keyed form ------------------------------------------------------------------------------------


def record_dose(ctx: AccessContext, inp: DoseInput, *, batch_id: int | None = None) -> SaveResult:
    """Validate and save one dose (予診票の1件). Raises ``DoseRejected`` on a blocking problem."""
    with door(ctx, Operation.CREATE, resource=RESOURCE, target=inp.atena_no) as rec:
        if batch_id is not None:
            _open_batch(batch_id, ctx)
        c, today = _check(ctx, [inp])
        ps = c.problems.get(0, [])
        outcome = int(c.outcome[0])
        if outcome == REJECTED:
            raise DoseRejected(_summary(ps), ps)
        if outcome == UNCHANGED:
            rec.detail = "unchanged"
            return SaveResult(None, True, ps, int(c.dose_number[0]) or None)
        with connection.cursor():
            store.insert_doses(_rows([inp], c, [0], ctx, batch_id, today))
        dose_id = (
            Dose.objects.filter(municipality=store.municipality(), atena_no=inp.atena_no,
                                vaccine=inp.vaccine.strip().upper(), date=inp.date, state=DoseState.ACTIVE)
            .values_list("id", flat=True).first()
        )
        if batch_id is not None:
            EntryBatch.objects.filter(pk=batch_id).update(
                saved=_plus("saved"), with_warnings=_plus("with_warnings", 1 if ps else 0)
            )
        rec.detail = f"dose {dose_id}" + (f" warnings={','.join(p.code for p in ps)}" if ps else "")
    return SaveResult(dose_id, False, ps, int(c.dose_number[0]) or None)


def _plus(name: str, k: int = 1) -> Any:
    from django.db.models import F

    return F(name) + k


def _summary(ps: list[DoseProblem]) -> str:
    errs = [p for p in ps if p.blocking]
    return "登録できません / not saved: " + "; ".join(f"[{p.code}] {p.message}" for p in errs)


# --- a batch (file) -----------------------------------------------------------------------------------


def record_batch(
    ctx: AccessContext,
    inputs: Sequence[DoseInput],
    *,
    file_name: str = "",
    file_sha256: str = "",
    skip_invalid: bool = False,
    check_only: bool = False,
    column_of: dict[str, str] | None = None,
    source: Source | None = None,
) -> BatchResult:
    """Validate and save many inputs at once, atomically.

    Default: any blocking problem refuses the whole input (``DoseRejected`` carrying the result with
    every problem; nothing saved). ``skip_invalid``: the valid rows are saved and the refused ones
    listed. ``check_only``: validate and report, save nothing. ``column_of`` maps ``DoseInput`` field
    names to the file's column names for the problem reports. Purpose V02 (or V01/V03), one log entry."""
    op = Operation.CREATE if ctx.purpose == Purpose.DOSE_ENTRY else Operation.BATCH
    src = source or (inputs[0].source if inputs else Source.CLINIC_CSV)
    result = BatchResult(batch_id=None, read=len(inputs))
    with gcpause.paused(), door(ctx, op, resource=BATCH_RESOURCE, target=file_name) as rec:
        c, today = _check(ctx, inputs)
        result.codes = c.codes()
        result.rejected_rows = [int(i) for i in c.rows_of(REJECTED)]
        result.rejected = len(result.rejected_rows)
        result.unchanged = c.count(UNCHANGED)
        new = c.rows_of(NEW)
        result.with_warnings = sum(1 for i in new if int(i) in c.problems)
        result.problems = [file_problem(inputs[i], p, column_of) for i in sorted(c.problems)
                           for p in c.problems[i]]
        rec.detail = f"{src} read={result.read} rejected={result.rejected} unchanged={result.unchanged}"
        if (result.rejected and not skip_invalid) or check_only:
            result.inserted = 0
            if check_only:
                result.inserted = len(new)  # would be inserted
                rec.detail += " check-only"
                return result
        else:
            batch = EntryBatch.objects.create(
                municipality=store.municipality(), kind=BatchKind.IMPORT, state=BatchState.APPLIED,
                source=str(src), file_name=file_name[:255], file_sha256=file_sha256, opened_by_id=ctx.staff_id,
                terminal=ctx.terminal, request_id=ctx.request_id, opened_at=timezone.now(), closed_at=timezone.now(),
                rejected=result.rejected, unchanged=result.unchanged, with_warnings=result.with_warnings,
                summary={"codes": result.codes, "read": result.read},
            )
            result.batch_id = batch.pk
            try:
                result.inserted = store.insert_doses(_rows(inputs, c, (int(i) for i in new), ctx, batch.pk, today))
            except IntegrityError:
                # Another writer recorded one of these doses meanwhile: refuse the batch, nothing applied.
                raise InputRejected(
                    "同時に登録された記録と重複したため取込を中止しました。再実行してください。"
                    " / a concurrent write recorded one of these doses; nothing applied, run again"
                ) from None
            EntryBatch.objects.filter(pk=batch.pk).update(saved=result.inserted)
            result.applied = True
            rec.detail += f" inserted={result.inserted} batch={batch.pk}"
            return result
    raise DoseRejected(
        f"取り込めない行が {result.rejected} 行あります。何も登録していません。"
        f" / {result.rejected} rows rejected; nothing was applied",
        file_problems=result.problems, result=result,
    )


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- corrections ---------------------------------------------------------------------------------------

_SNAPSHOT = ("atena_no", "vaccine", "dose_number", "date", "clinic_code", "venue", "doctor", "product_code",
             "manufacturer", "lot_number", "amount_ml", "category", "screening_only", "reason_not_vaccinated",
             "findings", "reactions", "claim_month", "voucher_no", "source", "source_ref")  # fmt: skip


def _snapshot(d: Dose) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in _SNAPSHOT:
        v = getattr(d, f)
        out[f] = v.isoformat() if isinstance(v, date) else (str(v) if v is not None and f == "amount_ml" else v)
    return out


def input_of(d: Dose) -> DoseInput:
    """The ``DoseInput`` a stored record stands for (the base of a correction)."""
    return DoseInput(
        atena_no=d.atena_no, vaccine=d.vaccine, date=d.date, dose_number=d.dose_number, clinic_code=d.clinic_code,
        venue=d.venue, doctor=d.doctor, product_code=d.product_code, manufacturer=d.manufacturer,
        lot_number=d.lot_number, amount_ml=str(d.amount_ml) if d.amount_ml is not None else "",
        voucher_no=d.voucher_no, category=validation_category(d.category), screening_only=d.screening_only,
        reason_not_vaccinated=d.reason_not_vaccinated, findings=d.findings, reactions=d.reactions,
        claim_month=d.claim_month, registered_at=d.registered_at, source=Source(d.source), ref=d.source_ref,
        extra=dict(d.extra or {}),
    )


def validation_category(value: str) -> Any:
    from .inputs import Category

    return Category(value)


def _locked_active(dose_id: int) -> Dose:
    d = Dose.objects.select_for_update().filter(pk=dose_id, municipality=store.municipality(),
                                                state=DoseState.ACTIVE).first()
    if d is None:
        raise DoseNotFound(dose_id)
    return d


def correct_dose(ctx: AccessContext, dose_id: int, reason: str, **changes: Any) -> SaveResult:
    """訂正: replace an active record by a corrected one (``changes`` are ``DoseInput`` fields). The old
    record becomes ``superseded`` and points at the new; before/after are kept. The corrected record
    is validated like any input (blocking problems refuse the correction)."""
    if not reason.strip():
        raise InputRejected("訂正理由を入力してください / a reason is required")
    with door(ctx, Operation.UPDATE, resource=RESOURCE, target=str(dose_id)) as rec:
        old = _locked_active(dose_id)
        rec.targets = [old.atena_no]
        base = input_of(old)
        try:
            new_inp = replace(base, **changes)
        except TypeError as exc:
            raise InputRejected(f"訂正できない項目です / unknown field: {exc}") from None
        new_inp = replace(new_inp, ref=f"訂正:{dose_id}")
        # The old record steps aside first, so the corrected one is not its own duplicate.
        Dose.objects.filter(pk=old.pk).update(state=DoseState.SUPERSEDED)
        c, today = _check(ctx, [new_inp])
        ps = c.problems.get(0, [])
        if int(c.outcome[0]) == REJECTED:
            raise DoseRejected(_summary(ps), ps)
        store.insert_doses(_rows([new_inp], c, [0], ctx, old.batch_id, today))
        new = Dose.objects.filter(municipality=old.municipality, atena_no=new_inp.atena_no,
                                  vaccine=new_inp.vaccine.strip().upper(), date=new_inp.date,
                                  state=DoseState.ACTIVE).get()
        Dose.objects.filter(pk=old.pk).update(replaced_by=new)
        DoseCorrection.objects.create(
            municipality=old.municipality, atena_no=old.atena_no, kind=CorrectionKind.CORRECT, old=old, new=new,
            reason=reason.strip()[:200], before=_snapshot(old), after=_snapshot(new), changed_by_id=ctx.staff_id,
            changed_at=timezone.now(),
        )
        rec.detail = f"correct {old.pk}->{new.pk}"
    return SaveResult(new.pk, False, ps, new.dose_number)


def void_dose(ctx: AccessContext, dose_id: int, reason: str) -> None:
    """取消: the record no longer counts (e.g. keyed for the wrong person). Kept, with the reason."""
    if not reason.strip():
        raise InputRejected("取消理由を入力してください / a reason is required")
    with door(ctx, Operation.UPDATE, resource=RESOURCE, target=str(dose_id)) as rec:
        old = _locked_active(dose_id)
        rec.targets = [old.atena_no]
        Dose.objects.filter(pk=old.pk).update(state=DoseState.VOID)
        DoseCorrection.objects.create(
            municipality=old.municipality, atena_no=old.atena_no, kind=CorrectionKind.VOID, old=old, new=None,
            reason=reason.strip()[:200], before=_snapshot(old), after={}, changed_by_id=ctx.staff_id,
            changed_at=timezone.now(),
        )
        rec.detail = f"void {old.pk}"


# --- entry batches (束) -----------------------------------------------------------------------------------


def open_batch(ctx: AccessContext, *, label: str = "", clinic_code: str = "", claim_month: str = "",
               declared_count: int | None = None) -> int:
    """Open a 束 for keyed entry by the acting staff member. Returns its id."""
    with door(ctx, Operation.CREATE, resource=BATCH_RESOURCE) as rec:
        b = EntryBatch.objects.create(
            municipality=store.municipality(), kind=BatchKind.KEYED, state=BatchState.OPEN, label=label[:100],
            clinic_code=clinic_code, claim_month=claim_month, declared_count=declared_count,
            opened_by_id=ctx.staff_id, terminal=ctx.terminal, request_id=ctx.request_id, opened_at=timezone.now(),
        )
        rec.detail = f"open batch {b.pk}"
    return b.pk


def _open_batch(batch_id: int, ctx: AccessContext) -> EntryBatch:
    b = EntryBatch.objects.filter(pk=batch_id, municipality=store.municipality()).first()
    if b is None or b.state != BatchState.OPEN:
        raise InputRejected(f"束 {batch_id} は入力中ではありません / batch {batch_id} is not open")
    if b.opened_by_id != ctx.staff_id:
        raise InputRejected(f"束 {batch_id} は他の職員の束です / batch {batch_id} belongs to another staff member")
    return b


def note_rejected(ctx: AccessContext, batch_id: int) -> None:
    """Count a form of the 束 that could not be saved (e.g. sent back to the clinic)."""
    with door(ctx, Operation.UPDATE, resource=BATCH_RESOURCE, target=str(batch_id)):
        _open_batch(batch_id, ctx)
        EntryBatch.objects.filter(pk=batch_id).update(rejected=_plus("rejected"))


def close_batch(ctx: AccessContext, batch_id: int) -> dict[str, Any]:
    """Close a 束: no more forms; returns its counts (saved, with warnings, rejected, declared)."""
    with door(ctx, Operation.UPDATE, resource=BATCH_RESOURCE, target=str(batch_id)):
        b = _open_batch(batch_id, ctx)
        b.state = BatchState.CLOSED
        b.closed_at = timezone.now()
        b.save(update_fields=["state", "closed_at"])
    return {"batch_id": b.pk, "saved": b.saved, "with_warnings": b.with_warnings, "rejected": b.rejected,
            "declared": b.declared_count, "matches_declared": b.declared_count in (None, b.saved + b.rejected)}


# --- masters ----------------------------------------------------------------------------------------------


def _master_problems(clinics: Sequence[ClinicData], products: Sequence[ProductData],
                     lots: Sequence[LotData], known_products: set[str]) -> list[str]:
    from yobo.schedule.engine import CODE_INDEX

    out: list[str] = []
    for c in clinics:
        if len(c.code) != 10 or not c.code.isdigit():
            out.append(f"医療機関コード「{c.code}」は10桁の数字ではありません / clinic code must be 10 digits")
        if not c.name.strip():
            out.append(f"医療機関 {c.code}: 名称がありません / name is required")
    for p in products:
        bad = [v for v in p.vaccines if v not in CODE_INDEX]
        if bad or not p.vaccines:
            out.append(f"製品 {p.code}: ワクチンコードが不明です {bad} / unknown vaccine codes")
    names = known_products | {p.code for p in products}
    for lot in lots:
        if lot.product_code not in names:
            out.append(f"ロット {lot.lot_number}: 製品 {lot.product_code} がありません / unknown product")
    return out


def save_masters(ctx: AccessContext, *, clinics: Sequence[ClinicData] = (), products: Sequence[ProductData] = (),
                 lots: Sequence[LotData] = ()) -> dict[str, int]:
    """Insert or update masters (実施医療機関・ワクチン製品・ロット) by their codes, all or nothing."""
    m = store.municipality()
    with door(ctx, Operation.UPDATE, resource=MASTER_RESOURCE) as rec:
        known = set(Product.objects.filter(municipality=m).values_list("code", flat=True))
        errors = _master_problems(clinics, products, lots, known)
        if errors:
            raise InputRejected("\n".join(errors))
        for c in clinics:
            values = asdict(c)
            values.pop("code")
            Clinic.objects.update_or_create(municipality=m, code=c.code, defaults=values)
        for p in products:
            Product.objects.update_or_create(
                municipality=m, code=p.code,
                defaults={"name": p.name, "vaccines": " ".join(p.vaccines), "manufacturer": p.manufacturer,
                          "schedule_product": p.schedule_product,
                          "standard_amount_ml": p.standard_amount_ml or None},
            )
        for lot in lots:
            Lot.objects.update_or_create(municipality=m, product_code=lot.product_code,
                                         lot_number=lot.lot_number.upper(), defaults={"expiry": lot.expiry})
        counts = {"clinics": len(clinics), "products": len(products), "lots": len(lots)}
        rec.detail = "masters " + " ".join(f"{k}={v}" for k, v in counts.items())
    return counts


def save_clinic(ctx: AccessContext, clinic: ClinicData) -> None:
    save_masters(ctx, clinics=[clinic])


def save_product(ctx: AccessContext, product: ProductData) -> None:
    save_masters(ctx, products=[product])


def save_lot(ctx: AccessContext, lot: LotData) -> None:
    save_masters(ctx, lots=[lot])


def load_demo_masters(ctx: AccessContext) -> dict[str, int]:
    """The demo city's masters (clinics, Japan's routine-vaccine products, lots); idempotent."""
    from . import demo

    return save_masters(ctx, clinics=demo.clinics(store.municipality()), products=demo.products(), lots=demo.lots())


def ensure_demo_doses(ctx: AccessContext, var_dir: str | Path, *, seed: int = 2025) -> BatchResult | None:
    """The demo city's masters, and synthetic dose histories for its residents (from the demo resident
    file ``people.services.ensure_demo_city`` wrote), loaded once while the ledger is empty. Rows the
    rules refuse (e.g. a dose after a synthetic death) are skipped. Returns None when already loaded."""
    from . import synth

    load_demo_masters(ctx)
    with door(ctx, Operation.SEARCH, resource=RESOURCE, detail="demo doses check"):
        loaded = Dose.objects.filter(municipality=store.municipality()).exists()
    residents = Path(var_dir) / f"demo-residents-{seed}.csv"
    if loaded or not residents.exists():
        return None
    inputs = list(synth.generate(synth.read_residents(residents), seed, store.today()))
    for k, x in enumerate(inputs, start=2):
        x.ref = f"demo-doses.csv:{k}"
    return record_batch(ctx, inputs, file_name="demo-doses.csv", skip_invalid=True)


__all__ = [
    "ERROR", "BatchResult", "ClinicData", "DoseNotFound", "DoseRejected", "LotData", "ProductData", "SaveResult",
    "check_inputs", "close_batch", "correct_dose", "ensure_demo_doses", "file_problem", "load_demo_masters",
    "note_rejected",
    "open_batch", "record_batch", "record_dose", "save_clinic", "save_lot", "save_masters", "save_product",
    "void_dose",
]
