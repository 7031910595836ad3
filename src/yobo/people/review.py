"""確認記録: staff record that they looked at what a batch left for them (decision 052).

A batch never decides some things by itself; it lists them for a person to look at:

- a person on record but missing from a complete snapshot (``BatchAbsence``, 全件ファイルにない宛名;
  CONTRACTS.md §1 "reported and listed for review"), purpose P01 (住民記録の連携);
- a 住基ネット check finding (``NonResidentFinding``: not found, another person's items, …),
  purpose P03 (住登外者の登録).

:func:`mark` records who looked, when and what they found (a short note, never a number). The
purpose is the item's own (P01 or P03), whatever screen the staff member came from.

A daily snapshot lists a person absent for months every day, and a periodic check lists a person
not found every time: the item is looked at once. A new batch copies the review of the previous batch
of its kind for the same person and reason (:func:`previous_batch`, the import's absence ``INSERT``
and :func:`carry_over`), and :func:`mark` records the review on every later batch that still lists
it. An absence is carried over only while the person was not changed by a batch in between: a
person who came back and went missing again is looked at again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation, Purpose

from .models import BatchAbsence, BatchStatus, ImportBatch, NonResidentFinding, Person, ResidentStatus

RESOURCE = "people.person"
CHECK_RESOURCE = "people.nonresident"  # jukinet.RESOURCE
ABSENT = "absent"
ABSENT_LABEL = "全件ファイルにない（住民記録側で消除・誤記録の訂正などがなかったか確認）"
CHECK_MODE = "jkn"  # jukinet.MODE (not imported: jukinet imports this module)
SNAPSHOT_MODE = "full"
LISTING_MODES = (SNAPSHOT_MODE, CHECK_MODE)  # the batches that list items for review
NOTE_MAX = 200
_LONG_DIGITS = re.compile(r"\d{12,}")


class NoSuchItem(InputRejected):
    pass


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One item a batch left for staff, with its review if any."""

    atena_no: str
    code: str  # "absent" or a jukinet.Finding code
    label: str
    row: int | None  # the answer file's row (findings); None for an absence
    name_kanji: str  # as registered now ("" if the 宛名番号 is unknown)
    status: int | None  # 住民区分: the person's now (findings), as the snapshot's batch saw it (absences)
    reviewed_by: str
    reviewed_at: datetime | None
    review_note: str

    @property
    def reviewed(self) -> bool:
        return self.reviewed_at is not None

    @property
    def status_label(self) -> str:
        return ResidentStatus(self.status).label if self.status is not None else ""


def _resource(batch: ImportBatch) -> str:
    return CHECK_RESOURCE if batch.mode == CHECK_MODE else RESOURCE


def purpose_of(mode: str) -> Purpose:
    """The purpose the items of a batch of ``mode`` are read and reviewed under."""
    return Purpose.NONRESIDENT_REGISTRATION if mode == CHECK_MODE else Purpose.RESIDENT_SYNC


def lists_items(status: str, mode: str) -> bool:
    """Whether a batch of this status and mode lists items for review (an applied snapshot or check)."""
    return status == BatchStatus.APPLIED and mode in LISTING_MODES


def _m() -> str:
    return str(settings.MUNICIPALITY_CODE)


def _reviewable(batch_id: int) -> ImportBatch:
    batch = ImportBatch.objects.filter(pk=batch_id, municipality=_m(), status=BatchStatus.APPLIED).first()
    if batch is None or not lists_items(batch.status, batch.mode):
        raise NoSuchItem(f"バッチ {batch_id} に確認する項目はありません"
                         "（全件取込か住基ネット確認の適用済みバッチを指定してください）。"
                         f" / Batch {batch_id} lists nothing to review (give an applied --full or 住基ネット batch).")
    return batch


def previous_batch(mode: str, before_id: int | None = None) -> int | None:
    """The applied batch of ``mode`` just before ``before_id`` (the one whose reviews carry over), or
    without it the latest one (the current list)."""
    qs = ImportBatch.objects.filter(municipality=_m(), mode=mode, status=BatchStatus.APPLIED)
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    prev = qs.order_by("-pk").values_list("pk", flat=True).first()
    return int(prev) if prev is not None else None


def current_batches() -> dict[str, int]:
    """The latest applied batch of each listing mode: the lists staff work from now."""
    latest = {mode: previous_batch(mode) for mode in LISTING_MODES}
    return {mode: b for mode, b in latest.items() if b is not None}


def carry_over(batch: ImportBatch, findings: list[NonResidentFinding]) -> None:
    """Give new findings the review of the previous check's same finding (same person, same code)."""
    prev = previous_batch(CHECK_MODE, batch.pk)
    if prev is None or not findings:
        return
    done = {(f.atena_no, f.code): f
            for f in NonResidentFinding.objects.filter(batch_id=prev, reviewed_at__isnull=False)}
    for f in findings:
        old = done.get((f.atena_no, f.code))
        if old is not None:
            f.reviewed_by_id, f.reviewed_at, f.review_note = old.reviewed_by_id, old.reviewed_at, old.review_note


