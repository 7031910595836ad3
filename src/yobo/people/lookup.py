"""The staff's search and person page (宛名検索・個人画面): partial, width-insensitive matching on
names, birth date, address and 宛名番号; My Number search for staff with the right; addresses of
protected persons (支援措置) masked for staff without the address right. Every call goes through
the door: a search logs one entry per person shown, a person page a READ of that 宛名番号.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Case, IntegerField, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import StrIndex

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation
from yobo.core.text import address_key, search_key
from yobo.core.wareki import to_wareki
from yobo.mynumber import selectors as vault_selectors

from . import protection
from .models import NonResidentApplication, Person, PersonHistory, ResidentStatus, Source
from .selectors import PERSON_FIELDS, RESOURCE, PersonNotFound, PersonView, _is_kana

MASKED_FIELDS = ("postal_code", "address", "address_extra", "phone")
HIDDEN = "（非表示）"
MAX_LIMIT = 200
FIELD_LABELS = {
    "household_no": "世帯番号", "name_kanji": "氏名", "name_kana": "フリガナ", "birth_date": "生年月日", "sex": "性別",
    "relationship": "続柄", "postal_code": "郵便番号", "address": "住所", "address_extra": "方書",
    "phone": "電話番号", "status": "住民区分", "status_date": "異動日", "status_reason": "異動事由",
}


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def age_on(born: date, on: date) -> int:
    """Age in full years on ``on`` (満年齢)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(frozen=True, slots=True)
class PersonCard(PersonView):
    """A person as shown to staff, with the address masked where the staff member has no right."""

    masked: bool = False  # 支援措置対象：住所非表示
    protected: bool = False  # under a support measure (shown to staff with the right)

    @property
    def birth_wareki(self) -> str:
        return to_wareki(self.birth_date)

    @property
    def age(self) -> int:
        return age_on(self.birth_date, date.today())

    @property
    def source_label(self) -> str:
        return Source(self.source).label

    @property
    def mask_label(self) -> str:
        return protection.MASK_LABEL


def _card(row: dict[str, Any], masked: bool, protected: bool) -> PersonCard:
    values = {f: row[f] for f in PERSON_FIELDS}
    if masked:
        values.update({f: "" for f in MASKED_FIELDS})
    return PersonCard(**values, masked=masked, protected=protected)


