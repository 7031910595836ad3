"""What immunizations plugs into governance (decision 092): its record types (保存期間と削除), its
part of a person's disclosure set (開示), and the way an accepted correction request (訂正請求) is
applied to a dose record.

Record types:

- ``immunizations.dose`` 接種記録 — 予防接種法施行令第6条の2 requires 5 years; the seeds keep them
  20 years or more because a series runs longer than 5 years (000, 001), so the default is 20 and the
  floor 5. A record falls due when the dose date of its *current* record (the end of its chain of
  corrections) is before the cutoff: superseded rows follow the record that replaced them, a void row
  is its own current record. Due records are **anonymised**, not deleted: the statistics (接種記録統計,
  decision 124) and the "paid once" rule of clinic claims keep working on vaccine, dose, date, age,
  category and product/lot, while the person link (宛名番号, person key), the clinic, venue, doctor,
  findings, reactions, voucher number, VRS time, source reference and format extras are dropped and
  the correction records (before/after snapshots) are deleted. An anonymised row's 宛名番号 becomes
  ``#<id>``: no person has it, and the one-active-record-per-person index stays satisfied.
- ``immunizations.entry_batch`` 入力束・取込の記録 — counts only, deleted 5 years after they were
  opened (closed ones); the dose records keep their own rule and simply lose the batch reference.
- ``immunizations.vrs_match`` VRS照合の結果 — a run with its error-list lines, 5 years after the run.

Each purge is set-based (one statement per level of the correction chain, one per table otherwise)
and runs in this app's door under the caller's purpose (G02 in a deletion run), with counts only in
the log (no per-person targets: the deletion record is the run, not a list of whose data went).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.db.models import CharField, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation, Purpose
from yobo.governance import registry

from . import selectors, services, store
from .models import Dose, DoseCorrection, DoseState, EntryBatch, VrsMatchLine, VrsMatchRun

ANON_PREFIX = "#"  # 宛名番号 of an anonymised dose record: "#<id>", never a person's
MAX_CHAIN = 50  # corrections of one record are a handful; a longer chain means a loop in the data

DOSE_BASIS = ("予防接種法施行令第6条の2・施行規則 (少なくとも5年); 評価書: 残りの接種回数の把握のため20年以上 "
              "(000, 001)")


def _start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.get_current_timezone())


# --- 接種記録 -------------------------------------------------------------------------------------


def _chain_levels(cutoff: date) -> list[QuerySet[Dose]]:
    """The due dose records, level by level: level 0 the current records (nothing replaced them)
    dated before ``cutoff`` and not yet anonymised, level k+1 the rows superseded by level k."""
    level: QuerySet[Dose] = Dose.objects.filter(municipality=store.municipality(), replaced_by__isnull=True,
                                                date__lt=cutoff).exclude(atena_no__startswith=ANON_PREFIX)
    levels = [level]
    for _ in range(MAX_CHAIN):
        level = Dose.objects.filter(replaced_by_id__in=level.values("id"))
        if not level.exists():
            break
        levels.append(level)
    return levels


def _dose_count_due(ctx: AccessContext, cutoff: date) -> int:
    return sum(int(q.count()) for q in _chain_levels(cutoff))


def _dose_count_held(ctx: AccessContext) -> int:
    return int(Dose.objects.filter(municipality=store.municipality()).exclude(
        atena_no__startswith=ANON_PREFIX).count())


def _dose_purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource=selectors.RESOURCE, detail=f"retention anonymise before={cutoff}") as rec:
        levels = _chain_levels(cutoff)
        n = 0
        # Deepest first: every level's subquery hangs on level 0, which the updates below leave alone
        # until last (superseded rows never satisfy "nothing replaced them").
        for q in reversed(levels):
            ids = q.values("id")
            DoseCorrection.objects.filter(old_id__in=ids)._raw_delete(DoseCorrection.objects.db)
            DoseCorrection.objects.filter(new_id__in=ids)._raw_delete(DoseCorrection.objects.db)
            n += Dose.objects.filter(pk__in=q.values("id")).update(
                atena_no=Concat(Value(ANON_PREFIX), Cast("id", output_field=CharField())),
                person_id=0, clinic_code="", venue="", doctor="", reason_not_vaccinated="", findings="",
                reactions="", voucher_no="", registered_at=None, source_ref="", extra={}, batch=None,
            )
        rec.detail = f"retention anonymise before={cutoff} n={n}"
    return n


# --- 入力束 -----------------------------------------------------------------------------------------


def _batches_due(cutoff: date) -> QuerySet[EntryBatch]:
    # Only the batch's own date decides: what is due never depends on another type's deletions
    # earlier in the same run, so the planned count stays exact.
    return EntryBatch.objects.filter(municipality=store.municipality(), opened_at__lt=_start(cutoff)).exclude(
        state="open")


def _batch_purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource="immunizations.batch", detail=f"retention before={cutoff}") as rec:
        Dose.objects.filter(batch_id__in=_batches_due(cutoff).values("id")).update(batch=None)
        # One DELETE with the filter; Django's delete() would load the rows to check the PROTECT link
        # cleared just above.
        n = int(_batches_due(cutoff)._raw_delete(EntryBatch.objects.db))
        rec.detail = f"retention delete before={cutoff} n={n}"
    return n


# --- VRS照合 ----------------------------------------------------------------------------------------


def _runs_due(cutoff: date) -> QuerySet[VrsMatchRun]:
    return VrsMatchRun.objects.filter(municipality=store.municipality(), run_at__lt=_start(cutoff))


def _vrs_purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource="immunizations.vrs", detail=f"retention before={cutoff}") as rec:
        runs = _runs_due(cutoff)
        lines = int(VrsMatchLine.objects.filter(run_id__in=runs.values("id"))._raw_delete(VrsMatchLine.objects.db))
        n = int(_runs_due(cutoff)._raw_delete(VrsMatchRun.objects.db))
        rec.detail = f"retention delete before={cutoff} runs={n} lines={lines}"
    return n


# --- 開示 -------------------------------------------------------------------------------------------


def _doses_part(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    """Every dose record of the person in any state (有効・訂正前・取消), with its source and batch."""
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=selectors.RESOURCE, target=a, detail="disclosure doses"):
        rows = list(Dose.objects.filter(municipality=store.municipality(), atena_no=a).order_by("date", "id").values(
            *selectors.DOSE_FIELDS, "batch__kind", "batch__label", "batch__opened_at"))
    states = dict(DoseState.choices)
    out = []
    for r in rows:
        row = {k: (str(v) if k == "amount_ml" and v is not None else v) for k, v in r.items()
               if not k.startswith("batch__") and k != "problems"}
        row["state_label"] = states.get(r["state"], r["state"])
        row["warnings"] = "; ".join(str(p.get("code", "")) for p in r["problems"] or [])
        row["entry_batch"] = (f"{r['batch_id']} {r['batch__kind']} {r['batch__label']}".strip()
                              if r["batch_id"] else "")
        out.append(row)
    return out


def _corrections_part(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    return [{"id": c.id, "kind": c.kind, "old_id": c.old_id, "new_id": c.new_id, "reason": c.reason,
             "before": c.before, "after": c.after, "changed_by": c.changed_by, "changed_at": c.changed_at}
            for c in reversed(selectors.corrections(ctx, atena_no))]


def _vrs_part(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource="immunizations.vrs", target=a, detail="disclosure vrs lines"):
        return [{"run_at": r["run__run_at"], "file_name": r["run__file_name"], "kind": r["kind"],
                 "detail": r["detail"], "vrs_date": r["vrs_date"], "ledger_date": r["ledger_date"],
                 "resolution": r["resolution"], "resolved_at": r["resolved_at"], "note": r["note"]}
                for r in VrsMatchLine.objects.filter(municipality=store.municipality(), atena_no=a).order_by(
                    "run__run_at", "id").values("run__run_at", "run__file_name", "kind", "detail", "vrs_date",
                                                "ledger_date", "resolution", "resolved_at", "note")]


# --- 訂正請求の反映 ---------------------------------------------------------------------------------


def apply_correction(ctx: AccessContext, dose_id: int, *, request_ref: str, reason: str, **changes: Any) -> int:
    """Apply an accepted correction request (訂正請求) to a dose record, under G01, through
    ``services.correct_dose``: the old record is superseded and before/after are kept with a reason
    naming the request (e.g. ``G12``). Returns the corrected record's id."""
    g01 = ctx.for_purpose(Purpose.DISCLOSURE_REQUEST)
    res = services.correct_dose(g01, dose_id, f"訂正請求 {request_ref}: {reason}".strip()[:200], **changes)
    return int(res.dose_id or 0)  # a correction always writes a new record


