"""Reads of notices: target lists with counts and diffs, reminder lists for phone follow-up, print
batches, vouchers by number. Every function takes an ``AccessContext`` and runs inside the door."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import Max

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation
from yobo.people import population

from .models import PrintBatch, Reminder, TargetEntry, TargetList, Voucher
from .services import NoticeRejected
from .vouchers import check_voucher_number

LIST_RESOURCE = "notices.list"
VOUCHER_RESOURCE = "notices.voucher"


def _m() -> str:
    return settings.MUNICIPALITY_CODE


@dataclass(frozen=True, slots=True)
class ListView:
    id: int
    kind: str
    vaccine: str
    as_of: date
    params: dict[str, object]
    count: int
    counts: dict[str, dict[str, int]]
    previous_id: int | None
    added: int
    removed: int
    created_by: str
    created_at: datetime


def _lview(t: TargetList) -> ListView:
    return ListView(t.pk, t.kind, t.vaccine, t.as_of, t.params, t.count, t.counts, t.previous_id, t.added, t.removed,
                    t.created_by.username, t.created_at)


def lists(ctx: AccessContext, *, kind: str | None = None, limit: int = 50) -> list[ListView]:
    """Saved lists, newest first (counts only, no personal data)."""
    with door(ctx, Operation.READ, resource=LIST_RESOURCE):
        qs = TargetList.objects.filter(municipality=_m()).select_related("created_by")
        if kind:
            qs = qs.filter(kind=kind)
        return [_lview(t) for t in qs.order_by("-created_at", "-id")[:limit]]


def get_list(ctx: AccessContext, list_id: int) -> ListView:
    with door(ctx, Operation.READ, resource=LIST_RESOURCE, target=str(list_id)):
        t = TargetList.objects.filter(municipality=_m(), pk=list_id).select_related("created_by").first()
    if t is None:
        raise NoticeRejected(f"対象者リスト {list_id} はありません / no such list: {list_id}")
    return _lview(t)


@dataclass(frozen=True, slots=True)
class Diff:
    added: list[str]  # 宛名番号 new on this list
    removed: list[str]  # 宛名番号 no longer targets


def diff(ctx: AccessContext, list_id: int) -> Diff:
    """New targets and persons no longer targets, against the previous run of the same vaccine."""
    with door(ctx, Operation.READ, resource=LIST_RESOURCE, target=str(list_id)) as rec:
        t = TargetList.objects.filter(municipality=_m(), pk=list_id).first()
        if t is None:
            raise NoticeRejected(f"対象者リスト {list_id} はありません / no such list: {list_id}")
        now = set(TargetEntry.objects.filter(target_list=t).values_list("atena_no", flat=True))
        before = set(TargetEntry.objects.filter(target_list_id=t.previous_id).values_list("atena_no", flat=True)) \
            if t.previous_id else set()
        d = Diff(sorted(now - before), sorted(before - now))
        rec.targets = [*d.added, *d.removed] or [""]
    return d


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A line of the reminder list (電話勧奨リスト)."""

    atena_no: str
    name: str
    kana: str
    birth_date: date
    phone: str
    dose: int
    eligible_until: date
    area: str
    protected: bool
    last_reminded: datetime | None
    last_result: str


def follow_up(ctx: AccessContext, list_id: int, *, limit: int = 500) -> list[FollowUp]:
    """A reminder list with names, phone numbers and when each was last reminded, soonest end first.
    Protected persons' phone numbers are shown only to staff with the address right."""
    from yobo.people.protection import can_see_protected_address

    with door(ctx, Operation.READ, resource=LIST_RESOURCE, target=str(list_id)) as rec:
        t = TargetList.objects.filter(municipality=_m(), pk=list_id).first()
        if t is None:
            raise NoticeRejected(f"対象者リスト {list_id} はありません / no such list: {list_id}")
        entries = list(TargetEntry.objects.filter(target_list=t).order_by("eligible_until", "atena_no")[:limit])
        atenas = [e.atena_no for e in entries]
        last: dict[str, tuple[datetime, str]] = {}
        for k in range(0, len(atenas), 900):
            chunk = atenas[k:k + 900]
            latest = dict(Reminder.objects.filter(municipality=_m(), vaccine=t.vaccine, atena_no__in=chunk)
                          .values("atena_no").annotate(at=Max("at")).values_list("atena_no", "at"))
            for a, when, res in Reminder.objects.filter(municipality=_m(), vaccine=t.vaccine, atena_no__in=chunk) \
                    .values_list("atena_no", "at", "result"):
                if latest.get(a) == when:
                    last[a] = (when, res)
        rec.targets = atenas or [""]
    people = population.addressees(ctx, atenas)
    see = can_see_protected_address(ctx)
    out = []
    for e in entries:
        p = people.get(e.atena_no)
        if p is None:
            continue
        at: datetime | None = None
        res = ""
        if e.atena_no in last:
            at, res = last[e.atena_no]
        out.append(FollowUp(e.atena_no, p.name_kanji, p.name_kana, p.birth_date,
                            p.phone if (see or not p.protected) else "（支援措置対象：非表示）", e.dose,
                            e.eligible_until, e.area, p.protected, at, res))
    return out