def items(ctx: AccessContext, batch_id: int) -> tuple[ImportBatch, list[ReviewItem]]:
    """What ``batch_id`` left for staff, with each person's registered name and review. One READ
    entry naming the persons listed (the batch number when there are none)."""
    batch = _reviewable(batch_id)
    rctx = ctx.for_purpose(purpose_of(batch.mode))
    with door(rctx, Operation.READ, resource=_resource(batch), detail=f"review list batch={batch.pk}") as rec:
        if batch.mode == CHECK_MODE:
            from .jukinet import FINDING_LABELS

            rows: list[tuple[Any, ...]] = list(
                NonResidentFinding.objects.filter(batch=batch).order_by("row").values_list(
                    "atena_no", "code", "row", "reviewed_by__username", "reviewed_at", "review_note"))
            labels = {r[1]: FINDING_LABELS.get(r[1], r[1]) for r in rows}
        else:
            rows = list(BatchAbsence.objects.filter(batch=batch).order_by("atena_no").values_list(
                "atena_no", "status", "reviewed_by__username", "reviewed_at", "review_note"))
            labels = {ABSENT: ABSENT_LABEL}
        persons = {a: (n, s) for a, n, s in Person.objects.filter(
            municipality=_m(), atena_no__in=[r[0] for r in rows]).values_list("atena_no", "name_kanji", "status")}
        rec.targets = sorted({r[0] for r in rows}) or [str(batch.pk)]
        rec.detail = f"review list batch={batch.pk} n={len(rows)}"
    unknown: tuple[str, int | None] = ("", None)
    if batch.mode == CHECK_MODE:
        return batch, [ReviewItem(a, code, labels[code], row, (p := persons.get(a, unknown))[0], p[1], by or "", at,
                                  note or "") for a, code, row, by, at, note in rows]
    # an absence shows the 住民区分 the snapshot's batch saw
    return batch, [ReviewItem(a, ABSENT, ABSENT_LABEL, None, persons.get(a, unknown)[0], status, by or "", at,
                              note or "") for a, status, by, at, note in rows]


def clean_note(note: str) -> str:
    """A review note as kept: one line, at most 200 characters, never a run of 12 or more digits
    (a My Number must not end up in a free-text field)."""
    text = " ".join(unicodedata.normalize("NFKC", note or "").split())
    if not text:
        raise InputRejected("確認した内容を備考に書いてください。 / Say what you found in the note.")
    if len(text) > NOTE_MAX:
        raise InputRejected(f"備考は{NOTE_MAX}文字までです。 / The note is limited to {NOTE_MAX} characters.")
    if _LONG_DIGITS.search(text):
        raise InputRejected("備考に12桁以上の数字は書けません（個人番号を書かないため）。"
                            " / The note may not hold 12 or more digits in a row (no My Numbers).")
    return text


def mark(ctx: AccessContext, batch_id: int, atena_no: str, note: str) -> int:
    """Record that ``atena_no``'s item in ``batch_id`` was looked at, with ``note``: on that batch and
    on every later batch of its kind still listing it unreviewed. Returns how many rows were marked.
    An item already reviewed is refused (the first review stands)."""
    text = clean_note(note)
    batch = _reviewable(batch_id)
    rctx = ctx.for_purpose(purpose_of(batch.mode))
    with door(rctx, Operation.UPDATE, resource=_resource(batch), target=atena_no,
              detail=f"review batch={batch.pk}") as rec:
        later_batch = Q(batch=batch) | Q(batch__mode=batch.mode, batch__status=BatchStatus.APPLIED,
                                         batch_id__gt=batch.pk)
        later: QuerySet[Any]
        if batch.mode == CHECK_MODE:
            mine: QuerySet[Any] = NonResidentFinding.objects.filter(batch=batch, atena_no=atena_no)
            later = NonResidentFinding.objects.filter(
                later_batch, code__in=set(mine.values_list("code", flat=True)))
        else:
            mine = BatchAbsence.objects.filter(batch=batch, atena_no=atena_no)
            later = BatchAbsence.objects.filter(later_batch)
        if not mine.exists():
            raise NoSuchItem(f"バッチ {batch.pk} に宛名番号 {atena_no} の確認項目はありません。"
                             f" / Batch {batch.pk} lists nothing for 宛名番号 {atena_no}.")
        if not mine.filter(reviewed_at__isnull=True).exists():
            raise InputRejected(f"宛名番号 {atena_no} はバッチ {batch.pk} で確認済みです。"
                                f" / 宛名番号 {atena_no} is already reviewed in batch {batch.pk}.")
        later = later.filter(municipality=_m(), atena_no=atena_no, reviewed_at__isnull=True)
        n = later.update(reviewed_by_id=ctx.staff_id, reviewed_at=timezone.now(), review_note=text)
        rec.detail = f"review batch={batch.pk} rows={n}"
    return int(n)


def open_counts(batch_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(items, not yet reviewed) per batch: counts only, no person (for the batch list)."""
    out: dict[int, tuple[int, int]] = {}
    for model in (BatchAbsence, NonResidentFinding):
        for b, total, open_ in _counts(model, batch_ids):
            out[b] = (total, open_)
    return out


def waiting() -> dict[str, int]:
    """Items not yet reviewed on the latest applied batch of each listing mode (what staff still have
    to look at; older batches' items either carried over or no longer stand): counts only, no person."""
    latest = current_batches()
    counts = open_counts(list(latest.values()))
    return {mode: counts.get(b, (0, 0))[1] for mode, b in latest.items()}


def _counts(model: Any, batch_ids: list[int]) -> list[tuple[int, int, int]]:
    return [(r["batch_id"], r["n"], r["open"]) for r in model.objects.filter(batch_id__in=batch_ids)
            .values("batch_id").annotate(n=Count("id"), open=Count("id", filter=Q(reviewed_at__isnull=True)))]