# --- registration ---------------------------------------------------------------------------------


def register() -> None:
    registry.register_record_type(registry.RecordType(
        "immunizations.dose", "接種記録 (接種履歴)", 20, DOSE_BASIS, "anonymise", _dose_count_due, _dose_purge,
        min_years=5, count_held=_dose_count_held))
    registry.register_record_type(registry.RecordType(
        "immunizations.entry_batch", "入力束・取込の記録", 5, "文書の保存期間 (5年; 接種記録が参照しなくなった後)",
        "delete", lambda ctx, cutoff: int(_batches_due(cutoff).count()), _batch_purge, min_years=1,
        count_held=lambda ctx: int(EntryBatch.objects.filter(municipality=store.municipality()).count())))
    registry.register_record_type(registry.RecordType(
        "immunizations.vrs_match", "VRS照合の結果 (エラーデータ一覧)", 5, "照合作業の記録 (5年)", "delete",
        lambda ctx, cutoff: int(_runs_due(cutoff).count()), _vrs_purge, min_years=1,
        count_held=lambda ctx: int(VrsMatchRun.objects.filter(municipality=store.municipality()).count())))
    registry.register_disclosure(registry.DisclosurePart(
        "immunizations.doses", "接種記録 (入力経路・入力束を含む)", _doses_part, order=20))
    registry.register_disclosure(registry.DisclosurePart(
        "immunizations.corrections", "接種記録の訂正・取消 (訂正前・訂正後)", _corrections_part, order=21))
    registry.register_disclosure(registry.DisclosurePart(
        "immunizations.vrs", "VRS照合の結果 (あなたに関する行)", _vrs_part, order=22))
