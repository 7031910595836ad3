"""Reading export requests and the media log (外部出力申請・媒体管理簿の参照), through the door (G03)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import PURPOSE_LABELS, Operation, Purpose, parse_purpose

from . import registry
from .models import ExportRequest, ExportTerminal, MediaLogEntry, Medium, RequestState
from .services import MEDIA_RESOURCE, RESOURCE


def _m() -> str:
    return settings.MUNICIPALITY_CODE


@dataclass(frozen=True, slots=True)
class RequestView:
    """外部出力申請 as staff see it."""

    id: int
    kind: str
    purpose: str
    items: tuple[str, ...]
    reason: str
    destination: str
    medium: str
    encoding: str
    delete_within_days: int
    state: str
    requested_by: str
    requested_at: datetime
    terminal: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    approval_expires_at: datetime | None
    media_serial: str | None

    @property
    def state_label(self) -> str:
        return RequestState(self.state).label

    @property
    def medium_label(self) -> str:
        return Medium(self.medium).label

    @property
    def purpose_label(self) -> str:
        p = parse_purpose(self.purpose)
        return PURPOSE_LABELS[p] if p else self.purpose

    @property
    def kind_label(self) -> str:
        k = registry.get(self.kind)
        return k.label if k else self.kind

    @property
    def expired(self) -> bool:
        return (self.state == RequestState.APPROVED and self.approval_expires_at is not None
                and self.approval_expires_at <= timezone.now())


@dataclass(frozen=True, slots=True)
class MediaView:
    """One line of the media log (媒体管理簿)."""

    serial: str
    request_id: int
    kind: str
    purpose: str
    medium: str
    destination: str
    file_name: str
    file_sha256: str
    file_size: int
    row_count: int
    person_count: int
    items: tuple[str, ...]
    encryption: str
    written_by: str
    written_at: datetime
    terminal: str
    delete_due: date
    deletion_confirmed_at: datetime | None
    deletion_confirmed_by: str | None
    deletion_reported_by: str
    deletion_reported_on: date | None
    deletion_note: str

    @property
    def medium_label(self) -> str:
        return Medium(self.medium).label

    def overdue(self, today: date | None = None) -> bool:
        return self.deletion_confirmed_at is None and self.delete_due < (today or timezone.localdate())


def request_view(r: ExportRequest) -> RequestView:
    media = getattr(r, "media", None) if r.state == RequestState.PRODUCED else None
    return RequestView(
        r.pk, r.kind, r.purpose, tuple(r.items), r.reason, r.destination, r.medium, r.encoding, r.delete_within_days,
        r.state, r.requested_by.get_username(), r.requested_at, r.terminal,
        r.decided_by.get_username() if r.decided_by else None, r.decided_at, r.decision_note, r.approval_expires_at,
        media.serial if media else None,
    )


def _media_view(e: MediaLogEntry) -> MediaView:
    return MediaView(
        e.serial, e.request_id, e.request.kind, e.request.purpose, e.medium, e.destination, e.file_name,
        e.file_sha256, e.file_size, e.row_count, e.person_count, tuple(e.items), e.encryption,
        e.written_by.get_username(), e.written_at, e.terminal, e.delete_due, e.deletion_confirmed_at,
        e.deletion_confirmed_by.get_username() if e.deletion_confirmed_by else None, e.deletion_reported_by,
        e.deletion_reported_on, e.deletion_note,
    )


def _g03(ctx: AccessContext) -> AccessContext:
    return ctx.for_purpose(Purpose.EXPORT)


def list_requests(ctx: AccessContext, *, state: str | None = None, limit: int = 200) -> list[RequestView]:
    """外部出力申請の一覧, newest first (``state`` filters)."""
    with door(_g03(ctx), Operation.SEARCH, resource=RESOURCE) as rec:
        qs = ExportRequest.objects.filter(municipality=_m()).select_related("requested_by", "decided_by", "media")
        if state:
            qs = qs.filter(state=state)
        rows = [request_view(r) for r in qs.order_by("-requested_at", "-pk")[:limit]]
        rec.detail = f"list export requests n={len(rows)}"
    return rows


def get_request(ctx: AccessContext, request_id: int) -> RequestView:
    with door(_g03(ctx), Operation.READ, resource=RESOURCE, detail=f"read id={request_id}"):
        r = (ExportRequest.objects.filter(municipality=_m(), pk=request_id)
             .select_related("requested_by", "decided_by", "media").first())
        if r is None:
            raise InputRejected(f"外部出力申請 {request_id} がありません。 / No export request {request_id}.")
        return request_view(r)


def media_log(ctx: AccessContext, *, date_from: date | None = None, date_to: date | None = None,
              limit: int = 500) -> list[MediaView]:
    """媒体管理簿: media written in the period (by write date), newest first."""
    with door(_g03(ctx), Operation.SEARCH, resource=MEDIA_RESOURCE) as rec:
        qs = MediaLogEntry.objects.filter(municipality=_m()).select_related(
            "request", "written_by", "deletion_confirmed_by")
        if date_from:
            qs = qs.filter(written_at__date__gte=date_from)
        if date_to:
            qs = qs.filter(written_at__date__lte=date_to)
        rows = [_media_view(e) for e in qs.order_by("-written_at", "-pk")[:limit]]
        rec.detail = f"media log n={len(rows)}"
    return rows


def overdue(ctx: AccessContext, today: date | None = None) -> list[MediaView]:
    """Media whose deletion the recipient has not reported by the due date (消去報告の期限超過)."""
    d = today or timezone.localdate()
    with door(_g03(ctx), Operation.SEARCH, resource=MEDIA_RESOURCE, detail="overdue deletions") as rec:
        qs = (MediaLogEntry.objects.filter(municipality=_m(), deletion_confirmed_at__isnull=True, delete_due__lt=d)
              .select_related("request", "written_by", "deletion_confirmed_by").order_by("delete_due", "pk"))
        rows = [_media_view(e) for e in qs]
        rec.detail = f"overdue deletions n={len(rows)}"
    return rows


def permitted_terminals(ctx: AccessContext) -> list[tuple[str, str, str]]:
    """外部出力許可端末: (terminal, note, added_by)."""
    with door(_g03(ctx), Operation.SEARCH, resource="exports.terminal"):
        return list(ExportTerminal.objects.filter(municipality=_m()).order_by("terminal")
                    .values_list("terminal", "note", "added_by"))


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """Counts for the PIA report (no personal data)."""

    requests: int
    approved_or_produced: int
    rejected: int
    produced: int
    rows_written: int
    persons_written: int
    deletions_confirmed: int
    deletions_overdue: int
    by_kind: dict[str, int]


def summary(ctx: AccessContext, date_from: date, date_to: date, today: date | None = None) -> ExportSummary:
    """Export requests and media of the period, for the PIA report and self-inspection."""
    d = today or timezone.localdate()
    with door(ctx, Operation.READ, resource=RESOURCE, detail="export summary"):
        reqs = ExportRequest.objects.filter(municipality=_m(), requested_at__date__gte=date_from,
                                            requested_at__date__lte=date_to)
        agg = reqs.aggregate(
            n=Count("pk"),
            ok=Count("pk", filter=Q(state__in=[RequestState.APPROVED, RequestState.PRODUCED])),
            rej=Count("pk", filter=Q(state=RequestState.REJECTED)),
        )
        media = MediaLogEntry.objects.filter(municipality=_m(), written_at__date__gte=date_from,
                                             written_at__date__lte=date_to)
        m = media.aggregate(n=Count("pk"), rows=Sum("row_count"), persons=Sum("person_count"),
                            conf=Count("pk", filter=Q(deletion_confirmed_at__isnull=False)),
                            late=Count("pk", filter=Q(deletion_confirmed_at__isnull=True, delete_due__lt=d)))
        by_kind = dict(media.values_list("request__kind").annotate(c=Count("pk")).values_list("request__kind", "c"))
    return ExportSummary(agg["n"], agg["ok"], agg["rej"], m["n"], m["rows"] or 0, m["persons"] or 0, m["conf"],
                         m["late"], by_kind)


def waiting_work() -> list[tuple[str, str, int]]:
    """Export requests waiting for a 決裁者's approval, and media whose deletion the recipient has not
    reported by the due date, as (purpose code, label, count): counts only."""
    pending = ExportRequest.objects.filter(municipality=_m(), state=RequestState.PENDING).count()
    late = MediaLogEntry.objects.filter(municipality=_m(), deletion_confirmed_at__isnull=True,
                                        delete_due__lt=timezone.localdate()).count()
    out = [(Purpose.EXPORT.value, "承認待ち", pending), (Purpose.EXPORT.value, "消去報告の期限超過", late)]
    return [w for w in out if w[2]]