@dataclass(frozen=True, slots=True)
class BatchView:
    id: int
    kind: str
    kind_label: str
    list_id: int | None
    count: int
    pages: int
    pdf_path: str
    numbers_path: str
    reason: str
    created_by: str
    created_at: datetime
    volumes: tuple[str, ...] = ()  # every PDF of the batch (分冊); pdf_path is the first


def _bview(b: PrintBatch) -> BatchView:
    vols = tuple(str(v.get("path", "")) for v in (b.volumes or [])) or ((b.pdf_path,) if b.pdf_path else ())
    return BatchView(b.pk, b.kind, b.get_kind_display(), b.target_list_id, b.count, b.pages, b.pdf_path,
                     b.numbers_path, b.reason, b.created_by.username, b.created_at, vols)


def batches(ctx: AccessContext, *, list_id: int | None = None, limit: int = 50) -> list[BatchView]:
    with door(ctx, Operation.READ, resource=VOUCHER_RESOURCE):
        qs = PrintBatch.objects.filter(municipality=_m()).select_related("created_by")
        if list_id:
            qs = qs.filter(target_list_id=list_id)
        return [_bview(b) for b in qs.order_by("-created_at", "-id")[:limit]]


def get_batch(ctx: AccessContext, batch_id: int) -> BatchView:
    with door(ctx, Operation.READ, resource=VOUCHER_RESOURCE, target=str(batch_id)):
        b = PrintBatch.objects.filter(municipality=_m(), pk=batch_id).select_related("created_by").first()
    if b is None:
        raise NoticeRejected(f"印刷バッチ {batch_id} はありません / no such batch")
    return _bview(b)


@dataclass(frozen=True, slots=True)
class VoucherView:
    number: str
    ocr: str
    atena_no: str
    vaccine: str
    dose: int
    batch_id: int
    state: str
    issued_at: datetime
    void_reason: str
    replaced_by: str
    returned_at: datetime | None
    returned_note: str


def find_voucher(ctx: AccessContext, number: str) -> VoucherView:
    """A voucher by its number (券番号); the check digit is verified first."""
    n = check_voucher_number(number)
    with door(ctx, Operation.READ, resource=VOUCHER_RESOURCE, target=n) as rec:
        v = Voucher.objects.filter(municipality=_m(), number=n).select_related("replaced_by").first()
        if v is None:
            raise NoticeRejected(f"券番号 {n} は発行されていません / voucher {n} was not issued")
        rec.targets = [v.atena_no]
    return VoucherView(v.number, v.ocr, v.atena_no, v.vaccine, v.dose, v.batch_id, v.state, v.issued_at,
                       v.void_reason, v.replaced_by.number if v.replaced_by else "", v.returned_at, v.returned_note)


def vouchers_of(ctx: AccessContext, atena_no: str) -> list[VoucherView]:
    with door(ctx, Operation.READ, resource=VOUCHER_RESOURCE, target=str(atena_no)):
        vs = list(Voucher.objects.filter(municipality=_m(), atena_no=str(atena_no)).select_related("replaced_by")
                  .order_by("-issued_at", "-id"))
    return [VoucherView(v.number, v.ocr, v.atena_no, v.vaccine, v.dose, v.batch_id, v.state, v.issued_at,
                        v.void_reason, v.replaced_by.number if v.replaced_by else "", v.returned_at, v.returned_note)
            for v in vs]
