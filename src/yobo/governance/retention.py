"""Retention and deletion (保存期間と削除): rules per record type, and the deletion run — plan what
falls due, a second person approves, execute item by item, leave the deletion record.

Each item of a run executes in its own transaction through the door (purpose G02, operation delete),
with its done count written in the same transaction: an interrupted run leaves every item either
done or untouched, and ``execute`` resumes at the first item not done. The cutoff of every item is
fixed when the run is planned, so executing later never deletes more than was approved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Duty, Operation, Purpose

from . import registry
from .models import DeletionItem, DeletionRun, RetentionRule, RunState

RESOURCE = "governance.retention"


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def _g02(ctx: AccessContext) -> AccessContext:
    return ctx.for_purpose(Purpose.RETENTION)


def years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


@dataclass(frozen=True, slots=True)
class RuleView:
    record_type: str
    label: str
    years: int
    default_years: int
    min_years: int
    basis: str
    action: str
    set_by: str
    set_at: datetime | None

    @property
    def action_label(self) -> str:
        return registry.ACTIONS[self.action]


def _rules() -> dict[str, RetentionRule]:
    return {r.record_type: r for r in RetentionRule.objects.filter(municipality=_m())}


def rules(ctx: AccessContext) -> list[RuleView]:
    """保存期間の一覧: every registered record type with the years in force."""
    with door(ctx, Operation.READ, resource=RESOURCE, detail="retention rules"):
        saved = _rules()
    out = []
    for t in registry.record_types():
        r = saved.get(t.code)
        out.append(RuleView(t.code, t.label, r.years if r else t.default_years, t.default_years, t.min_years,
                            (r.basis if r and r.basis else t.basis), t.action, r.updated_by if r else "",
                            r.updated_at if r else None))
    return out


def set_rule(ctx: AccessContext, record_type: str, years: int, basis: str = "") -> None:
    """Change a retention period (G02). Below the type's legal minimum is refused; every change is
    recorded in the PIA change log (保管期間 is a PIA item)."""
    from .pia import record_change

    t = registry.record_type(record_type)
    with door(_g02(ctx), Operation.UPDATE, resource=RESOURCE, detail=f"set rule {record_type}={years}"):
        if t is None:
            raise InputRejected(f"記録の種類「{record_type}」はありません。 / Unknown record type {record_type!r}.")
        if years < t.min_years:
            raise InputRejected(f"{t.label}の保存期間は{t.min_years}年以上です（{t.basis}）。"
                                f" / {t.label} must be kept at least {t.min_years} years.")
        old = RetentionRule.objects.filter(municipality=_m(), record_type=record_type).first()
        before = old.years if old else t.default_years
        RetentionRule.objects.update_or_create(
            municipality=_m(), record_type=record_type,
            defaults={"years": years, "basis": basis.strip()[:200], "updated_by": ctx.username,
                      "updated_at": timezone.now()},
        )
        if before != years:
            record_change(ctx, item=f"II 6. 特定個人情報の保管・消去 ②保管期間 ({t.label})",
                          before=f"{before}年", after=f"{years}年", source="auto")


def _years(code: str, saved: dict[str, RetentionRule]) -> int:
    t = registry.record_type(code)
    r = saved.get(code)
    return r.years if r else (t.default_years if t else 0)


@dataclass(frozen=True, slots=True)
class DueItem:
    record_type: str
    label: str
    action: str
    years: int
    cutoff: date
    basis: str
    count: int


def due(ctx: AccessContext, as_of: date | None = None) -> list[DueItem]:
    """What falls due on ``as_of`` (削除対象の一覧), counts only."""
    d = as_of or timezone.localdate()
    g = _g02(ctx)
    with door(g, Operation.SEARCH, resource=RESOURCE, detail=f"due as_of={d}"):
        saved = _rules()
        out = []
        for t in registry.record_types():
            y = _years(t.code, saved)
            cutoff = years_before(d, y)
            r = saved.get(t.code)
            out.append(DueItem(t.code, t.label, t.action, y, cutoff, (r.basis if r and r.basis else t.basis),
                               int(t.count_due(g, cutoff))))
    return out


def plan(ctx: AccessContext, as_of: date | None = None, note: str = "") -> int:
    """Plan a deletion run (削除計画): the due items with their fixed cutoffs; returns the run id."""
    d = as_of or timezone.localdate()
    items = due(ctx, d)
    with door(_g02(ctx), Operation.CREATE, resource=RESOURCE, detail=f"plan run as_of={d}") as rec:
        if DeletionRun.objects.filter(municipality=_m(), state__in=[RunState.PLANNED, RunState.APPROVED]).exists():
            raise InputRejected("未完了の削除処理があります。先に完了または却下してください。"
                                " / A deletion run is still open; finish or reject it first.")
        run = DeletionRun.objects.create(municipality=_m(), as_of=d, planned_by_id=ctx.staff_id,
                                         planned_at=timezone.now(), note=note.strip()[:200])
        DeletionItem.objects.bulk_create([
            DeletionItem(run=run, record_type=i.record_type, label=i.label, action=i.action, years=i.years,
                         cutoff=i.cutoff, basis=i.basis, planned_count=i.count)
            for i in items if i.count > 0
        ])
        rec.detail = f"plan run={run.pk} items={sum(1 for i in items if i.count)} records={sum(i.count for i in items)}"
        return run.pk


def approve(ctx: AccessContext, run_id: int) -> None:
    """Approve a planned run (決裁): a 決裁者 other than the planner."""
    g = _g02(ctx)
    if Duty.SUPERVISOR.value not in ctx.duties or ctx.contractor:
        raise AccessDenied("not_permitted",
                           "削除処理の承認には決裁者の職責が必要です。 / Approval needs the supervisor duty.")
    with door(g, Operation.UPDATE, resource=RESOURCE, detail=f"approve run={run_id}"):
        run = _locked(run_id)
        if run.planned_by_id == ctx.staff_id:
            raise InputRejected("計画した職員とは別の決裁者が承認してください。 / The planner cannot approve.")
        if run.state != RunState.PLANNED:
            raise InputRejected(f"この削除処理は{RunState(run.state).label}です。 / The run is {run.state}.")
        run.state, run.approved_by_id, run.approved_at = RunState.APPROVED, ctx.staff_id, timezone.now()
        run.save(update_fields=["state", "approved_by", "approved_at"])


def reject(ctx: AccessContext, run_id: int, note: str = "") -> None:
    with door(_g02(ctx), Operation.UPDATE, resource=RESOURCE, detail=f"reject run={run_id}"):
        run = _locked(run_id)
        if run.state != RunState.PLANNED:
            raise InputRejected(f"この削除処理は{RunState(run.state).label}です。 / The run is {run.state}.")
        run.state, run.note = RunState.REJECTED, (note.strip() or run.note)[:200]
        run.save(update_fields=["state", "note"])


def _locked(run_id: int) -> DeletionRun:
    run = DeletionRun.objects.select_for_update().filter(pk=run_id, municipality=_m()).first()
    if run is None:
        raise InputRejected(f"削除処理 {run_id} がありません。 / No deletion run {run_id}.")
    return run


def execute(ctx: AccessContext, run_id: int) -> list[DeletionItem]:
    """Execute an approved run, item by item (resumable). Review-only items are recorded as reviewed
    with nothing deleted. Returns the items with their done counts."""
    g = _g02(ctx)
    run = DeletionRun.objects.filter(pk=run_id, municipality=_m()).first()
    if run is None:
        raise InputRejected(f"削除処理 {run_id} がありません。 / No deletion run {run_id}.")
    if run.state != RunState.APPROVED:
        raise InputRejected(f"承認済みの削除処理だけを実行できます（{RunState(run.state).label}）。"
                            " / Only an approved run can be executed.")
    for item in list(run.items.filter(done_at__isnull=True).order_by("pk")):
        t = registry.record_type(item.record_type)
        with transaction.atomic(), door(g, Operation.DELETE, resource=f"{RESOURCE}.{item.record_type}"[:64],
                                        detail=f"run={run.pk} {item.action} before={item.cutoff}") as rec:
            locked = DeletionItem.objects.select_for_update().get(pk=item.pk)
            if locked.done_at is not None:
                continue
            # review-only types are listed, never deleted silently
            n = 0 if t is None or t.purge is None or item.action == "review" else int(t.purge(g, item.cutoff))
            locked.done_count, locked.done_at = n, timezone.now()
            locked.save(update_fields=["done_count", "done_at"])
            rec.detail = f"run={run.pk} {item.action} {item.record_type} before={item.cutoff} n={n}"
    with door(g, Operation.UPDATE, resource=RESOURCE, detail=f"finish run={run.pk}"):
        DeletionRun.objects.filter(pk=run.pk).update(state=RunState.DONE, executed_by_id=ctx.staff_id,
                                                     finished_at=timezone.now())
    return list(run.items.order_by("pk"))


@dataclass(frozen=True, slots=True)
class RunView:
    id: int
    as_of: date
    state: str
    planned_by: str
    planned_at: datetime
    approved_by: str | None
    finished_at: datetime | None
    note: str
    items: list[dict[str, Any]]

    @property
    def state_label(self) -> str:
        return RunState(self.state).label


def runs(ctx: AccessContext, *, date_from: date | None = None, date_to: date | None = None,
         limit: int = 100) -> list[RunView]:
    """削除記録: the runs with their items (class, cutoff, why, how many, who)."""
    with door(ctx, Operation.READ, resource=RESOURCE, detail="deletion runs"):
        qs = DeletionRun.objects.filter(municipality=_m()).select_related("planned_by", "approved_by")
        if date_from:
            qs = qs.filter(planned_at__date__gte=date_from)
        if date_to:
            qs = qs.filter(planned_at__date__lte=date_to)
        out = []
        for r in qs.order_by("-planned_at", "-pk")[:limit]:
            items = [{"record_type": i.record_type, "label": i.label, "action": i.action, "years": i.years,
                      "cutoff": i.cutoff.isoformat(), "basis": i.basis, "planned": i.planned_count,
                      "done": i.done_count} for i in r.items.order_by("pk")]
            out.append(RunView(r.pk, r.as_of, r.state, r.planned_by.get_username(), r.planned_at,
                               r.approved_by.get_username() if r.approved_by else None, r.finished_at, r.note,
                               items))
    return out


def waiting_work() -> list[tuple[str, str, int]]:
    """Deletion runs planned and waiting for approval, as (purpose code, label, count): counts only."""
    n = DeletionRun.objects.filter(municipality=_m(), state=RunState.PLANNED).count()
    return [(Purpose.RETENTION.value, "承認待ち", n)] if n else []
