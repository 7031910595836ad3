"""Approved exports of personal data (外部媒体への出力) — the one way personal data leaves yobo.

    rid = request_export(ctx, kind="notices.mailing", purpose="N03", items=[...], reason=...,
                         destination="○○印刷(株)", medium="usb")
    approve(supervisor_ctx, rid)                      # a second person with the 決裁者 duty
    with open_export(ctx, rid) as out:                # refuses unless approved, unexpired, permitted terminal
        out.write_rows(header, rows)                  # header ⊆ approved items; may be called again
    out.result.path, out.result.password              # AES-256 ZIP; the password is shown once
    confirm_deletion(ctx, out.result.serial, reported_by="○○印刷 山田")  # the recipient's 消去報告

Every step runs in the audit door under purpose G03 (外部媒体への出力); the export itself is one
access-log entry per person written (when the rows carry a 宛名番号) whose detail names the
request, the caller's purpose and the media serial. See README.md and docs/decisions/090.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from yobo.audit.door import door, log_event
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.problems import Problem
from yobo.core.purposes import Duty, Operation, Purpose, Result, parse_purpose

from . import registry
from .models import ExportRequest, ExportTerminal, MediaCounter, MediaLogEntry, Medium, RequestState

RESOURCE = "exports.request"
MEDIA_RESOURCE = "exports.media"
ENCRYPTION = "zip-aes256"
ENCODINGS = ("utf-8", "cp932")
APPROVER_DUTIES = frozenset({Duty.SUPERVISOR.value})
# Unambiguous characters for the one-time password (no 0/O, 1/l/I), read aloud or written on paper.
_PW_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
PASSWORD_LENGTH = 20
MIN_PASSWORD_LENGTH = 12

DENIALS = {
    "export_not_approved": "この外部出力申請は承認されていません。 / This export request is not approved.",
    "export_approval_expired": "承認の有効期限が切れています。改めて申請してください。"
    " / The approval has expired; request the export again.",
    "export_terminal": "この端末は外部出力を許可されていません。 / This terminal is not permitted to write exports.",
    "export_already_produced": "この申請は出力済みです（一回限り）。 / This request was already produced (single use).",
    "export_approver": "承認には決裁者の職責が必要です。 / Approval needs the supervisor (決裁者) duty.",
    "export_self_approval": "申請者本人は承認できません。別の決裁者が承認してください。"
    " / The requester cannot approve their own request.",
}


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def _g03(ctx: AccessContext) -> AccessContext:
    return ctx.for_purpose(Purpose.EXPORT)


def approval_days() -> int:
    return int(getattr(settings, "YOBO_EXPORT_APPROVAL_DAYS", os.environ.get("YOBO_EXPORT_APPROVAL_DAYS", "14")))


def _deny(ctx: AccessContext, reason: str, resource: str, target: str = "") -> AccessDenied:
    """Log a refusal of the export procedure (result denied) and return the error to raise."""
    log_event(ctx, Operation.EXPORT, resource=resource, target=target, result=Result.DENIED, detail=reason)
    return AccessDenied(reason, DENIALS[reason])


# --- 外部出力許可端末 ---------------------------------------------------------------------------------


def permit_terminal(ctx: AccessContext, terminal: str, note: str = "") -> None:
    """Permit a registered terminal to write approved exports (管理者, purpose A01)."""
    name = terminal.strip()
    with door(ctx.for_purpose(Purpose.ADMINISTRATION), Operation.ADMIN, resource="exports.terminal",
              detail=f"permit terminal={name}"):
        if not name:
            raise InputRejected("端末名を指定してください。 / Give a terminal name.")
        ExportTerminal.objects.update_or_create(
            municipality=_m(), terminal=name,
            defaults={"note": note.strip()[:200], "added_by": ctx.username, "added_at": timezone.now()},
        )


def revoke_terminal(ctx: AccessContext, terminal: str) -> bool:
    """Withdraw a terminal's export permission; True when it was permitted."""
    name = terminal.strip()
    with door(ctx.for_purpose(Purpose.ADMINISTRATION), Operation.ADMIN, resource="exports.terminal",
              detail=f"revoke terminal={name}"):
        n, _ = ExportTerminal.objects.filter(municipality=_m(), terminal=name).delete()
    return bool(n)


