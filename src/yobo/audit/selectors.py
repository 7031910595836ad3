"""Reads of the access log for people (アクセスログの閲覧). Each read is itself logged by the door."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q

from yobo.core.context import AccessContext
from yobo.core.purposes import Operation

from .archive import day_start_us
from .door import door
from .models import AccessLogEntry, VerifyRun


@dataclass(frozen=True)
class LogFilter:
    """Filters of the viewer (絞り込み条件); empty values do not filter."""

    date_from: date | None = None
    date_to: date | None = None
    staff: str = ""
    target: str = ""
    purpose: str = ""
    operation: str = ""
    result: str = ""
    #: The 宛名番号 the ``target`` person had before (a 住登外者 switched to the register's number,
    #: ``people.switch``): what was logged under them is the person's too. Only with ``target``.
    former: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in (
            ("from", self.date_from), ("to", self.date_to), ("staff", self.staff), ("purpose", self.purpose),
            ("operation", self.operation), ("result", self.result), ("former", ",".join(self.former)),
        ) if v]
        return " ".join(parts)[:200]


@dataclass
class LogPage:
    entries: list[AccessLogEntry]
    has_more: bool
    next_before: int | None


def list_entries(ctx: AccessContext, flt: LogFilter, *, before: int | None = None, per_page: int = 50) -> LogPage:
    """Newest first, ``per_page`` entries with ``seq < before`` (keyset paging: fast on any log size)."""
    with door(ctx, Operation.SEARCH, resource="audit.log", target=flt.target, detail=flt.describe()):
        q = Q()
        if flt.date_from:
            q &= Q(at_us__gte=day_start_us(flt.date_from))
        if flt.date_to:
            q &= Q(at_us__lt=day_start_us(flt.date_to + timedelta(days=1)))
        for name in ("staff", "purpose", "operation", "result"):
            v = getattr(flt, name)
            if v:
                q &= Q(**{name: v})
        if flt.target:
            q &= Q(target__in=(flt.target, *flt.former)) if flt.former else Q(target=flt.target)
        if before is not None:
            q &= Q(seq__lt=before)
        rows = list(AccessLogEntry.objects.filter(q).order_by("-seq")[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page]
    return LogPage(rows, more, rows[-1].seq if more and rows else None)


def latest_verify_run() -> VerifyRun | None:
    """The last verification outcome (no personal data: counts, a seq number and a kind)."""
    return VerifyRun.objects.order_by("-id").first()
