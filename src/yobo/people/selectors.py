"""Reads from the resident register (宛名の参照・検索). Every function takes an ``AccessContext`` and
runs inside the audit door; reads of one person are logged with the 宛名番号 as target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection

from yobo.audit.door import door
from yobo.core import bulkload
from yobo.core.context import AccessContext, check
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation, Purpose
from yobo.core.text import search_key

from .models import ImportBatch, Person, PersonHistory, ResidentStatus, Sex, Source

RESOURCE = "people.person"
BATCH_RESOURCE = "people.batch"
# A batch summary's ``status_changes`` keys (the importer's, ``ResidentStatus`` names) as staff read them.
STATUS_CHANGE_LABELS = {s.name.lower(): s.label for s in ResidentStatus}
PERSON_FIELDS = (
    "atena_no", "source", "household_no", "name_kanji", "name_kana", "birth_date", "sex", "relationship",
    "postal_code", "address", "address_extra", "phone", "status", "status_date", "status_reason",
)


class PersonNotFound(InputRejected):
    def __init__(self, atena_no: str) -> None:
        self.atena_no = atena_no
        super().__init__(
            f"宛名番号 {atena_no} の住民は登録されていません。番号を確認してください。"
            f" / No person with 宛名番号 {atena_no}."
        )


@dataclass(frozen=True, slots=True)
class PersonView:
    """A person as staff see it (宛名情報). No My Number (ask ``yobo.mynumber.selectors``)."""

    atena_no: str
    source: str
    household_no: str
    name_kanji: str
    name_kana: str
    birth_date: date
    sex: int
    relationship: str
    postal_code: str
    address: str
    address_extra: str
    phone: str
    status: int
    status_date: date | None
    status_reason: str

    @property
    def sex_label(self) -> str:
        return Sex(self.sex).label

    @property
    def status_label(self) -> str:
        return ResidentStatus(self.status).label

    @property
    def is_resident(self) -> bool:
        return self.status == ResidentStatus.RESIDENT


@dataclass(frozen=True, slots=True)
class HistoryView:
    """One change (異動・変更履歴)."""

    changed_at: datetime
    kind: str
    changes: dict[str, Any]
    status: int
    status_date: date | None
    status_reason: str
    status_changed: bool
    batch_id: int | None


@dataclass(frozen=True, slots=True)
class BatchView:
    id: int
    status: str
    mode: str
    file_name: str
    file_sha256: str
    operator: str
    terminal: str
    started_at: datetime
    finished_at: datetime | None
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    absent: int
    summary: dict[str, Any]


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def _view(row: dict[str, Any]) -> PersonView:
    return PersonView(**{f: row[f] for f in PERSON_FIELDS})


def get_person(ctx: AccessContext, atena_no: str) -> PersonView:
    """One person by 宛名番号 (宛名の参照)."""
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=RESOURCE, target=a):
        row = Person.objects.filter(municipality=_m(), atena_no=a).values(*PERSON_FIELDS).first()
    if row is None:
        raise PersonNotFound(a)
    return _view(row)


def search(
    ctx: AccessContext,
    *,
    name: str | None = None,
    kana: str | None = None,
    birth_date: date | None = None,
    atena_no: str | None = None,
    household_no: str | None = None,
    limit: int = 50,
) -> list[PersonView]:
    """Persons matching every given criterion (宛名検索). Names match on the normalised keys by
    prefix (``ﾔﾏﾀﾞ``, ``やまだ`` and ``ヤマダ`` find ヤマダ　タロウ); the log lists the found 宛名番号."""
    with door(ctx, Operation.SEARCH, resource=RESOURCE) as rec:
        qs = Person.objects.filter(municipality=_m())
        if name:
            key = search_key(name)
            qs = qs.filter(kanji_key__startswith=key) if not _is_kana(key) else qs.filter(
                kana_key__startswith=key
            )
        if kana:
            qs = qs.filter(kana_key__startswith=search_key(kana))
        if birth_date:
            qs = qs.filter(birth_date=birth_date)
        if atena_no:
            qs = qs.filter(atena_no=atena_no.strip())
        if household_no:
            qs = qs.filter(household_no=household_no.strip())
        rows = list(qs.order_by("kana_key", "atena_no").values(*PERSON_FIELDS)[: max(1, min(limit, 500))])
        rec.targets = [r["atena_no"] for r in rows] or [""]
        rec.detail = f"search hits={len(rows)}"
    return [_view(r) for r in rows]


def _is_kana(key: str) -> bool:
    return bool(key) and all("\u30a0" <= c <= "\u30ff" for c in key)


def household_members(ctx: AccessContext, household_no: str) -> list[PersonView]:
    """The members of a household (世帯構成員), 世帯主 first."""
    with door(ctx, Operation.READ, resource=RESOURCE) as rec:
        rows = list(
            Person.objects.filter(municipality=_m(), household_no=household_no.strip())
            .order_by("atena_no").values(*PERSON_FIELDS)
        )
        rec.targets = [r["atena_no"] for r in rows] or [""]
    rows.sort(key=lambda r: (r["relationship"] != "世帯主", r["birth_date"]))
    return [_view(r) for r in rows]


def history(ctx: AccessContext, atena_no: str) -> list[HistoryView]:
    """A person's change history (異動・変更履歴), newest first."""
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=RESOURCE, target=a):
        rows = list(
            PersonHistory.objects.filter(municipality=_m(), atena_no=a).order_by("-changed_at", "-id").values(
                "changed_at", "kind", "changes", "status", "status_date", "status_reason", "status_changed",
                "batch_id",
            )
        )
    return [HistoryView(**r) for r in rows]