def terminal_permitted(terminal: str) -> bool:
    """Whether ``terminal`` may write exports (no personal data; used before the door)."""
    return ExportTerminal.objects.filter(municipality=_m(), terminal=terminal).exists()


# --- 申請・承認 ----------------------------------------------------------------------------------------


def request_export(
    ctx: AccessContext,
    *,
    kind: str,
    purpose: Purpose | str,
    items: Sequence[str],
    reason: str,
    destination: str,
    medium: Medium | str,
    encoding: str = "utf-8",
    delete_within_days: int = 30,
) -> int:
    """File an export request (外部出力申請); returns its id. Nothing can be written until another
    staff member with the 決裁者 duty approves it."""
    k = registry.get(kind)
    p = parse_purpose(str(purpose))
    wanted = [str(i).strip() for i in items if str(i).strip()]
    with door(_g03(ctx), Operation.CREATE, resource=RESOURCE, detail=f"request kind={kind} for={purpose}") as rec:
        problems: list[str] = []
        if k is None:
            problems.append(f"出力の種類「{kind}」は登録されていません。 / Unknown export kind {kind!r}.")
        if p is None:
            problems.append(f"処理事由「{purpose}」が正しくありません。 / Unknown purpose {purpose!r}.")
        elif k is not None and p.value not in k.purposes:
            problems.append(f"処理事由 {p.value} ではこの種類の出力はできません。"
                            f" / Purpose {p.value} may not request a {kind} export.")
        elif p not in ctx.allowed_purposes():
            problems.append(f"処理事由 {p.value} はあなたの職責では使えません。 / Your duty does not permit {p.value}.")
        if not wanted:
            problems.append("出力項目を指定してください。 / Give the items (columns) to export.")
        if registry.FORBIDDEN_ITEMS & set(wanted):
            problems.append("個人番号は外部出力できません。 / My Numbers are never exported.")
        if k is not None:
            extra = [i for i in wanted if i not in k.items]
            if extra:
                problems.append(f"この種類で出力できない項目があります: {', '.join(extra)}"
                                f" / Items not offered by {kind}: {', '.join(extra)}")
        if len(set(wanted)) != len(wanted):
            problems.append("出力項目が重複しています。 / Duplicate items.")
        if not reason.strip():
            problems.append("出力理由を入力してください。 / Give the reason.")
        if not destination.strip():
            problems.append("提供先を入力してください。 / Give the destination (recipient).")
        if str(medium) not in Medium.values:
            problems.append(f"媒体「{medium}」が正しくありません ({', '.join(Medium.values)})。 / Unknown medium.")
        if encoding not in ENCODINGS:
            problems.append("文字コードは utf-8 か cp932 です。 / Encoding must be utf-8 or cp932.")
        if not 1 <= int(delete_within_days) <= 366:
            problems.append("消去期限は1〜366日です。 / The deletion period is 1–366 days.")
        if problems:
            raise InputRejected("\n".join(problems))
        r = ExportRequest.objects.create(
            municipality=_m(), kind=kind, purpose=p.value if p else "", items=wanted, reason=reason.strip()[:500],
            destination=destination.strip()[:200], medium=str(medium), encoding=encoding,
            delete_within_days=int(delete_within_days), requested_by_id=ctx.staff_id, requested_at=timezone.now(),
            terminal=ctx.terminal,
        )
        rec.detail = f"request id={r.pk} kind={kind} for={r.purpose} items={len(wanted)}"
        return r.pk


def _locked(request_id: int) -> ExportRequest:
    r = ExportRequest.objects.select_for_update().filter(pk=request_id, municipality=_m()).first()
    if r is None:
        raise InputRejected(f"外部出力申請 {request_id} がありません。 / No export request {request_id}.")
    return r


