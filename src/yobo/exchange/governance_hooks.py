"""What exchange plugs into governance (decision 092): record types and the person's disclosure part.

- ``exchange.query_result`` 照会で受け取った内容 — exchange's own purge (``yobo exchange purge``)
  empties a result ``YOBO_EXCHANGE_RETENTION_DAYS`` days (default 30) after the query completed; it
  is registered so the PIA report states the rule, and a deletion run empties whatever a missed purge
  left behind after a year.
- ``exchange.query`` 情報照会の記録 and ``exchange.provision`` 情報提供の記録 — who asked whom for which
  item set, when, with what outcome: 7 years, as the 情報提供等の記録 of the network (番号法第23条,
  施行令第29条). A provision still held for review is never due; a query whose result is still held
  waits until that result is emptied.
- ``exchange.copy`` 副本 — the copy of the dose records offered to other bodies; it follows the dose
  records' rule (20 years by default, at least 5), so the next copy registration does not put back
  what a deletion run took away. Keep the two at the same number of years.

The person's part lists the queries about them and the answers given about them, with the results
still kept; an answer withheld or held for review (支援措置) is shown without its content or asker.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation
from yobo.governance import registry

from . import conf, selectors
from .models import CopyEntry, Provision, ProvisionState, Query
from .services import FINAL_QUERY_STATES, RESOURCE_COPY, RESOURCE_PROVISION, RESOURCE_QUERY

RECORD_BASIS = "情報提供等の記録 (番号法第23条・施行令第29条: 7年)"
COPY_BASIS = "接種記録と同じ (予防接種法施行令第6条の2: 5年以上; 評価書: 20年以上)"


def _start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.get_current_timezone())


def _results_due(cutoff: date) -> QuerySet[Query]:
    return Query.objects.filter(municipality=conf.municipality(), state__in=FINAL_QUERY_STATES,
                                completed_at__lt=_start(cutoff), result__isnull=False)


def _queries_due(cutoff: date) -> QuerySet[Query]:
    # A query whose result is still held waits for the result's own purge (next run at the latest), so
    # neither type's count depends on the other's deletions in the same run.
    return Query.objects.filter(municipality=conf.municipality(), state__in=FINAL_QUERY_STATES,
                                completed_at__lt=_start(cutoff), result__isnull=True)


def _provisions_due(cutoff: date) -> QuerySet[Provision]:
    return Provision.objects.filter(municipality=conf.municipality(), received_at__lt=_start(cutoff)).exclude(
        state=ProvisionState.HELD)


def _copies_due(cutoff: date) -> QuerySet[CopyEntry]:
    return CopyEntry.objects.filter(municipality=conf.municipality(), given_on__lt=cutoff)


def _results_purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource=RESOURCE_QUERY, detail=f"retention results before={cutoff}") as rec:
        n = int(_results_due(cutoff).update(result=None, purged_at=timezone.now()))
        rec.detail = f"retention results before={cutoff} n={n}"
    return n


def _deleter(resource: str, due: Any) -> Any:
    def purge(ctx: AccessContext, cutoff: date) -> int:
        with door(ctx, Operation.DELETE, resource=resource, detail=f"retention before={cutoff}") as rec:
            qs = due(cutoff)
            # One DELETE with the filter (nothing refers to these rows).
            n = int(qs._raw_delete(qs.db))
            rec.detail = f"retention delete before={cutoff} n={n}"
        return n

    return purge


def _part(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    a = str(atena_no).strip()
    out: list[dict[str, Any]] = []
    for q in reversed(selectors.queries(ctx, atena_no=a, limit=1000)):
        out.append({"record": "情報照会 (当市から)", "other_body": q.provider, "item_set": q.item_set,
                    "clause": q.clause, "state": q.state_label, "at": q.created_at, "completed_at": q.completed_at,
                    "content": q.result if q.result is not None else ("消去済み" if q.purged else "")})
    with door(ctx, Operation.READ, resource=RESOURCE_PROVISION, target=a, detail="disclosure provisions"):
        rows = list(Provision.objects.filter(municipality=conf.municipality(), atena_no=a).order_by("received_at",
                                                                                                    "id"))
    for p in rows:
        hidden = p.state in (ProvisionState.HELD, ProvisionState.WITHHELD)
        out.append({"record": "情報提供 (当市から)", "other_body": "" if hidden else p.asker, "item_set": p.item_set,
                    "clause": p.clause, "state": p.get_state_display(), "at": p.received_at,
                    "completed_at": p.answered_at, "content": "" if hidden else (p.answer or "")})
    out += [{"record": "副本", **c} for c in selectors.copy_of(ctx, a)]
    return out


def register() -> None:
    days = conf.retention_days()
    registry.register_record_type(registry.RecordType(
        "exchange.query_result", f"情報照会で受け取った内容 (受信後{days}日で自動消去)", 1,
        f"exchange purge が{days}日で消去 (YOBO_EXCHANGE_RETENTION_DAYS); 消し残しは1年で消去", "delete",
        lambda ctx, cutoff: int(_results_due(cutoff).count()), _results_purge, min_years=1,
        count_held=lambda ctx: int(Query.objects.filter(municipality=conf.municipality(),
                                                        result__isnull=False).count())))
    registry.register_record_type(registry.RecordType(
        "exchange.query", "情報照会の記録", 7, RECORD_BASIS, "delete",
        lambda ctx, cutoff: int(_queries_due(cutoff).count()), _deleter(RESOURCE_QUERY, _queries_due), min_years=7,
        count_held=lambda ctx: int(Query.objects.filter(municipality=conf.municipality()).count())))
    registry.register_record_type(registry.RecordType(
        "exchange.provision", "情報提供の記録", 7, RECORD_BASIS, "delete",
        lambda ctx, cutoff: int(_provisions_due(cutoff).count()), _deleter(RESOURCE_PROVISION, _provisions_due),
        min_years=7, count_held=lambda ctx: int(Provision.objects.filter(municipality=conf.municipality()).count())))
    registry.register_record_type(registry.RecordType(
        "exchange.copy", "副本 (提供用の接種記録)", 20, COPY_BASIS, "delete",
        lambda ctx, cutoff: int(_copies_due(cutoff).count()), _deleter(RESOURCE_COPY, _copies_due), min_years=5,
        count_held=lambda ctx: int(CopyEntry.objects.filter(municipality=conf.municipality()).count())))
    registry.register_disclosure(registry.DisclosurePart(
        "exchange", "情報連携 (照会・提供・副本)", _part, order=50))