def batches(ctx: AccessContext, limit: int = 20, before: int | None = None) -> list[BatchView]:
    """The latest import batches (連携履歴), newest first, or those recorded before batch ``before``
    (the next page): counts only, no personal data."""
    qs = ImportBatch.objects.filter(municipality=_m())
    if before is not None:
        qs = qs.filter(pk__lt=before)
    with door(ctx, Operation.READ, resource=BATCH_RESOURCE):
        rows = list(qs.select_related("operator").order_by("-id")[:limit])
    return [_batch_view(b) for b in rows]


def batch(ctx: AccessContext, batch_id: int) -> BatchView:
    """One import batch (連携の結果): counts only, no personal data."""
    with door(ctx, Operation.READ, resource=BATCH_RESOURCE, target=str(batch_id)):
        b = ImportBatch.objects.filter(municipality=_m(), pk=batch_id).select_related("operator").first()
    if b is None:
        raise InputRejected(f"バッチ {batch_id} はありません。 / No batch {batch_id}.")
    return _batch_view(b)


def _batch_view(b: ImportBatch) -> BatchView:
    return BatchView(b.pk, b.status, b.mode, b.file_name, b.file_sha256, b.operator.username, b.terminal,
                     b.started_at, b.finished_at, b.rows_read, b.inserted, b.updated, b.unchanged, b.rejected,
                     b.absent, dict(b.summary or {}))


def suspended_among(atena_nos: list[str]) -> set[str]:
    """Which of these 宛名番号 are under suspension of use (利用停止). Internal helper for selectors and
    batches already inside the door (no log entry of its own), e.g. target extraction leaving them out."""
    from .models import UseSuspension

    out: set[str] = set()
    for i in range(0, len(atena_nos), 500):
        out.update(UseSuspension.objects.filter(municipality=_m(), atena_no__in=atena_nos[i:i + 500],
                                                lifted_at__isnull=True).values_list("atena_no", flat=True))
    return out


def is_use_suspended(ctx: AccessContext, atena_no: str) -> bool:
    """Whether the person's data is under suspension of use (利用停止中); logged."""
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource="people.suspension", target=a, detail="is_use_suspended"):
        return bool(suspended_among([a]))


def all_suspended() -> set[str]:
    """Every 宛名番号 under suspension of use, for set-based batches inside the door (SQL anti-join
    alternative: ``UseSuspension`` rows with ``lifted_at`` empty)."""
    from .models import UseSuspension

    return set(UseSuspension.objects.filter(municipality=_m(), lifted_at__isnull=True)
               .values_list("atena_no", flat=True))


class PersonFacts(NamedTuple):
    """What a batch rule needs of a person (年齢・性別・住民区分), no name or address."""

    atena_no: str
    person_id: int
    birth_date: date
    sex: int
    status: int  # 住民区分 (CONTRACTS.md §1)
    status_date: date | None  # 異動日: moved out, died or removed on

    @property
    def death_date(self) -> date | None:
        return self.status_date if self.status == ResidentStatus.DECEASED else None

    def resident_on(self, day: date) -> bool:
        """Whether the person lived here on ``day`` as far as the register knows: a resident now, or
        moved out / died / removed on or after it (a move-in date is not kept)."""
        return self.status == ResidentStatus.RESIDENT or (self.status_date is not None and day <= self.status_date)


_FACTS_IN_LISTS = 20_000  # above this many 宛名番号, a staged list or a scan instead of IN lists
_FACTS_WANTED = "people_facts_wanted"


def bulk_facts(ctx: AccessContext, atena_nos: Iterable[str] | None = None) -> list[PersonFacts]:
    """Birth date, sex and residence status of the given persons (any status), or of the whole city
    when ``atena_nos`` is None, in one set-based read: IN lists in chunks for a short list; for a
    long one, a join against the list staged in a temporary table, or one streamed scan when the
    list names half the city or more (memory follows the list, not the city). One
    access-log entry: BATCH where the purpose allows batches, else READ (naming the person when
    there is one)."""
    wanted = None if atena_nos is None else sorted({str(a) for a in atena_nos})
    op = Operation.BATCH if check(ctx, Operation.BATCH) is None else Operation.READ
    target = wanted[0] if wanted is not None and len(wanted) == 1 else ""
    with door(ctx, op, resource=RESOURCE, target=target) as rec:
        rows = _facts(wanted)
        rec.detail = f"bulk facts asked={'all' if wanted is None else len(wanted)} found={len(rows)}"
    return rows