def _protection_flags(ctx: AccessContext, rows: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """(protected 宛名番号 among rows, 宛名番号 whose address must be hidden from ``ctx``)."""
    prot = protection.protected_among([r["atena_no"] for r in rows])
    households = protection.protected_households() if rows else set()
    shielded = {r["atena_no"] for r in rows if r["atena_no"] in prot or (r["household_no"] and
                                                                         r["household_no"] in households)}
    if protection.can_see_protected_address(ctx):
        return prot, set()
    return prot, shielded


@dataclass(frozen=True, slots=True)
class Criteria:
    """Search keys (検索条件); every given key must match."""

    name: str = ""  # kana (any width, hiragana too) or kanji, partial
    birth_date: date | None = None
    address: str = ""  # partial; 1-2-3 = 一丁目2番3号, any width (``core.text.address_key``)
    atena_no: str = ""

    def keys(self) -> list[str]:
        return [k for k, v in (("name", self.name), ("birth", self.birth_date), ("address", self.address),
                               ("atena", self.atena_no)) if v]


@dataclass(frozen=True, slots=True)
class SearchResult:
    persons: list[PersonCard] = field(default_factory=list)
    more: bool = False  # more than the limit matched: narrow the search
    limit: int = 50


def _like_anywhere(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _sqlite_scan(qs: Any, index: str | None, terms: list[tuple[str, str]]) -> Any:
    """On SQLite, narrow ``qs`` to the persons whose ``column`` contains ``text`` for any of
    ``terms``, found by one sequential read: of ``index`` (a B-tree holding the column, so the
    match is tested on the index entries alone) or, with ``index=None``, of the table.

    A match anywhere in a key (``LIKE '%…%'``) can use no B-tree, and SQLite, given the equality on
    the municipality that leads every index of the table, walked one of them and fetched each
    person's row at random to test it: 1.3 s for a name at a million persons, against 0.07 s for
    this read. PostgreSQL answers the same filters from its trigram indexes (migration
    ``people.0007``) and is left to its planner.
    """
    if connection.vendor != "sqlite":
        return qs
    hint = f"INDEXED BY {index}" if index else "NOT INDEXED"
    cond = " OR ".join(f"{col} LIKE %s ESCAPE '\\'" for col, _ in terms)
    sql = f"SELECT id FROM people_person {hint} WHERE municipality = %s AND ({cond})"
    # Identifiers come from this module only; the values are parameters.
    return qs.filter(pk__in=RawSQL(sql, [_m(), *(_like_anywhere(text) for _, text in terms)]))  # noqa: S611


ORDER = ("kana_key", "birth_date", "atena_no")
TRIGRAM = 3  # the shortest key pg_trgm's index can find anywhere in a name
_TOP = "\U0010ffff"  # the highest code point: key <= k < key + _TOP holds every k starting with key


def _starts_first(col: str, key: str) -> Case:
    return Case(When(**{f"{col}__startswith": key}, then=Value(0)), default=Value(1), output_field=IntegerField())


def _by_name(qs: Any, col: str, key: str, n: int, *, scan: bool) -> list[dict[str, Any]]:
    """The first ``n`` persons of ``qs`` whose name key ``col`` contains ``key``: those it starts
    with first, then those holding it further in, each part in ``ORDER``.

    PostgreSQL reads a key of three characters or more at once: the trigram index finds it
    anywhere. Otherwise the two parts are read apart, because the first is cheap and usually
    fills the page: a range of the key's B-tree on SQLite, and on PostgreSQL the trigram index
    even for a two-character key (``'渡辺%'`` has the word-start trigrams ``'%渡辺%'`` lacks, which
    would scan the table). Only when fewer than ``n`` persons start with the key is the match
    anywhere read (``scan``: on SQLite by one read of the key's B-tree, see ``_sqlite_scan``; off
    when a birth date or 宛名番号 narrows better).

    On PostgreSQL every read is ordered by ``_starts_first`` ahead of ``ORDER``: an order no B-tree
    gives, so the planner sorts what the trigram index found instead of walking ``kana_key``'s
    B-tree from its start until ``n`` rows pass the filter (0.7 s at a million persons).
    """
    sqlite = connection.vendor == "sqlite"
    order: tuple[Any, ...] = ORDER if sqlite else (_starts_first(col, key), *ORDER)
    if not sqlite and len(key) >= TRIGRAM:
        return list(qs.filter(**{f"{col}__contains": key}).order_by(*order).values(*PERSON_FIELDS)[:n])
    starts = qs.filter(**{f"{col}__startswith": key})
    if sqlite:  # SQLite's LIKE is no range; its keys compare by code point
        starts = starts.filter(**{f"{col}__gte": key, f"{col}__lt": key + _TOP})
    rows = list(starts.order_by(*order).values(*PERSON_FIELDS)[:n])
    if len(rows) < n:
        # Found at position 2 or later: no index serves this, on purpose. For a key too short for
        # a trigram, PostgreSQL would otherwise read all of the trigram index for ``LIKE '%アイ%'``
        # (1.6M candidates at 4M persons, 1–11 s) rather than scan the table (0.3 s).
        inside = qs.annotate(_at=StrIndex(col, Value(key))).filter(_at__gt=1)
        if scan:
            inside = _sqlite_scan(inside, f"people_person_{col.removesuffix('_key')}", [(col, key)])
        rows += inside.order_by(*order).values(*PERSON_FIELDS)[:n - len(rows)]
    return rows


def search(ctx: AccessContext, criteria: Criteria, *, limit: int = 50) -> SearchResult:
    """Persons matching the criteria (宛名検索), at most ``limit``; logged one entry per person shown.

    Names match anywhere in the normalised keys (``ﾔﾏﾀﾞ``, ``やまだ``, ``ヤマダ`` are one key),
    prefix matches first. A search by address does not return persons whose address is hidden
    from this staff member (typing the address must not reveal who lives there).
    """
    keys = criteria.keys()
    if not keys:
        raise InputRejected("検索条件を1つ以上入力してください。 / Enter at least one search key.")
    limit = max(1, min(limit, MAX_LIMIT))
    with door(ctx, Operation.SEARCH, resource=RESOURCE) as rec:
        qs = Person.objects.filter(municipality=_m())
        # Birth date and 宛名番号 are served by their B-trees whatever else is given.
        keyed = bool(criteria.birth_date or criteria.atena_no)
        if criteria.birth_date:
            qs = qs.filter(birth_date=criteria.birth_date)
        if criteria.atena_no:
            qs = qs.filter(atena_no=criteria.atena_no.strip())
        if criteria.address:
            akey = address_key(criteria.address)
            qs = qs.filter(address_key__contains=akey)
            if not keyed and not criteria.name:
                qs = _sqlite_scan(qs, None, [("address_key", akey)])
        if criteria.name:
            key = search_key(criteria.name)
            col = "kana_key" if _is_kana(key) else "kanji_key"
            rows = _by_name(qs, col, key, limit + 1, scan=not keyed)
        else:
            rows = list(qs.order_by(*ORDER).values(*PERSON_FIELDS)[:limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        prot, shielded = _protection_flags(ctx, rows)
        if criteria.address and shielded:
            rows = [r for r in rows if r["atena_no"] not in shielded]
        rec.targets = [r["atena_no"] for r in rows] or [""]
        rec.detail = f"search by={'+'.join(keys)} hits={len(rows)}{'+' if more else ''} masked={len(shielded)}"
    return SearchResult([_card(r, r["atena_no"] in shielded, r["atena_no"] in prot) for r in rows], more, limit)


def search_by_mynumber(ctx: AccessContext, number: str) -> tuple[str | None, SearchResult]:
    """The person with this My Number (個人番号による検索): needs the My Number right (the vault
    refuses and logs otherwise). Returns (宛名番号 or None, the person if registered as one)."""
    atena = vault_selectors.find_atena_by_number(ctx, number)
    if atena is None:
        return None, SearchResult()
    return atena, search(ctx, Criteria(atena_no=atena), limit=1)


@dataclass(frozen=True, slots=True)
class HistoryLine:
    changed_at: datetime
    kind: str
    changes: dict[str, Any]
    status: int
    status_date: date | None
    status_reason: str
    status_changed: bool
    by: str  # "連携 #<batch>" or the staff member

    @property
    def status_label(self) -> str:
        return ResidentStatus(self.status).label

    @property
    def labelled_changes(self) -> list[tuple[str, Any, Any]]:
        """(項目名, old, new) for display."""
        return [(FIELD_LABELS.get(k, k), *[*v, None, None][:2]) for k, v in self.changes.items()]


@dataclass(frozen=True, slots=True)
class PersonPage:
    """Everything the person page shows (個人画面)."""

    person: PersonCard
    protection: protection.ProtectionStatus
    household: list[PersonCard]
    history: list[HistoryLine]
    mynumber: vault_selectors.LinkInfo
    nonresident_reason: str = ""


def _history(m: str, a: str, masked: bool) -> list[HistoryLine]:
    rows = PersonHistory.objects.filter(municipality=m, atena_no=a).select_related("changed_by").order_by(
        "-changed_at", "-id")
    out: list[HistoryLine] = []
    for h in rows:
        changes = dict(h.changes or {})
        if masked:
            changes = {k: ([HIDDEN, HIDDEN] if k in MASKED_FIELDS else v) for k, v in changes.items()}
        by = f"連携 #{h.batch_id}" if h.batch_id else (h.changed_by.get_username() if h.changed_by else "")
        out.append(HistoryLine(h.changed_at, h.kind, changes, h.status, h.status_date, h.status_reason,
                               h.status_changed, by))
    return out


def person_page(ctx: AccessContext, atena_no: str) -> PersonPage:
    """The person page (個人画面): basic items, household, residence history, My Number status and
    support-measure status. Logged as a READ of the 宛名番号 (and of each household member shown)."""
    a = str(atena_no).strip()
    m = _m()
    with door(ctx, Operation.READ, resource=RESOURCE, target=a, detail="person page") as rec:
        row = Person.objects.filter(municipality=m, atena_no=a).values(*PERSON_FIELDS).first()
        if row is None:
            raise PersonNotFound(a)
        prot, shielded = _protection_flags(ctx, [row])
        masked = a in shielded
        card = _card(row, masked, a in prot)
        status = protection._status(m, a)
        hist = _history(m, a, masked)
        reason = ""
        if row["source"] == Source.NON_REGISTERED:
            reason = (NonResidentApplication.objects.filter(municipality=m, atena_no=a)
                      .values_list("reason", flat=True).first() or "")
        if masked:
            rec.detail = "person page masked"
    members: list[PersonCard] = []
    if row["household_no"]:
        with door(ctx, Operation.READ, resource=RESOURCE, detail=f"household of {a}") as rec2:
            mrows = list(Person.objects.filter(municipality=m, household_no=row["household_no"]).exclude(atena_no=a)
                         .values(*PERSON_FIELDS))
            mprot, mshield = _protection_flags(ctx, mrows)
            rec2.targets = [r["atena_no"] for r in mrows] or [""]
        mrows.sort(key=lambda r: (r["relationship"] != "世帯主", r["birth_date"]))
        members = [_card(r, r["atena_no"] in mshield, r["atena_no"] in mprot) for r in mrows]
    link = vault_selectors.status(ctx, a)
    return PersonPage(card, status, members, hist, link, reason)


def get_card(ctx: AccessContext, atena_no: str) -> PersonCard:
    """One person's basic items, masked as for the person page (for the API); a logged READ."""
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=RESOURCE, target=a) as rec:
        row = Person.objects.filter(municipality=_m(), atena_no=a).values(*PERSON_FIELDS).first()
        if row is None:
            raise PersonNotFound(a)
        prot, shielded = _protection_flags(ctx, [row])
        if a in shielded:
            rec.detail = "masked"
    return _card(row, a in shielded, a in prot)
