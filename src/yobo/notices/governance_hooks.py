"""What notices plugs into governance (decision 092): record types and the person's disclosure part.

The seeds keep the paper of this work 5 years (004: 入手した紙書類は…５年保存) and the ledger system's
data for the years the law sets; lists, print batches and vouchers are the working records of
issuing and recommending, so each is kept 5 years (a city may lengthen it, not go below 1).

The types follow the roots of the app's tables, so that what falls due depends only on each row's own
date and never on what another type deleted earlier in the same run (a planned count stays exact):

- ``notices.target_list`` 対象者リストと勧奨の記録 — a list (and its entries) falls due 5 years after it
  was made; the reminders recorded against it (勧奨の結果, which cannot be read without their list) go
  with it; batches, vouchers and later lists that merely point at it are detached, not deleted.
- ``notices.print_batch`` 印刷バッチと接種券 — a batch falls due 5 years after it was printed, with the
  vouchers printed in it (a voucher is a line of its batch, same time) and its files (PDF volumes,
  券番号 CSV), which are removed after the transaction commits; reminders and reprints that point at
  it are detached.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation
from yobo.governance import registry

from . import selectors
from .models import PrintBatch, Reminder, TargetEntry, TargetList, Voucher

BASIS = "文書の保存期間 (5年; 評価書 004: 紙書類は5年保存の後に溶解)"


def _m() -> str:
    from django.conf import settings

    return str(settings.MUNICIPALITY_CODE)


def _start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.get_current_timezone())


def _lists_due(cutoff: date) -> QuerySet[TargetList]:
    return TargetList.objects.filter(municipality=_m(), created_at__lt=_start(cutoff))


def _batches_due(cutoff: date) -> QuerySet[PrintBatch]:
    return PrintBatch.objects.filter(municipality=_m(), created_at__lt=_start(cutoff))


def _list_purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource=selectors.LIST_RESOURCE, detail=f"retention before={cutoff}") as rec:
        ids = _lists_due(cutoff).values("id")
        PrintBatch.objects.filter(target_list_id__in=ids).update(target_list=None)
        Voucher.objects.filter(target_list_id__in=ids).update(target_list=None)
        TargetList.objects.filter(previous_id__in=ids).exclude(id__in=ids).update(previous=None)
        reminders = int(Reminder.objects.filter(target_list_id__in=ids)._raw_delete(Reminder.objects.db))
        entries = int(TargetEntry.objects.filter(target_list_id__in=ids)._raw_delete(TargetEntry.objects.db))
        # One DELETE with the filter (Django's delete() would load every row to walk the links,
        # which were detached or deleted just above).
        n = int(_lists_due(cutoff)._raw_delete(TargetList.objects.db))
        rec.detail = f"retention delete before={cutoff} lists={n} entries={entries} reminders={reminders}"
    return n


def _files_of(batches: QuerySet[PrintBatch]) -> list[Path]:
    out: list[Path] = []
    for pdf, vols, numbers in batches.values_list("pdf_path", "volumes", "numbers_path"):
        out += [Path(p) for p in (pdf, numbers, *(v.get("path", "") for v in vols or [])) if p]
    return sorted(set(out))


def _remove(paths: list[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _batch_purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource=selectors.VOUCHER_RESOURCE, detail=f"retention before={cutoff}") as rec:
        ids = _batches_due(cutoff).values("id")
        files = _files_of(_batches_due(cutoff))
        Reminder.objects.filter(batch_id__in=ids).update(batch=None)
        PrintBatch.objects.filter(reprint_of_id__in=ids).exclude(id__in=ids).update(reprint_of=None)
        vids = Voucher.objects.filter(batch_id__in=ids).values("id")
        Voucher.objects.filter(replaced_by_id__in=vids).exclude(batch_id__in=ids).update(replaced_by=None)
        vouchers = int(Voucher.objects.filter(batch_id__in=ids)._raw_delete(Voucher.objects.db))
        n = int(_batches_due(cutoff)._raw_delete(PrintBatch.objects.db))
        # The printed files hold names and addresses: removed once the rows are gone for good.
        transaction.on_commit(lambda: _remove(files))
        rec.detail = f"retention delete before={cutoff} batches={n} vouchers={vouchers} files={len(files)}"
    return n


# --- 開示 -------------------------------------------------------------------------------------------


def _vouchers_part(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    return [{"number": v.number, "vaccine": v.vaccine, "dose": v.dose, "state": v.state, "issued_at": v.issued_at,
             "print_batch": v.batch_id, "void_reason": v.void_reason, "replaced_by": v.replaced_by,
             "returned_at": v.returned_at, "returned_note": v.returned_note}
            for v in reversed(selectors.vouchers_of(ctx, atena_no))]


def _lists_part(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=selectors.LIST_RESOURCE, target=a, detail="disclosure lists"):
        return [{"list": r["target_list_id"], "kind": r["target_list__kind"], "vaccine": r["target_list__vaccine"],
                 "as_of": r["target_list__as_of"], "dose": r["dose"], "status": r["status"],
                 "eligible_from": r["eligible_from"], "eligible_until": r["eligible_until"]}
                for r in TargetEntry.objects.filter(target_list__municipality=_m(), atena_no=a).order_by(
                    "target_list__as_of", "id").values("target_list_id", "target_list__kind", "target_list__vaccine",
                                                       "target_list__as_of", "dose", "status", "eligible_from",
                                                       "eligible_until")]


def _reminders_part(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=selectors.LIST_RESOURCE, target=a, detail="disclosure reminders"):
        return [{"vaccine": r.vaccine, "channel": r.get_channel_display(), "at": r.at, "result": r.result,
                 "list": r.target_list_id, "print_batch": r.batch_id}
                for r in Reminder.objects.filter(municipality=_m(), atena_no=a).order_by("at", "id")]


def register() -> None:
    registry.register_record_type(registry.RecordType(
        "notices.target_list", "対象者リストと勧奨の記録", 5, BASIS, "delete",
        lambda ctx, cutoff: int(_lists_due(cutoff).count()), _list_purge, min_years=1,
        count_held=lambda ctx: int(TargetList.objects.filter(municipality=_m()).count())))
    registry.register_record_type(registry.RecordType(
        "notices.print_batch", "印刷バッチと接種券・予診票・勧奨通知 (PDF を含む)", 5, BASIS, "delete",
        lambda ctx, cutoff: int(_batches_due(cutoff).count()), _batch_purge, min_years=1,
        count_held=lambda ctx: int(PrintBatch.objects.filter(municipality=_m()).count())))
    registry.register_disclosure(registry.DisclosurePart(
        "notices.vouchers", "接種券・予診票の発行", _vouchers_part, order=30))
    registry.register_disclosure(registry.DisclosurePart(
        "notices.lists", "対象者抽出・勧奨の対象リスト", _lists_part, order=31))
    registry.register_disclosure(registry.DisclosurePart(
        "notices.reminders", "接種勧奨の記録 (結果)", _reminders_part, order=32))