def _city_size(cur: Any, table: str) -> int:
    cur.execute(f"SELECT count(*) FROM {table} WHERE municipality = %s", [_m()])
    return int(cur.fetchone()[0])


_FACTS_COLS = "p.atena_no, p.id, p.birth_date, p.sex, p.status, p.status_date"


def _facts_read(cur: Any, wanted: list[str], way: bulkload.Way) -> list[tuple[Any, ...]]:
    return bulkload.rows_for_keys(cur, connection.vendor, select=_FACTS_COLS, source=f"{Person._meta.db_table} p",
                                  where="p.municipality = %s", params=[_m()], key="p.atena_no", keys=wanted,
                                  way=way, stage=_FACTS_WANTED)


def _facts_joined(cur: Any, wanted: list[str]) -> list[tuple[Any, ...]]:
    """The wanted 宛名番号 staged in a temporary table and joined to the register: time and memory
    follow the list, not the city (inside the door's transaction)."""
    return _facts_read(cur, wanted, "joined")


def _facts(wanted: list[str] | None) -> list[PersonFacts]:
    # Raw SQL: a city is hundreds of thousands of rows, and the ORM's per-value converters cost
    # more than the query (SQLite returns dates as ISO text, PostgreSQL as dates).
    table = Person._meta.db_table
    raw: list[tuple[Any, ...]] = []
    with connection.cursor() as cur:
        if wanted is None:
            cur.execute(f"SELECT {_FACTS_COLS} FROM {table} p WHERE p.municipality = %s", [_m()])
            raw = cur.fetchall()
        elif len(wanted) <= _FACTS_IN_LISTS:
            raw = _facts_read(cur, wanted, "in_lists")
        elif 2 * len(wanted) >= _city_size(cur, table):
            raw = _facts_read(cur, wanted, "scan")  # most of the city: one scan, streamed
        else:
            raw = _facts_joined(cur, wanted)
    if raw and isinstance(raw[0][2], str):
        iso = date.fromisoformat
        return [PersonFacts(a, i, iso(b), s, st, iso(sd) if sd else None) for a, i, b, s, st, sd in raw]
    return [PersonFacts(*r) for r in raw]


def resident_births(ctx: AccessContext, born_from: date, born_to: date) -> list[tuple[int, date]]:
    """(person id, birth date) of the register's current residents (住民基本台帳の住民, 住民区分 1) born
    between the two dates (inclusive): the denominators of coverage statistics (接種率). No name, no
    宛名番号, no address. One BATCH entry with the count."""
    table = Person._meta.db_table
    with door(ctx, Operation.BATCH, resource=RESOURCE,
              detail=f"resident births {born_from.isoformat()}..{born_to.isoformat()}") as rec, \
            connection.cursor() as cur:
        cur.execute(f"SELECT id, birth_date FROM {table} WHERE municipality = %s AND source = %s AND status = %s "
                    f"AND birth_date >= %s AND birth_date <= %s",
                    [_m(), Source.REGISTER.value, int(ResidentStatus.RESIDENT), born_from, born_to])
        raw = cur.fetchall()
        rec.detail += f" persons={len(raw)}"
    if raw and isinstance(raw[0][1], str):  # SQLite returns dates as ISO text
        iso = date.fromisoformat
        return [(int(i), iso(b)) for i, b in raw]
    return [(int(i), b) for i, b in raw]


def waiting_work() -> list[tuple[str, str, int]]:
    """Work waiting for staff, as (purpose code, label, count): review items the latest import and
    住基ネット check left, and requests waiting for a second staff member (二人確認). Counts only, no
    person is read (the home menu)."""
    from . import review
    from .models import ApplicationState, AtenaSwitch, NonResidentApplication, ProtectionRequest

    out = [(review.purpose_of(mode).value, "未確認", n) for mode, n in review.waiting().items()]
    p03, p04 = Purpose.NONRESIDENT_REGISTRATION.value, Purpose.PROTECTION_MEASURE.value
    pending = {p03: 0, p04: 0}
    for model, purpose in ((NonResidentApplication, p03), (AtenaSwitch, p03), (ProtectionRequest, p04)):
        pending[purpose] += model.objects.filter(municipality=_m(), state=ApplicationState.PENDING).count()
    out += [(p, "確認待ち", n) for p, n in pending.items()]
    return [w for w in out if w[2]]
