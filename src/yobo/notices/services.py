"""Writes of notices: print batches (接種券・予診票の発行), reprints, reissues (再発行), move-in issuance
(転入者への発行), returned mail (宛先不明), reminders (接種勧奨) and the contractor's mailing file.

A batch is all or nothing (docs/decisions/110-notices.md): the serials are reserved first in a short
transaction, the PDF and ``numbers.csv`` are drawn into temporary files with no lock held, and only
then, in one transaction inside the door, the batch and its vouchers are recorded and the files
moved into place. A batch that fails while drawing leaves a gap in the serials and no voucher: no
number is ever half-issued, and none is ever reused.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation, Purpose
from yobo.core.wareki import to_wareki
from yobo.people import population
from yobo.schedule.rules import load_series

from . import extraction, render
from .models import (
    BatchKind,
    Channel,
    ListKind,
    NoticeCounter,
    PrintBatch,
    Reminder,
    TargetEntry,
    TargetList,
    Voucher,
    VoucherState,
)
from .vouchers import TICKET_A, TICKET_B, ocr_line, voucher_number

RESOURCE = "notices.voucher"
SEX = {1: "男", 2: "女"}
MAILING_KIND = "notices.mailing"
MAILING_ITEMS = ("郵便番号", "住所", "方書", "氏名", "券番号", "ワクチン名", "通知種別")


class NoticeRejected(InputRejected):
    """Bad request to a notices service: nothing was changed."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    batch_id: int
    count: int
    pages: int
    pdf: str
    numbers: str
    skipped: dict[str, int]
    pdfs: list[str] = dataclasses.field(default_factory=list)  # every volume; ``pdf`` is the first


def _m() -> str:
    return settings.MUNICIPALITY_CODE


# --- numbers --------------------------------------------------------------------------------------


def reserve_serials(n: int, name: str = "voucher") -> int:
    """Reserve ``n`` serials for this city in one statement; returns the first. Committed at once, so
    a later failure leaves a gap, never a reuse. ``UPDATE … RETURNING`` takes the row lock
    (PostgreSQL) or the write lock (SQLite) for that one statement only."""
    if n <= 0:
        return 0
    m = _m()
    with transaction.atomic():
        NoticeCounter.objects.get_or_create(municipality=m, name=name)
        with connection.cursor() as cur:
            cur.execute(
                "UPDATE notices_counter SET last = last + %s WHERE municipality = %s AND name = %s RETURNING last",
                [n, m, name],
            )
            row = cur.fetchone()
    assert row is not None  # noqa: S101 - the row was just ensured
    return int(row[0]) - n + 1


# --- drawing --------------------------------------------------------------------------------------


def _vaccine_name(code: str) -> str:
    s = load_series().get(code)
    return s.name_ja if s else code


def _ticket(code: str) -> int:
    s = load_series().get(code)
    return TICKET_B if s and s.category == "B" else TICKET_A


def _values(a: population.Addressee, *, vaccine: str, dose: int, number: str, ocr: str, ocr_spaced: str,
            eligible_from: date | None, eligible_until: date | None, layout: dict[str, object]) -> dict[str, str]:
    return {
        "postal": f"{a.postal_code[:3]}-{a.postal_code[3:]}" if len(a.postal_code) == 7 else a.postal_code,
        "address": a.address, "address_extra": a.address_extra, "name": a.name_kanji, "kana": a.name_kana,
        "birth_wareki": to_wareki(a.birth_date), "sex": SEX.get(a.sex, ""), "atena": a.atena_no,
        "vaccine_name": _vaccine_name(vaccine), "dose": str(dose), "number": number, "ocr": ocr,
        "ocr_spaced": ocr_spaced,
        "eligible_from": to_wareki(eligible_from) if eligible_from else "",
        "valid_until": to_wareki(eligible_until) if eligible_until else "",
        "issued": to_wareki(timezone.localdate()),
        "city_name": str(layout.get("city_name", "")), "issuer": str(layout.get("issuer", "")),
        "contact": str(layout.get("contact", "")),
    }


@dataclass
class _Item:
    entry: TargetEntry | None
    person: population.Addressee
    vaccine: str
    dose: int
    eligible_from: date | None
    eligible_until: date | None
    number: str = ""
    ocr: str = ""


