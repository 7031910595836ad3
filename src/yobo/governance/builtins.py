"""The record types and disclosure parts governance itself knows (registered in ``apps.ready``).

Other apps register theirs (dose records, notices, certificates, exchange results) the same way.
Counts here use Django's model registry and ``count()`` only: no values are read.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from django.apps import apps
from django.conf import settings

from yobo.core.context import AccessContext

from . import registry


def _audit_count(ctx: AccessContext, cutoff: date) -> int:
    from yobo.audit.archive import day_start_us

    return int(apps.get_model("audit", "AccessLogEntry").objects.filter(at_us__lt=day_start_us(cutoff)).count())


def _audit_purge(ctx: AccessContext, cutoff: date) -> int:
    from yobo.audit.archive import archive_before

    res = archive_before(ctx, cutoff, Path(settings.VAR_DIR) / "audit-archive")
    return res.entries if res else 0


def _requests_qs(cutoff: date):  # type: ignore[no-untyped-def]
    from .models import RequestState, ResidentRequest

    return ResidentRequest.objects.filter(municipality=settings.MUNICIPALITY_CODE, state=RequestState.CLOSED,
                                          closed_at__date__lt=cutoff)


def _requests_count(ctx: AccessContext, cutoff: date) -> int:
    return int(_requests_qs(cutoff).count())


def _requests_purge(ctx: AccessContext, cutoff: date) -> int:
    from .models import Correction

    qs = _requests_qs(cutoff)
    ids = list(qs.values_list("pk", flat=True))
    Correction.objects.filter(request_id__in=ids).delete()
    n, _ = qs.filter(pk__in=ids).delete()
    return len(ids) if n else 0


def _left_count(ctx: AccessContext, cutoff: date) -> int:
    # 転出・死亡・職権消除 older than the cutoff: listed for review, never deleted here.
    return int(apps.get_model("people", "Person").objects.filter(
        municipality=settings.MUNICIPALITY_CODE, status__in=[2, 3, 4], status_date__lt=cutoff).count())


def register_all() -> None:
    audit_years = int(settings.YOBO_AUDIT_RETENTION_YEARS)
    registry.register_record_type(registry.RecordType(
        "audit.access_log", "アクセス記録", audit_years, "アクセス記録の保存 (YOBO_AUDIT_RETENTION_YEARS)", "archive",
        _audit_count, _audit_purge, min_years=audit_years))
    registry.register_record_type(registry.RecordType(
        "governance.requests", "開示・訂正・利用停止請求の記録", 5, "行政文書の保存期間 (完了後5年)", "delete",
        _requests_count, _requests_purge, min_years=1))
    registry.register_record_type(registry.RecordType(
        "people.left", "転出・死亡・職権消除者の宛名", 5,
        "予防接種法施行規則 (接種記録と同じく5年以上); 削除は個別確認", "review", _left_count, None, min_years=5))
    from .requests import BUILTIN_PARTS

    for p in BUILTIN_PARTS:
        registry.register_disclosure(p)