def approve(ctx: AccessContext, request_id: int, note: str = "") -> None:
    """Approve a request (決裁): by a staff member with the 決裁者 duty who is not the requester.
    The approval holds for ``YOBO_EXPORT_APPROVAL_DAYS`` (default 14) days."""
    g = _g03(ctx)
    if not (ctx.duties & APPROVER_DUTIES) or ctx.contractor:
        raise _deny(g, "export_approver", RESOURCE, str(request_id))
    with door(g, Operation.UPDATE, resource=RESOURCE, detail=f"approve id={request_id}"):
        r = _locked(request_id)
        if r.requested_by_id == ctx.staff_id:
            raise InputRejected(DENIALS["export_self_approval"])
        if r.state != RequestState.PENDING:
            raise InputRejected(f"この申請は{RequestState(r.state).label}です。 / The request is {r.state}.")
        now = timezone.now()
        r.state, r.decided_by_id, r.decided_at = RequestState.APPROVED, ctx.staff_id, now
        r.decision_note = note.strip()[:200]
        r.approval_expires_at = now + timedelta(days=approval_days())
        r.save(update_fields=["state", "decided_by", "decided_at", "decision_note", "approval_expires_at"])


def reject(ctx: AccessContext, request_id: int, note: str = "") -> None:
    """Refuse a request (却下): a 決裁者, or the requester withdrawing it (取下げ)."""
    with door(_g03(ctx), Operation.UPDATE, resource=RESOURCE, detail=f"reject id={request_id}"):
        r = _locked(request_id)
        own = r.requested_by_id == ctx.staff_id
        if not own and not (ctx.duties & APPROVER_DUTIES):
            raise InputRejected(DENIALS["export_approver"])
        if r.state not in (RequestState.PENDING, RequestState.APPROVED):
            raise InputRejected(f"この申請は{RequestState(r.state).label}です。 / The request is {r.state}.")
        r.state = RequestState.WITHDRAWN if own else RequestState.REJECTED
        r.decided_by_id, r.decided_at, r.decision_note = ctx.staff_id, timezone.now(), note.strip()[:200]
        r.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])


# --- 出力 (the approved writer) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What was written (媒体管理簿の記載事項) and the one-time password to hand over out of band."""

    request_id: int
    serial: str
    path: Path
    member: str
    sha256: str
    size: int
    rows: int
    persons: int
    items: tuple[str, ...]
    password: str
    delete_due: date
    encryption: str = ENCRYPTION