def _order(items: list[_Item]) -> list[_Item]:
    """Postal-code order for the envelopes (区分郵便), then 宛名番号."""
    return sorted(items, key=lambda i: (i.person.postal_code or "9999999", i.person.atena_no))


def volume_size() -> int:
    """Persons per PDF volume (分冊): ``YOBO_VOUCHER_VOLUME``, default 2,500 (a print-room bundle)."""
    try:
        return max(1, int(os.environ.get("YOBO_VOUCHER_VOLUME", "2500")))
    except ValueError:
        return 2500


def _draw(items: list[_Item], out_dir: Path, stem: str, cover: dict[str, str], *, letters: bool = False,
          write_numbers: bool = True) -> tuple[list[Path], Path | None, int, dict[str, str]]:
    """Draw the PDF volumes (and numbers.csv) into temporary files next to their final place.

    One volume per ``volume_size()`` persons, each with its own cover sheet; several volumes are
    drawn by a pool of two worker processes (the drawing is pure Python, one core each)."""
    layout, where = render.load_layout(settings.VAR_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_tmp = out_dir / f".{stem}.numbers.part" if write_numbers else None
    size = volume_size()
    chunks = [items[k:k + size] for k in range(0, len(items), size)] or [[]]
    pdfs = [out_dir / f".{stem}-{k + 1:02d}.pdf.part" for k in range(len(chunks))]
    try:
        values: list[list[dict[str, str]]] = []
        csv_f = csv_tmp.open("w", encoding="utf-8", newline="") if csv_tmp else None
        try:
            w = csv.writer(csv_f, lineterminator="\r\n") if csv_f else None
            if w:
                w.writerow(["宛名番号", "券番号", "OCR"])
            for chunk in chunks:
                vs = []
                for it in chunk:
                    line = ocr_line(_ticket(it.vaccine), it.dose, _m(), it.number) if it.number else None
                    vs.append(_values(it.person, vaccine=it.vaccine, dose=it.dose, number=it.number,
                                      ocr=line.text if line else "", ocr_spaced=line.spaced() if line else "",
                                      eligible_from=it.eligible_from, eligible_until=it.eligible_until,
                                      layout=layout))
                    if w and line:
                        it.ocr = line.text
                        w.writerow([it.person.atena_no, it.number, line.text])
                values.append(vs)
        finally:
            if csv_f:
                csv_f.close()
        title = cover.get("title", stem)
        covers = [{**cover, "pages": f"分冊 {k + 1}/{len(chunks)}（{len(vs)} 件）"} for k, vs in enumerate(values)]
        if len(chunks) == 1:
            pages = render.render_volume(str(pdfs[0]), layout, title, covers[0], values[0], letters)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn: the workers import only the pure drawing module (no Django, no open connections).
            with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [pool.submit(render.render_volume, str(pdfs[k]), layout, title, covers[k], values[k],
                                       letters) for k in range(len(chunks))]
                pages = sum(f.result() for f in futures)
    except BaseException:
        for p in pdfs:
            p.unlink(missing_ok=True)
        if csv_tmp:
            csv_tmp.unlink(missing_ok=True)
        raise
    return pdfs, csv_tmp, pages, {"layout": where}


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _cover(kind: str, ctx: AccessContext, tl: TargetList | None, count: int, protected: int) -> dict[str, str]:
    return {
        "title": f"{BatchKind(kind).label} {tl.vaccine if tl else ''}", "batch_id": "（記録時に採番）",
        "list_id": str(tl.pk) if tl else "—", "vaccine_name": _vaccine_name(tl.vaccine) if tl else "",
        "as_of": to_wareki(tl.as_of) if tl else "", "count": str(count), "pages": "",
        "protected": str(protected), "operator": ctx.username, "terminal": ctx.terminal,
        "created": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
    }


def _finish(ctx: AccessContext, kind: str, items: list[_Item], out_dir: Path, pdf_tmps: list[Path],
            csv_tmp: Path | None,
            pages: int, meta: dict[str, str], *, tl: TargetList | None, reason: str = "",
            reprint_of: PrintBatch | None = None, make_vouchers: bool = True,
            after: Callable[[PrintBatch], None] | None = None) -> BatchResult:
    """Record the batch and its vouchers and move the files into place, in one door and transaction."""
    finals: list[Path] = []
    final_csv: Path | None = None
    try:
        with door(ctx, Operation.ISSUE, resource=RESOURCE, detail=f"{kind} list={tl.pk if tl else ''}") as rec:
            now = timezone.now()
            b = PrintBatch.objects.create(
                municipality=_m(), kind=kind, target_list=tl, reprint_of=reprint_of, reason=reason[:200],
                count=len(items), pages=pages, layout=meta.get("layout", ""), created_by_id=ctx.staff_id,
                created_at=now, terminal=ctx.terminal, request_id=ctx.request_id,
            )
            if make_vouchers:
                Voucher.objects.bulk_create([
                    Voucher(municipality=_m(), number=it.number, ocr=it.ocr, atena_no=it.person.atena_no,
                            vaccine=it.vaccine, dose=it.dose, batch=b, target_list=tl, issued_at=now)
                    for it in items
                ], batch_size=2000)
            if after:
                after(b)
            for k, tmp in enumerate(pdf_tmps):
                final = out_dir / (f"{kind}-{b.pk}.pdf" if len(pdf_tmps) == 1 else f"{kind}-{b.pk}-{k + 1:02d}.pdf")
                os.replace(tmp, final)
                finals.append(final)
            if csv_tmp is not None:
                final_csv = out_dir / "numbers.csv"
                os.replace(csv_tmp, final_csv)
            b.pdf_path, b.pdf_sha256 = str(finals[0]), _sha256(finals[0])
            b.volumes = [{"path": str(f), "sha256": _sha256(f)} for f in finals]
            b.numbers_path = str(final_csv or "")
            b.save(update_fields=["pdf_path", "pdf_sha256", "volumes", "numbers_path"])
            rec.targets = [it.person.atena_no for it in items] or [""]
            rec.detail = f"{kind} batch={b.pk} list={tl.pk if tl else ''} count={len(items)} pages={pages}"
    except BaseException:
        for p in (*pdf_tmps, *finals, csv_tmp, final_csv):
            if p is not None:
                p.unlink(missing_ok=True)
        raise
    return BatchResult(b.pk, len(items), pages, str(finals[0]), str(final_csv or ""), {},
                       [str(f) for f in finals])


def _check_out_dir(out_dir: Path | str, numbers: bool = True) -> Path:
    out = Path(out_dir)
    if numbers and (out / "numbers.csv").exists():
        raise NoticeRejected(f"出力先に numbers.csv が既にあります（上書きしません）: {out}"
                             f" / {out}/numbers.csv exists; choose an empty directory")
    return out


def _list(ctx: AccessContext, list_id: int, kind: str) -> TargetList:
    tl = TargetList.objects.filter(municipality=_m(), pk=list_id, kind=kind).first()
    if tl is None:
        raise NoticeRejected(f"対象者リスト {list_id} はありません / no such list: {list_id}")
    return tl


def issue_batch(ctx: AccessContext, list_id: int, out_dir: Path | str, *,
                progress: Callable[[int], None] | None = None) -> BatchResult:
    """接種券・予診票の発行 (purpose N02) for a target list: a voucher for each person on it who is
    still a resident and holds no valid voucher for that vaccine and dose; PDF + numbers.csv."""
    out = _check_out_dir(out_dir)
    with door(ctx, Operation.READ, resource="notices.list", target=str(list_id)):
        tl = _list(ctx, list_id, ListKind.TARGETS)
        entries = list(TargetEntry.objects.filter(target_list=tl).order_by("atena_no"))
        held = set(Voucher.objects.filter(municipality=_m(), vaccine=tl.vaccine, state=VoucherState.ISSUED)
                   .values_list("atena_no", "dose"))
    people = population.addressees(ctx, [e.atena_no for e in entries])
    skipped = {"already_issued": 0, "not_resident": 0}
    items: list[_Item] = []
    for e in entries:
        p = people.get(e.atena_no)
        if (e.atena_no, e.dose) in held:
            skipped["already_issued"] += 1
        elif p is None or p.status != 1:
            skipped["not_resident"] += 1
        else:
            items.append(_Item(e, p, tl.vaccine, e.dose, e.eligible_from, e.eligible_until))
    items = _order(items)
    first = reserve_serials(len(items))
    for k, it in enumerate(items):
        it.number = voucher_number(first + k)
    protected = sum(1 for it in items if it.person.protected)
    pdf_tmps, csv_tmp, pages, meta = _draw(items, out, f"issue-{tl.pk}-{first}",
                                          _cover(BatchKind.ISSUE, ctx, tl, len(items), protected))
    res = _finish(ctx, BatchKind.ISSUE, items, out, pdf_tmps, csv_tmp, pages, meta, tl=tl)
    return BatchResult(res.batch_id, res.count, res.pages, res.pdf, res.numbers, skipped, res.pdfs)


def reprint(ctx: AccessContext, batch_id: int, reason: str, out_dir: Path | str) -> BatchResult:
    """再印刷: the same vouchers (still valid ones) with the current names and addresses; a reason is
    required; no number is allocated."""
    if not reason.strip():
        raise NoticeRejected("再印刷の理由を入力してください / a reprint needs a reason")
    out = Path(out_dir)
    with door(ctx, Operation.READ, resource=RESOURCE, target=str(batch_id)):
        b = PrintBatch.objects.filter(municipality=_m(), pk=batch_id).select_related("target_list").first()
        if b is None:
            raise NoticeRejected(f"印刷バッチ {batch_id} はありません / no such batch")
        vs = list(Voucher.objects.filter(batch=b, state=VoucherState.ISSUED).order_by("number"))
        ends = {e.atena_no: (e.eligible_from, e.eligible_until)
                for e in TargetEntry.objects.filter(target_list_id=b.target_list_id)} if b.target_list_id else {}
    people = population.addressees(ctx, [v.atena_no for v in vs])
    items = [_Item(None, people[v.atena_no], v.vaccine, v.dose, ends.get(v.atena_no, (None, None))[0],
                   ends.get(v.atena_no, (None, None))[1], number=v.number, ocr=v.ocr)
             for v in vs if v.atena_no in people]
    items = _order(items)
    protected = sum(1 for it in items if it.person.protected)
    pdf_tmps, _, pages, meta = _draw(items, out, f"reprint-{b.pk}", _cover(BatchKind.REPRINT, ctx, b.target_list,
                                                                          len(items), protected), write_numbers=False)
    return _finish(ctx, BatchKind.REPRINT, items, out, pdf_tmps, None, pages, meta, tl=b.target_list, reason=reason,
                   reprint_of=b, make_vouchers=False)


def reissue(ctx: AccessContext, number: str, reason: str, out_dir: Path | str) -> BatchResult:
    """再発行: void the voucher (its number is never used again) and issue a new number to the same
    person, vaccine and dose; a one-voucher PDF."""
    from .vouchers import check_voucher_number

    n = check_voucher_number(number)
    if not reason.strip():
        raise NoticeRejected("再発行の理由を入力してください / a reissue needs a reason")
    out = Path(out_dir)
    with door(ctx, Operation.READ, resource=RESOURCE, target=n):
        old = Voucher.objects.filter(municipality=_m(), number=n).select_related("target_list").first()
        if old is None:
            raise NoticeRejected(f"券番号 {n} は発行されていません / voucher {n} was not issued")
        if old.state != VoucherState.ISSUED:
            raise NoticeRejected(f"券番号 {n} は既に無効です / voucher {n} is already void")
        entry = TargetEntry.objects.filter(target_list_id=old.target_list_id, atena_no=old.atena_no).first()
    people = population.addressees(ctx, [old.atena_no])
    p = people.get(old.atena_no)
    if p is None or p.status != 1:
        raise NoticeRejected("住民でない方には再発行できません / the person is not a resident")
    item = _Item(entry, p, old.vaccine, old.dose, entry.eligible_from if entry else None,
                 entry.eligible_until if entry else None, number=voucher_number(reserve_serials(1)))
    pdf_tmps, _, pages, meta = _draw([item], out, f"reissue-{n}", _cover(BatchKind.REISSUE, ctx, old.target_list, 1,
                                                                        int(p.protected)), write_numbers=False)
    item.ocr = ocr_line(_ticket(item.vaccine), item.dose, _m(), item.number).text

    def void_old(b: PrintBatch) -> None:
        new = Voucher.objects.get(batch=b)
        updated = Voucher.objects.filter(pk=old.pk, state=VoucherState.ISSUED).update(
            state=VoucherState.VOID, void_at=timezone.now(), void_reason=reason.strip()[:200], replaced_by=new)
        if updated != 1:
            raise NoticeRejected(f"券番号 {n} は既に無効です / voucher {n} is already void")

    return _finish(ctx, BatchKind.REISSUE, [item], out, pdf_tmps, None, pages, meta, tl=old.target_list,
                   reason=reason, after=void_old)


def issue_on_application(ctx: AccessContext, atena_no: str, vaccine: str, out_dir: Path | str, *,
                         history: str, as_of: date | None = None) -> BatchResult:
    """転入者等への申請による発行: once the person's history from the previous city is known
    (``history="known"``, recorded as doses) or recorded as unknown (``history="unknown"``), issue a
    voucher for the next dose if the vaccine is due for them on ``as_of`` (today by default)."""
    if history not in ("known", "unknown"):
        raise NoticeRejected("接種歴の確認状況を known（確認済み）か unknown（不明として記録）で指定してください"
                             " / history must be 'known' or 'unknown'")
    day = as_of or timezone.localdate()
    code = extraction.check_request(vaccine, day)
    out = Path(out_dir)
    people = population.addressees(ctx, [atena_no])
    p = people.get(str(atena_no))
    if p is None or p.status != 1:
        raise NoticeRejected("住民でない方には発行できません / the person is not a resident")
    from yobo.immunizations import selectors as imm

    st = next((s for s in imm.person_history(ctx, p.atena_no, as_of=day).series if s.vaccine == code), None)
    if st is None or st.status != "due":
        raise NoticeRejected(f"{code} は {day} 時点で接種対象（未完了）ではありません"
                             f" / {code} is not due for this person on {day}")
    with door(ctx, Operation.READ, resource=RESOURCE, target=p.atena_no):
        if Voucher.objects.filter(municipality=_m(), atena_no=p.atena_no, vaccine=code, dose=st.dose,
                                  state=VoucherState.ISSUED).exists():
            raise NoticeRejected("有効な接種券が既にあります。再発行を使ってください"
                                 " / a valid voucher exists; use reissue")
    item = _Item(None, p, code, st.dose, st.eligible_from, st.eligible_until,
                 number=voucher_number(reserve_serials(1)))
    pdf_tmps, _, pages, meta = _draw([item], out, f"movein-{p.atena_no}", _cover(BatchKind.MOVE_IN, ctx, None, 1,
                                                                               int(p.protected)), write_numbers=False)
    item.ocr = ocr_line(_ticket(code), item.dose, _m(), item.number).text
    basis = "接種歴確認済み" if history == "known" else "接種歴不明として記録"
    return _finish(ctx, BatchKind.MOVE_IN, [item], out, pdf_tmps, None, pages, meta, tl=None,
                   reason=f"転入者申請 ({basis})")


def record_returned(ctx: AccessContext, number: str, note: str = "") -> None:
    """宛先不明で返戻された接種券を記録する (the voucher stays valid; reissue when the address is known)."""
    from .vouchers import check_voucher_number

    n = check_voucher_number(number)
    with door(ctx, Operation.UPDATE, resource=RESOURCE, target=n) as rec:
        v = Voucher.objects.filter(municipality=_m(), number=n).first()
        if v is None:
            raise NoticeRejected(f"券番号 {n} は発行されていません / voucher {n} was not issued")
        v.returned_at, v.returned_note = timezone.now(), (note or "宛先不明").strip()[:200]
        v.save(update_fields=["returned_at", "returned_note"])
        rec.targets = [v.atena_no]
        rec.detail = f"returned voucher={n}"


# --- reminders (接種勧奨, purpose N03) -------------------------------------------------------------


def print_reminders(ctx: AccessContext, list_id: int, out_dir: Path | str) -> BatchResult:
    """Letters (PDF) for a reminder list, in postal-code order; each letter recorded per person
    (channel letter) so the next run shows who was reminded when. Protected persons (支援措置) are
    left out of the print and listed for individual handling."""
    out = Path(out_dir)
    with door(ctx, Operation.READ, resource="notices.list", target=str(list_id)):
        tl = _list(ctx, list_id, ListKind.REMINDERS)
        entries = list(TargetEntry.objects.filter(target_list=tl).order_by("atena_no"))
    people = population.addressees(ctx, [e.atena_no for e in entries])
    items = _order([_Item(e, people[e.atena_no], tl.vaccine, e.dose, e.eligible_from, e.eligible_until)
                    for e in entries if e.atena_no in people and people[e.atena_no].status == 1
                    and not people[e.atena_no].protected])
    pdf_tmps, _, pages, meta = _draw(items, out, f"remind-{tl.pk}", _cover(BatchKind.REMINDER, ctx, tl, len(items), 0),
                                    letters=True, write_numbers=False)

    def record(b: PrintBatch) -> None:
        now = timezone.now()
        Reminder.objects.bulk_create([
            Reminder(municipality=_m(), atena_no=it.person.atena_no, vaccine=tl.vaccine, target_list=tl,
                     channel=Channel.LETTER, at=now, result="送付", recorded_by_id=ctx.staff_id, batch=b)
            for it in items
        ], batch_size=2000)

    return _finish(ctx, BatchKind.REMINDER, items, out, pdf_tmps, None, pages, meta, tl=tl, make_vouchers=False,
                   after=record)


def record_reminder(ctx: AccessContext, list_id: int, atena_no: str, *, channel: str = Channel.PHONE,
                    result: str) -> None:
    """One follow-up (電話勧奨 etc.) with its result, for a person on a reminder list."""
    if channel not in Channel.values:
        raise NoticeRejected(f"勧奨の方法が不明です: {channel} / unknown channel")
    if not result.strip():
        raise NoticeRejected("結果を入力してください / give the result")
    with door(ctx, Operation.CREATE, resource="notices.reminder", target=str(atena_no)):
        tl = _list(ctx, list_id, ListKind.REMINDERS)
        if not TargetEntry.objects.filter(target_list=tl, atena_no=str(atena_no)).exists():
            raise NoticeRejected("この方はリストに含まれていません / the person is not on this list")
        Reminder.objects.create(municipality=_m(), atena_no=str(atena_no), vaccine=tl.vaccine, target_list=tl,
                                channel=channel, at=timezone.now(), result=result.strip()[:100],
                                recorded_by_id=ctx.staff_id)


# --- mailing file for the print/mail contractor (approved export) ------------------------------------


def mailing_rows(ctx: AccessContext, batch_id: int) -> tuple[tuple[str, ...], list[list[str]]]:
    """The rows of a batch's mailing file: only what the mailing needs (no 宛名番号, no My Number,
    no health data beyond the vaccine name). Protected persons (支援措置) are never handed to the
    contractor: the city mails those itself."""
    with door(ctx, Operation.READ, resource=RESOURCE, target=str(batch_id)) as rec:
        b = PrintBatch.objects.filter(municipality=_m(), pk=batch_id).first()
        if b is None:
            raise NoticeRejected(f"印刷バッチ {batch_id} はありません / no such batch")
        if b.kind == BatchKind.REMINDER:
            pairs = [(r, "", r_v) for r, r_v in Reminder.objects.filter(batch=b).values_list("atena_no", "vaccine")]
        else:
            pairs = [(a, n, v) for a, n, v in Voucher.objects.filter(batch=b).values_list("atena_no", "number",
                                                                                           "vaccine")]
        rec.targets = [a for a, _, _ in pairs] or [""]
    people = population.addressees(ctx, [a for a, _, _ in pairs])
    kind_label = BatchKind(b.kind).label
    rows = []
    for a, number, vaccine in sorted(pairs, key=lambda t: (people[t[0]].postal_code if t[0] in people else "", t[0])):
        p = people.get(a)
        if p is None or p.protected or p.status != 1:
            continue
        rows.append([p.postal_code, p.address, p.address_extra, p.name_kanji, number, _vaccine_name(vaccine),
                     kind_label])
    return MAILING_ITEMS, rows


def write_mailing(ctx: AccessContext, batch_id: int, request_id: int, out_dir: Path | str | None = None):  # type: ignore[no-untyped-def]
    """Write the mailing file of a batch through the approved export ``request_id`` (yobo.exports:
    second-person approval, AES-encrypted ZIP, media log, deletion due date). Returns the export's
    result (path, serial, one-time password to hand over out of band)."""
    from yobo.exports import services as exports

    header, rows = mailing_rows(ctx, batch_id)
    with exports.open_export(ctx, request_id, out_dir=out_dir) as out:
        out.write_rows(header, rows)
    return out.result


def mailing_purposes() -> frozenset[str]:
    return frozenset({Purpose.VOUCHER_ISSUANCE.value, Purpose.RECOMMENDATION.value})


