"""What people plugs into governance (decision 092): the record type of its change history.

``people.history`` 異動・変更履歴 — a history row falls due 20 years after the change (the dose
records' rule: the history says when a person lived here, which the dose records are read against),
at least 5; the newest row of each person is never due, so the trail always ends at the person's
current version. The person record itself is never deleted while resident; moved-out and deceased
persons are listed for review by governance (``people.left``), and the disclosure parts of the
person and their history are governance's own.

``people.batch_review`` 連携の確認リスト — what a batch listed for staff (persons missing from a
complete snapshot, 住基ネット check findings) with their reviews (``people.review``) falls due 5
years after its batch, at least 1 (the notices' lists' years: a working list of a clerk's, like a
target list); the latest applied batch of each kind is never due, since it is the current list.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation
from yobo.governance import registry

from . import review
from .models import BatchAbsence, ImportBatch, NonResidentFinding, PersonHistory

BASIS = "接種記録と同じ (予防接種法施行令第6条の2: 5年以上; 評価書: 20年以上); 各人の最新の履歴は残す"


def _m() -> str:
    from django.conf import settings

    return str(settings.MUNICIPALITY_CODE)


def _due(cutoff: date) -> QuerySet[PersonHistory]:
    newer = PersonHistory.objects.filter(municipality=OuterRef("municipality"), atena_no=OuterRef("atena_no"),
                                         changed_at__gt=OuterRef("changed_at"))
    start = datetime.combine(cutoff, time.min, tzinfo=timezone.get_current_timezone())
    return PersonHistory.objects.filter(Exists(newer), municipality=_m(), changed_at__lt=start)


def _purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource="people.history", detail=f"retention before={cutoff}") as rec:
        # One DELETE with the filter. Its result does not depend on the order rows go in: a person's
        # newest row is never due, so every due row keeps a newer one to the end.
        qs = _due(cutoff)
        n = int(qs._raw_delete(qs.db))
        rec.detail = f"retention delete before={cutoff} n={n}"
    return n


REVIEW_BASIS = "対象者抽出の一覧と同じ (紙書類5年: 評価書); 種類ごとの最新の一覧は残す"


def _review_due(cutoff: date) -> list[QuerySet[Any]]:
    start = datetime.combine(cutoff, time.min, tzinfo=timezone.get_current_timezone())
    batches = ImportBatch.objects.filter(municipality=_m(), mode__in=review.LISTING_MODES, started_at__lt=start)
    ids = batches.exclude(pk__in=list(review.current_batches().values())).values("pk")
    return [BatchAbsence.objects.filter(batch_id__in=ids), NonResidentFinding.objects.filter(batch_id__in=ids)]


def _review_purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource="people.batch", detail=f"retention before={cutoff}") as rec:
        n = 0
        for qs in _review_due(cutoff):
            n += int(qs._raw_delete(qs.db))
        rec.detail = f"retention delete review lists before={cutoff} n={n}"
    return n


def register() -> None:
    registry.register_record_type(registry.RecordType(
        "people.batch_review", "連携の確認リスト（全件ファイルにない宛名・住基ネット確認の要確認）", 5, REVIEW_BASIS,
        "delete", lambda ctx, cutoff: sum(int(qs.count()) for qs in _review_due(cutoff)), _review_purge,
        min_years=1, count_held=lambda ctx: int(BatchAbsence.objects.filter(municipality=_m()).count()
                                                + NonResidentFinding.objects.filter(municipality=_m()).count())))
    registry.register_record_type(registry.RecordType(
        "people.history", "宛名の異動・変更履歴", 20, BASIS, "delete",
        lambda ctx, cutoff: int(_due(cutoff).count()), _purge, min_years=5,
        count_held=lambda ctx: int(PersonHistory.objects.filter(municipality=_m()).count())))
