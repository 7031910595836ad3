"""住基ネットによる住登外者の整合性確認: keeping non-registered persons current (seed 004, 000 risk 2).

The daily register import keeps the city's residents current, but not its 住登外者 (persons
registered here on application who live elsewhere): nothing tells the registry that one of them
died, moved or changed name. Yokohama's PIA (seed 004) does it by 「住民基本台帳ネットワークシステムか
らの一括提供方式による連携データを受信し、定期的にシステムで整合性の確認を行う」; Ichikawa's (000
リスク2) names the risk it answers, 「特定個人情報が古い情報のまま保管され続けるリスク」. Two halves,
purpose P03 (住登外者の登録), see docs/decisions/055 and docs/formats/jukinet.md:

- **The query** (照会ファイル) is the approved-export kind ``people.jukinet_query``: the four items
  (4情報: 氏名・生年月日・性別・住所) of every 住登外者 on record as living, keyed by 照会番号 = their
  宛名番号. No 個人番号 (the exports registry refuses it); it leaves only by request, a second
  person's approval, an encrypted ZIP and the media log.
- **The answer** (本人確認情報の提供ファイル) is read by :func:`check`. Every row is validated first;
  a bad file is refused whole with every problem (file, row, column), nothing applied. Then, in one
  transaction with one batch record (``ImportBatch`` mode ``jkn``): a 住登外者 whose birth date,
  sex and 個人番号 agree is brought up to date — name, kana, address, 住民区分 with its date and
  reason (死亡 also flags the vault's link), each change a history row of the batch — and whatever
  needs a person to look at it becomes a :class:`~.models.NonResidentFinding` (not found, another
  person's items, now living in this city, not a 住登外者), with nothing of that person changed.
  Re-running the same answer changes nothing.

No My Number is printed, logged or stored here: the answer's numbers go only to the vault's
non-revealing check (``bulk_registration(check_only=True)``), which names conflicts by 宛名番号.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.problems import ERROR, WARNING, Problem
from yobo.core.purposes import Operation, Purpose
from yobo.core.text import address_key, search_key
from yobo.mynumber import checkdigit
from yobo.mynumber import services as vault_services

from . import extract, nonresidents, review
from .importer import new_batch
from .models import (
    BatchStatus,
    ChangeKind,
    ImportBatch,
    NonResidentFinding,
    Person,
    PersonHistory,
    ResidentStatus,
    Source,
)
from .protection import protected_among

RESOURCE = "people.nonresident"
MODE = "jkn"  # ImportBatch.mode of a check (the register import's are "full" and "diff")
KIND = "people.jukinet_query"

# The query file (照会ファイル): what is sent, per 住登外者.
QUERY_NO = "照会番号"
QUERY_ITEMS: tuple[str, ...] = (QUERY_NO, "漢字氏名", "カナ氏名", "生年月日", "性別", "住所")

# The answer (本人確認情報の提供ファイル, docs/formats/jukinet.md).
RESULT = "照会結果"
MUNICIPALITY = "市区町村コード"
COLUMNS: tuple[str, ...] = (
    QUERY_NO, RESULT, extract.MY_NUMBER, extract.NAME_KANJI, extract.NAME_KANA, extract.BIRTH, extract.SEX,
    extract.ADDRESS, extract.STATUS, extract.CHANGE_REASON, extract.CHANGE_DATE, MUNICIPALITY,
)
REQUIRED: tuple[str, ...] = (QUERY_NO, RESULT)
# Required when the answer found the person (照会結果 1).
REQUIRED_IF_FOUND: tuple[str, ...] = (extract.NAME_KANJI, extract.BIRTH, extract.SEX, extract.ADDRESS, extract.STATUS)
_FOUND = {"1": True, "１": True, "0": False, "０": False}


class Finding:
    """What a check leaves for staff (確認が必要な事項); nothing of that person was changed."""

    NOT_FOUND = "not_found"
    IDENTITY_DIFFERS = "identity_differs"
    NUMBER_DIFFERS = "number_differs"
    MOVED_IN = "moved_in"
    NOT_NONRESIDENT = "not_nonresident"
    UNKNOWN = "unknown"
    STATUS_DIFFERS = "status_differs"


FINDING_LABELS: dict[str, str] = {
    Finding.NOT_FOUND: "住基ネットで該当なし（申請の4情報を確認してください）",
    Finding.IDENTITY_DIFFERS: "生年月日または性別が登録と異なる（同一人か確認してください）",
    Finding.NUMBER_DIFFERS: "個人番号が登録と一致しない（番号確認をやり直してください）",
    Finding.MOVED_IN: "本市に住民登録あり（住民記録の宛名番号への切替を確認してください）",
    Finding.NOT_NONRESIDENT: "住登外者ではない宛名番号（住民記録の連携で更新されます）",
    Finding.UNKNOWN: "登録のない宛名番号（切替済み・照会後の変更を確認してください）",
    Finding.STATUS_DIFFERS: "登録では死亡・消除だが住基ネットでは住民（異動を確認してください）",
}
# Every finding but MOVED_IN leaves the person unchanged; MOVED_IN is noted and the items are still
# brought up to date (the switch to the register's 宛名番号 is two staff members' decision).

M_REQUIRED_IF_FOUND = (
    "照会結果が1(該当あり)の行では必須です。値を入れてください。 / required when 照会結果 is 1 (found); fill it in."
)
M_RESULT = "照会結果は 1(該当あり) または 0(該当なし) です。 / use 1 (found) or 0 (not found)."
M_MUNICIPALITY = "市区町村コードは6桁の数字です。 / a municipality code has 6 digits."
M_DUP = "照会番号が重複しています（{first}行目と{row}行目）。 / duplicate 照会番号 on rows {first} and {row}."


class CheckRejected(InputRejected):
    """The answer file was refused whole (nothing applied); ``summary.problems`` lists why."""

    def __init__(self, message: str, summary: CheckSummary) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(slots=True, repr=False)
class Answer:
    """One validated row of the answer (本人確認情報). ``my_number`` never leaves this module but to the vault."""

    row: int
    atena_no: str
    found: bool
    my_number: str | None = None
    name_kanji: str = ""
    name_kana: str = ""
    birth_date: date | None = None
    sex: int = 0
    address: str = ""
    status: int = 0
    change_reason: str = ""
    change_date: date | None = None
    municipality: str = ""

    def __repr__(self) -> str:  # no number, no name
        return f"Answer(row={self.row}, atena_no={self.atena_no!r}, found={self.found})"


@dataclass
class CheckSummary:
    """Outcome of one check (``--json``)."""

    file: str
    applied: bool = False
    batch_id: int | None = None
    rows_read: int = 0
    updated: int = 0
    unchanged: int = 0
    status_changes: dict[str, int] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    file_sha256: str = ""
    encoding: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied, "batch_id": self.batch_id, "rows_read": self.rows_read,
            "updated": self.updated, "unchanged": self.unchanged, "status_changes": self.status_changes,
            "findings": self.findings, "problems": len(self.problems), "warnings": len(self.warnings),
            "file_sha256": self.file_sha256, "encoding": self.encoding,
        }


# --- the query (an approved-export kind) ----------------------------------------------------------


def register_kind() -> None:
    """The approved-export kind of the query file (from the app's ``ready``)."""
    from yobo.exports import registry

    registry.register(registry.ExportKind(
        code=KIND, label="住基ネット照会ファイル（住登外者の4情報）", items=QUERY_ITEMS,
        purposes=frozenset({Purpose.NONRESIDENT_REGISTRATION.value}), producer=_produce, target_column=QUERY_NO,
    ))


def query_rows(ctx: AccessContext) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the query: every 住登外者 on record as living, by 宛名番号. One BATCH entry
    naming every person read."""
    with door(ctx, Operation.BATCH, resource=RESOURCE, detail="jukinet query") as rec:
        persons = list(
            Person.objects.filter(municipality=settings.MUNICIPALITY_CODE, source=Source.NON_REGISTERED,
                                  status=ResidentStatus.RESIDENT)
            .order_by("atena_no")
            .values_list("atena_no", "name_kanji", "name_kana", "birth_date", "sex", "address", "address_extra")
        )
        # 支援措置: the address of a protected person does not leave in a file; the network finds
        # them by name, birth date and sex.
        hidden = protected_among([p[0] for p in persons])
        rec.targets = [p[0] for p in persons] or [""]
        rec.detail = f"jukinet query persons={len(persons)} address_withheld={len(hidden)}"
    rows = [[a, kanji, kana, born.isoformat(), str(sex), "" if a in hidden else f"{addr}{extra}"]
            for a, kanji, kana, born, sex, addr, extra in persons]
    return list(QUERY_ITEMS), rows


def _produce(ctx: AccessContext, request: Any) -> tuple[list[str], list[list[str]]]:
    return query_rows(ctx)


# --- reading the answer ---------------------------------------------------------------------------


def read_answer(path: str | Path, *, encoding: str = "auto", as_of: date | None = None
                ) -> tuple[list[Answer], list[Problem], str]:
    """Validate the whole answer file: (rows, problems (errors and warnings), encoding). Raises
    ``extract.ExtractError`` when it cannot be decoded."""
    p = Path(path)
    enc = extract.detect_encoding(p, encoding)
    today = as_of or timezone.localdate()
    problems: list[Problem] = []
    answers: list[Answer] = []
    with p.open(encoding=enc, newline="") as f:
        reader = csv.reader(f, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return [], [Problem(p.name, 1, None, extract.M_EMPTY_FILE)], enc
        except csv.Error as exc:
            return [], [Problem(p.name, 1, None, f"見出し行が読めません / unreadable header: {exc}")], enc
        index = _header(p.name, header, problems)
        if any(x.severity == ERROR for x in problems):
            return [], problems, enc
        seen: dict[str, int] = {}
        row = 1
        try:
            for row, cells in enumerate(reader, start=2):
                if not any(c.strip() for c in cells):
                    continue
                a = _answer(p.name, row, cells, index, today, problems)
                if a is None:
                    continue
                first = seen.setdefault(a.atena_no, row)
                if first != row:
                    problems.append(Problem(p.name, row, QUERY_NO, M_DUP.format(first=first, row=row)))
                    continue
                answers.append(a)
        except csv.Error as exc:
            problems.append(Problem(p.name, row + 1, None, f"CSVとして読めません / not valid CSV: {exc}"))
    return answers, problems, enc


def _header(file: str, header: list[str], problems: list[Problem]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = unicodedata.normalize("NFKC", raw.lstrip("\ufeff")).strip()
        if not name:
            problems.append(Problem(file, 1, f"{i + 1}列目", extract.M_UNNAMED_COLUMN, WARNING))
        elif name in index:
            problems.append(Problem(file, 1, name, "同じ見出しの列が2つあります。 / this column appears twice."))
        elif name in COLUMNS:
            index[name] = i
        else:
            problems.append(Problem(file, 1, name, "不明な列です。無視します。 / unknown column, ignored.", WARNING))
    for col in REQUIRED:
        if col not in index:
            problems.append(Problem(file, 1, col, extract.M_MISSING_COLUMN))
    return index


def _answer(file: str, row: int, cells: list[str], index: dict[str, int], today: date,
            problems: list[Problem]) -> Answer | None:
    """One row validated (every problem of the row appended), or None when it has any."""
    before = len(problems)

    def cell(col: str) -> str:
        i = index.get(col)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    def bad(col: str, message: str) -> None:
        problems.append(Problem(file, row, col, message))

    for col, i in index.items():
        if i < len(cells) and not extract._printable(cells[i]):
            bad(col, extract.M_CONTROL)
    atena = extract._key_digits(cell(QUERY_NO))
    if not cell(QUERY_NO):
        bad(QUERY_NO, extract.M_REQUIRED_EMPTY)
    elif atena is None or len(atena) > extract.MAX_KEY_DIGITS:
        bad(QUERY_NO, extract.M_KEY)
    found = _FOUND.get(cell(RESULT))
    if found is None:
        bad(RESULT, extract.M_REQUIRED_EMPTY if not cell(RESULT) else M_RESULT)
    a = Answer(row=row, atena_no=atena or "", found=bool(found))
    if found:
        for col in REQUIRED_IF_FOUND:
            if not cell(col):
                bad(col, M_REQUIRED_IF_FOUND)
        a.name_kanji, a.address = cell(extract.NAME_KANJI), cell(extract.ADDRESS)
        if cell(extract.MY_NUMBER):
            try:
                a.my_number = checkdigit.parse(cell(extract.MY_NUMBER))
            except ValueError as exc:
                bad(extract.MY_NUMBER, str(exc))
        if cell(extract.NAME_KANA):
            kana = extract._kana(cell(extract.NAME_KANA))
            if kana is None:
                bad(extract.NAME_KANA, extract.M_KANA)
            else:
                a.name_kana = kana[0]
        a.birth_date = _date(cell(extract.BIRTH), extract.BIRTH, bad)
        if a.birth_date is not None and a.birth_date > today:
            bad(extract.BIRTH, extract.M_FUTURE_BIRTH)
        if cell(extract.SEX):
            a.sex = extract._SEX.get(cell(extract.SEX), 0)
            if not a.sex:
                bad(extract.SEX, extract.M_SEX)
        if cell(extract.STATUS):
            a.status = extract._STATUS.get(cell(extract.STATUS), 0)
            if not a.status:
                bad(extract.STATUS, extract.M_STATUS)
        a.change_reason = cell(extract.CHANGE_REASON)[:100]
        a.change_date = _date(cell(extract.CHANGE_DATE), extract.CHANGE_DATE, bad)
        if a.change_date and a.birth_date and a.change_date < a.birth_date:
            bad(extract.CHANGE_DATE, extract.M_CHANGE_BEFORE_BIRTH)
        code = extract._key_digits(cell(MUNICIPALITY))
        if cell(MUNICIPALITY) and (code is None or len(code) != 6):
            bad(MUNICIPALITY, M_MUNICIPALITY)
        a.municipality = code or ""
    return a if len(problems) == before else None


def _date(s: str, col: str, bad: Callable[[str, str], None]) -> date | None:
    if not s:
        return None
    got = extract._parse_date_cached(s)
    if isinstance(got, str):
        bad(col, got)
        return None
    return got


# --- the check --------------------------------------------------------------------------------------


def check(ctx: AccessContext, path: str | Path, *, encoding: str = "auto", as_of: date | None = None,
          on_problem: Callable[[Problem], None] | None = None) -> CheckSummary:
    """Check the 住登外者 against a 住基ネット answer file and bring them up to date (see the module
    docstring). Raises :class:`CheckRejected` (nothing applied, a rejected batch recorded) when the
    file has any problem; ``AccessDenied`` when the context may not do it (purpose P03)."""
    p = Path(path)
    s = CheckSummary(file=p.name)
    started = timezone.now()
    try:
        # The door first: a staff member without the purpose is refused before the file is read.
        with door(ctx, Operation.BATCH, resource=RESOURCE) as rec:
            answers = _validated(p, s, encoding, as_of, on_problem)
            batch = new_batch(ctx, p, status=BatchStatus.APPLIED, mode=MODE, sha256=s.file_sha256,
                              encoding=s.encoding, started=started, rows_read=len(answers))
            s.batch_id = batch.pk
            _apply(ctx, batch, answers, s)
            s.applied = True
            batch.updated, batch.unchanged, batch.finished_at = s.updated, s.unchanged, timezone.now()
            batch.summary = {"findings": s.findings, "status_changes": s.status_changes, "warnings": len(s.warnings)}
            batch.save(update_fields=["updated", "unchanged", "finished_at", "summary"])
            rec.targets = [a.atena_no for a in answers] or [""]
            rec.detail = (f"jukinet check batch={batch.pk} updated={s.updated} unchanged={s.unchanged} "
                          f"findings={sum(s.findings.values())}")
    except CheckRejected:
        s.batch_id = _record_rejected(ctx, p, s, started)
        raise
    return s


def _validated(p: Path, s: CheckSummary, encoding: str, as_of: date | None,
               on_problem: Callable[[Problem], None] | None) -> list[Answer]:
    """The file's rows, or ``CheckRejected`` with every problem in ``s`` (each passed to ``on_problem``)."""
    try:
        answers, problems, s.encoding = read_answer(p, encoding=encoding, as_of=as_of)
    except extract.ExtractError as exc:
        answers, problems = [], [Problem(p.name, None, None, str(exc))]
    s.file_sha256 = extract.file_sha256(p) if p.is_file() else ""
    s.problems = [x for x in problems if x.severity == ERROR]
    s.warnings = [x for x in problems if x.severity != ERROR]
    s.rows_read = len(answers) + len({x.row for x in s.problems if x.row and x.row > 1})
    for x in problems:
        if on_problem:
            on_problem(x)
    if s.problems:
        raise CheckRejected(
            f"{p.name}: {len(s.problems)}件の問題があるため取り込みませんでした（何も更新していません）。"
            f" / refused: {len(s.problems)} problem(s); nothing was applied.", s)
    return answers


def _record_rejected(ctx: AccessContext, p: Path, s: CheckSummary, started: Any) -> int:
    with transaction.atomic():
        b = new_batch(ctx, p, status=BatchStatus.REJECTED, mode=MODE, sha256=s.file_sha256, encoding=s.encoding,
                      started=started, finished_at=timezone.now(), rows_read=s.rows_read,
                      rejected=len({x.row for x in s.problems}),
                      summary={"problems": len(s.problems), "warnings": len(s.warnings)})
    return int(b.pk)


# Fields a check may change, in the order the history lists them.
_FIELDS = ("name_kanji", "name_kana", "postal_code", "address", "address_extra", "status", "status_date",
           "status_reason")


def _apply(ctx: AccessContext, batch: ImportBatch, answers: Sequence[Answer], s: CheckSummary) -> None:
    m = settings.MUNICIPALITY_CODE
    persons: dict[str, Person] = {}
    keys = [a.atena_no for a in answers]
    for i in range(0, len(keys), 500):
        for person in Person.objects.select_for_update().filter(municipality=m, atena_no__in=keys[i:i + 500]):
            persons[person.atena_no] = person
    findings: list[NonResidentFinding] = []

    def hold(a: Answer, code: str) -> None:
        s.findings[code] = s.findings.get(code, 0) + 1
        findings.append(NonResidentFinding(batch=batch, municipality=m, atena_no=a.atena_no, code=code, row=a.row))

    todo: list[Answer] = []
    for a in answers:
        known = persons.get(a.atena_no)
        if known is None:
            hold(a, Finding.UNKNOWN)
        elif known.source != Source.NON_REGISTERED:
            hold(a, Finding.NOT_NONRESIDENT)
        elif not a.found:
            hold(a, Finding.NOT_FOUND)
        elif a.birth_date != known.birth_date or a.sex != known.sex:
            hold(a, Finding.IDENTITY_DIFFERS)
        elif a.status == ResidentStatus.RESIDENT and known.status != ResidentStatus.RESIDENT:
            hold(a, Finding.STATUS_DIFFERS)  # never revive a person on record as deceased by a batch
        else:
            todo.append(a)
    differs = _numbers_differ(ctx, todo)
    now = timezone.now()
    changed: list[Person] = []
    history: list[PersonHistory] = []
    deceased: list[tuple[str, date | None]] = []
    for a in todo:
        if a.atena_no in differs:
            hold(a, Finding.NUMBER_DIFFERS)
            continue
        person = persons[a.atena_no]
        if a.status == ResidentStatus.RESIDENT and a.municipality == m:
            hold(a, Finding.MOVED_IN)
        changes = _changes(person, a)
        if not changes:
            s.unchanged += 1
            continue
        for f, (_old, new) in changes.items():
            setattr(person, f, date.fromisoformat(new) if f == "status_date" and new else new)
        person.kanji_key, person.kana_key = search_key(person.name_kanji), search_key(person.name_kana)
        person.address_key = address_key(person.address, person.address_extra)
        person.row_hash = nonresidents.row_hash(person)
        person.updated_batch_id, person.updated_at = batch.pk, now
        changed.append(person)
        status_changed = "status" in changes
        history.append(PersonHistory(
            municipality=m, atena_no=person.atena_no, batch=batch, changed_by_id=ctx.staff_id, changed_at=now,
            kind=ChangeKind.UPDATED, changes=changes, status=person.status, status_date=person.status_date,
            status_reason=person.status_reason, status_changed=status_changed,
        ))
        if status_changed:
            label = ResidentStatus(person.status).label
            s.status_changes[label] = s.status_changes.get(label, 0) + 1
            if person.status == ResidentStatus.DECEASED:
                deceased.append((person.atena_no, person.status_date))
    Person.objects.bulk_update(changed, [*_FIELDS, "kanji_key", "kana_key", "address_key", "row_hash",
                                         "updated_batch_id", "updated_at"], batch_size=500)
    PersonHistory.objects.bulk_create(history, batch_size=500)
    review.carry_over(batch, findings)  # a person looked at last time is not listed as new again
    NonResidentFinding.objects.bulk_create(findings, batch_size=500)
    if deceased:
        vault_services.bulk_set_deceased(ctx, deceased)
    s.updated = len(changed)


def _numbers_differ(ctx: AccessContext, answers: Iterable[Answer]) -> set[str]:
    """宛名番号 whose answer carries a 個人番号 other than the one linked (the vault's check, which
    names conflicts by 宛名番号 and seals or writes nothing)."""
    pairs = [(a.atena_no, a.my_number) for a in answers if a.my_number]
    if not pairs:
        return set()
    # Every 住登外者 has a link (registration puts the number in the vault first), so a pair that is
    # not linked as given is a conflict: another number on that 宛名番号, or this number on another.
    result = vault_services.bulk_register(ctx, pairs, check_only=True)
    return {c.atena_no for c in result.conflicts}


def _norm(s: str) -> str:
    return "".join(unicodedata.normalize("NFKC", s or "").split())


def _changes(person: Person, a: Answer) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` the answer brings (JSON-ready, as the import's history). Items compared
    width- and space-insensitively, so a different spelling of the same value is no change; the
    address matches with or without the 方書 (the answer gives one 住所)."""
    new: dict[str, Any] = {}
    if _norm(a.name_kanji) != _norm(person.name_kanji):
        new["name_kanji"] = a.name_kanji
    if a.name_kana and search_key(a.name_kana) != search_key(person.name_kana):
        new["name_kana"] = a.name_kana
    if _norm(a.address) not in {_norm(person.address), _norm(person.address + person.address_extra)}:
        # A new address: the postal code and 方書 on record belonged to the old one.
        new.update(address=a.address, address_extra="", postal_code="")
    if a.status != person.status:
        new["status"] = a.status
    if a.status != ResidentStatus.RESIDENT or "status" in new:
        if a.change_date is not None:
            new["status_date"] = a.change_date.isoformat()
        elif "status" in new:
            new["status_date"] = None  # a change of status without its date: the old date is not it
        if a.change_reason and a.change_reason != person.status_reason:
            new["status_reason"] = a.change_reason
    out: dict[str, list[Any]] = {}
    for f in _FIELDS:
        if f in new:
            old = getattr(person, f)
            old = old.isoformat() if isinstance(old, date) else old
            if old != new[f]:
                out[f] = [old, new[f]]
    return out


# --- reading the findings ---------------------------------------------------------------------------


def findings(ctx: AccessContext, batch_id: int | None = None) -> tuple[ImportBatch | None, list[review.ReviewItem]]:
    """The findings of a check batch (the latest applied check when ``batch_id`` is None), with each
    person's registered name and review (``people.review``: one READ entry naming the persons listed)."""
    qs = ImportBatch.objects.filter(municipality=settings.MUNICIPALITY_CODE, mode=MODE, status=BatchStatus.APPLIED)
    batch = (qs.filter(pk=batch_id) if batch_id is not None else qs.order_by("-started_at", "-pk")).first()
    if batch is None:
        return None, []
    return review.items(ctx, batch.pk)