@dataclass
class ExportWriter:
    """Fed by the caller inside ``open_export``: ``write_rows(header, rows)``, any number of times with
    the same header. Only approved items may appear; a cell that cannot be encoded is refused with
    its row and column, and nothing is kept."""

    request: ExportRequest
    member: str
    _stream: io.BufferedIOBase | None = None
    header: tuple[str, ...] | None = None
    rows: int = 0
    targets: set[str] = field(default_factory=set)
    target_column: str | None = None
    result: ExportResult | None = None

    def write_rows(self, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
        h = tuple(str(c) for c in header)
        if self._stream is None:
            raise InputRejected("出力は終了しています。 / The export is closed.")
        allowed = list(self.request.items)
        extra = [c for c in h if c not in allowed]
        if extra:
            raise InputRejected(f"承認されていない項目は出力できません: {', '.join(extra)}"
                                f" / Items not approved: {', '.join(extra)}")
        if self.header is None:
            self.header = h
            self._put(h, 1)
        elif h != self.header:
            raise InputRejected("見出し行が前回と異なります。 / The header differs from the first call.")
        tcol = h.index(self.target_column) if self.target_column in h else None
        n = 0
        for row in rows:
            cells = ["" if v is None else str(v) for v in row]
            if len(cells) != len(h):
                msg = f"列数が見出しと異なります ({len(cells)} != {len(h)}) / wrong column count"
                raise InputRejected(str(Problem(self.member, self.rows + 2, None, msg)))
            self._put(cells, self.rows + 2)
            if tcol is not None and cells[tcol]:
                self.targets.add(cells[tcol])
            self.rows += 1
            n += 1
        return n

    def _put(self, cells: Sequence[str], row_no: int) -> None:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow(cells)
        text = buf.getvalue()
        try:
            data = text.encode(self.request.encoding)
        except UnicodeEncodeError:
            col = next((c for c, v in zip(self.header or cells, cells, strict=False)
                        if not _encodes(v, self.request.encoding)), None)
            raise InputRejected(str(Problem(self.member, row_no, col,
                                            f"{self.request.encoding} で表せない文字があります"
                                            f" / a character cannot be encoded in {self.request.encoding}"))) from None
        assert self._stream is not None  # noqa: S101 - checked by write_rows
        self._stream.write(data)


def _encodes(v: str, enc: str) -> bool:
    try:
        v.encode(enc)
    except UnicodeEncodeError:
        return False
    return True


def new_password() -> str:
    return "".join(secrets.choice(_PW_ALPHABET) for _ in range(PASSWORD_LENGTH))


def _next_serial(m: str, year: int) -> str:
    c, _ = MediaCounter.objects.select_for_update().get_or_create(municipality=m, year=year)
    c.last += 1
    c.save(update_fields=["last"])
    return f"{year}-{c.last:04d}"


def default_out_dir() -> Path:
    return Path(settings.VAR_DIR) / "exports"


def check_runnable(ctx: AccessContext, request_id: int) -> ExportRequest:
    """The request, if ``ctx`` may write it now; else the refusal is logged and ``AccessDenied`` raised."""
    g = _g03(ctx)
    r = ExportRequest.objects.filter(pk=request_id, municipality=_m()).first()
    if r is None:
        raise InputRejected(f"外部出力申請 {request_id} がありません。 / No export request {request_id}.")
    if r.state == RequestState.PRODUCED:
        raise _deny(g, "export_already_produced", RESOURCE, str(request_id))
    if r.state != RequestState.APPROVED:
        raise _deny(g, "export_not_approved", RESOURCE, str(request_id))
    if r.approval_expires_at is None or r.approval_expires_at <= timezone.now():
        raise _deny(g, "export_approval_expired", RESOURCE, str(request_id))
    if not terminal_permitted(ctx.terminal):
        raise _deny(g, "export_terminal", RESOURCE, str(request_id))
    return r


@contextmanager
def open_export(
    ctx: AccessContext,
    request_id: int,
    *,
    out_dir: Path | str | None = None,
    password: str | None = None,
    target_column: str | None = None,
) -> Iterator[ExportWriter]:
    """Write an approved request once, as an AES-256 ZIP holding one CSV, and record it in the
    media log — all in one door (purpose G03, operation export) and one transaction. If the block
    raises, the file is removed and nothing is recorded but the failed attempt.

    ``target_column`` names the column holding the 宛名番号 (default: the kind's, else 宛名番号 or
    個別宛名番号 when present): each person written gets an access-log entry.
    """
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InputRejected(f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。"
                            f" / The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    checked = check_runnable(ctx, request_id)
    k = registry.get(checked.kind)
    tcol = target_column or (k.target_column if k else None)
    if tcol is None:
        tcol = next((c for c in ("宛名番号", "個別宛名番号") if c in checked.items), None)
    pw = password or new_password()
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    g = _g03(ctx)
    files: list[Path] = []
    try:
        with _export_door(g, checked, out, pw, tcol, files) as writer:
            yield writer
    except BaseException:
        # The work and its media-log entry rolled back (or never committed): no file stays behind.
        for f in files:
            f.unlink(missing_ok=True)
        raise


@contextmanager
def _export_door(g: AccessContext, checked: ExportRequest, out: Path, pw: str, tcol: str | None,
                 files: list[Path]) -> Iterator[ExportWriter]:
    import pyzipper

    request_id = checked.pk
    ctx = g
    with door(g, Operation.EXPORT, resource=MEDIA_RESOURCE, target="",
              detail=f"export id={request_id} for={checked.purpose}") as rec:
        r = ExportRequest.objects.select_for_update().get(pk=checked.pk)
        if r.state != RequestState.APPROVED:  # raced with another run or a withdrawal
            raise InputRejected(DENIALS["export_already_produced" if r.state == RequestState.PRODUCED
                                        else "export_not_approved"])
        now = timezone.now()
        serial = _next_serial(r.municipality, timezone.localdate(now).year)
        stem = f"{r.municipality}-{serial}-{r.kind.replace('.', '_')}"
        member = f"{stem}.csv"
        final = out / f"{stem}.zip"
        tmp = out / f".{stem}.zip.part"
        files += [tmp, final]
        writer = ExportWriter(request=r, member=member, target_column=tcol)
        try:
            with pyzipper.AESZipFile(tmp, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as z:
                z.setpassword(pw.encode())
                z.setencryption(pyzipper.WZ_AES, nbits=256)
                with z.open(member, "w") as stream:
                    writer._stream = stream  # type: ignore[assignment]
                    if r.encoding == "utf-8":
                        stream.write(b"\xef\xbb\xbf")  # BOM: spreadsheet software reads UTF-8 CSV correctly
                    yield writer
                    writer._stream = None
            if writer.header is None:
                raise InputRejected("出力する行がありません（見出しも書かれていません）。 / Nothing was written.")
            digest, size = _sha256(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        delete_due = timezone.localdate(now) + timedelta(days=r.delete_within_days)
        try:
            MediaLogEntry.objects.create(
                municipality=r.municipality, serial=serial, request=r, medium=r.medium, destination=r.destination,
                file_name=final.name, file_sha256=digest, file_size=size, row_count=writer.rows,
                person_count=len(writer.targets), items=list(writer.header), encryption=ENCRYPTION,
                written_by_id=ctx.staff_id, written_at=now, terminal=ctx.terminal, log_request_id=ctx.request_id,
                delete_due=delete_due,
            )
            r.state = RequestState.PRODUCED
            r.save(update_fields=["state"])
            rec.targets = sorted(writer.targets) or [""]
            rec.detail = f"export id={r.pk} for={r.purpose} media={serial} rows={writer.rows}"
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, final)
        writer.result = ExportResult(
            request_id=r.pk, serial=serial, path=final, member=member, sha256=digest, size=size, rows=writer.rows,
            persons=len(writer.targets), items=tuple(writer.header), password=pw, delete_due=delete_due,
        )


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def run_registered(ctx: AccessContext, request_id: int, *, out_dir: Path | str | None = None,
                   password: str | None = None) -> ExportResult:
    """Write an approved request with its kind's registered producer (``yobo exports run``)."""
    r = check_runnable(ctx, request_id)
    k = registry.get(r.kind)
    if k is None or k.producer is None:
        raise InputRejected(f"出力の種類「{r.kind}」は、その業務の画面・コマンドから出力してください。"
                            f" / Kind {r.kind} is written by its own app's command, not by exports run.")
        # (the caller app opens the writer itself)
    from .selectors import request_view

    view = request_view(r)
    with open_export(ctx, request_id, out_dir=out_dir, password=password) as out:
        header, rows = k.producer(ctx.for_purpose(r.purpose), view)
        wanted = list(r.items)
        idx = [list(header).index(c) for c in wanted if c in header]
        out.write_rows([header[i] for i in idx], ([row[i] for i in idx] for row in rows))
    assert out.result is not None  # noqa: S101 - set when the block completes
    return out.result


# --- 消去確認 ------------------------------------------------------------------------------------------


def confirm_deletion(ctx: AccessContext, serial: str, *, reported_by: str, reported_on: date | None = None,
                     note: str = "") -> None:
    """Record the recipient's report that the medium/file was deleted (消去報告の確認)."""
    with door(_g03(ctx), Operation.UPDATE, resource=MEDIA_RESOURCE, detail=f"confirm deletion media={serial}"):
        e = MediaLogEntry.objects.select_for_update().filter(municipality=_m(), serial=serial.strip()).first()
        if e is None:
            raise InputRejected(f"媒体管理番号 {serial} は媒体管理簿にありません。 / No media entry {serial}.")
        if e.deletion_confirmed_at is not None:
            raise InputRejected("この媒体の消去は確認済みです。 / Deletion already confirmed.")
        if not reported_by.strip():
            raise InputRejected("消去を報告した提供先の担当者を入力してください。 / Give who reported the deletion.")
        e.deletion_confirmed_at, e.deletion_confirmed_by_id = timezone.now(), ctx.staff_id
        e.deletion_reported_by = reported_by.strip()[:200]
        e.deletion_reported_on = reported_on or timezone.localdate()
        e.deletion_note = note.strip()[:200]
        e.save(update_fields=["deletion_confirmed_at", "deletion_confirmed_by", "deletion_reported_by",
                              "deletion_reported_on", "deletion_note"])
