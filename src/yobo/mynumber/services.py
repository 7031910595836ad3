"""Writes to the My Number vault (個人番号の登録・更新). Every function takes an ``AccessContext`` and
runs inside the audit door, so the change and its access-log entry commit together.

No message, log line or return value here contains a My Number: conflicts name 宛名番号 only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation

from . import checkdigit, crypto, keys, vault
from .models import (
    PHOTO_DOCUMENTS,
    AgentKind,
    IdentityDocument,
    IdentityVerification,
    LinkStatus,
    MyNumberLink,
    NumberCheckMethod,
)
from .vault import NumberConflict

log = logging.getLogger(__name__)

# Columns written by the set-based insert (order matters for executemany / COPY).
_INSERT_COLUMNS = (
    "municipality", "integrated_no", "atena_no", "ciphertext", "nonce", "key_id", "blind_index",
    "index_key_id", "status", "created_at", "created_by_id", "updated_at",
)
_BATCH = 5000


# --- identity verification (番号確認・本人確認) -------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What staff checked when the number was taken (番号法第16条).

    ``identity_documents`` are the person's documents; with an agent, ``agent_identity_documents``
    are the agent's, and a 任意代理人 needs the 委任状 seen, a 法定代理人 a document proving the
    representation (戸籍謄本等).
    """

    number_check: str
    identity_documents: tuple[str, ...] = ()
    agent_kind: str = ""
    agent_identity_documents: tuple[str, ...] = ()
    power_of_attorney_seen: bool = False
    representation_document_seen: bool = False
    note: str = ""


_LONG_DIGITS = re.compile(r"[0-9]{10,}")


def _identity_ok(docs: tuple[str, ...]) -> bool:
    # One photo document suffices; otherwise two documents (施行規則の「2点以上」).
    return any(d in PHOTO_DOCUMENTS for d in docs) or len(set(docs)) >= 2


def verification_problems(v: Verification) -> list[str]:
    """Why a verification record is incomplete (empty when it is complete)."""
    out: list[str] = []
    if v.number_check not in NumberCheckMethod.values:
        out.append("番号確認の方法を選んでください。 / Choose how the number was checked.")
    docs_known = set(IdentityDocument.values)
    if any(d not in docs_known for d in (*v.identity_documents, *v.agent_identity_documents)):
        out.append("本人確認書類の種類が正しくありません。 / Unknown identity document type.")
    if v.agent_kind not in AgentKind.values:
        out.append("代理人の種別が正しくありません。 / Unknown agent kind.")
    elif v.agent_kind == AgentKind.NONE:
        if not _identity_ok(v.identity_documents):
            out.append(
                "本人確認書類は写真付きのもの1点、またはそれ以外のもの2点以上が必要です。"
                " / One photo ID or two other documents are required."
            )
    else:
        if not _identity_ok(v.agent_identity_documents):
            out.append(
                "代理人の本人確認書類は写真付きのもの1点、またはそれ以外のもの2点以上が必要です。"
                " / The agent needs one photo ID or two other documents."
            )
        if v.agent_kind == AgentKind.DELEGATE and not v.power_of_attorney_seen:
            out.append(
                "任意代理人の場合は委任状を確認してください。 / A delegate needs a letter of authority (委任状)."
            )
        if v.agent_kind == AgentKind.LEGAL and not v.representation_document_seen:
            out.append(
                "法定代理人の場合は代理権を証明する書類 (戸籍謄本等) を確認してください。"
                " / A legal representative needs proof of representation."
            )
    # Free text must not become a place where numbers are written down.
    if _LONG_DIGITS.search(checkdigit.normalize(v.note)):
        out.append("備考に長い数字 (個人番号等) を書かないでください。 / Do not write long numbers in the note.")
    return out


def _create_verification(ctx: AccessContext, m: str, atena_no: str, link: MyNumberLink | None,
                         v: Verification) -> IdentityVerification:
    problems = verification_problems(v)
    if problems:
        raise InputRejected("\n".join(problems))
    return IdentityVerification.objects.create(
        municipality=m,
        atena_no=atena_no,
        link=link,
        number_check=v.number_check,
        identity_documents=sorted(set(v.identity_documents)),
        agent_kind=v.agent_kind,
        agent_identity_documents=sorted(set(v.agent_identity_documents)),
        power_of_attorney_seen=v.power_of_attorney_seen,
        representation_document_seen=v.representation_document_seen,
        note=v.note,
        verified_by_id=ctx.staff_id,
        verified_at=timezone.now(),
    )


def record_verification(ctx: AccessContext, atena_no: str, verification: Verification) -> int:
    """Record a number check and identity check for a person (番号確認・本人確認の記録); returns its id."""
    a = vault.atena(atena_no)
    with door(ctx, Operation.CREATE, resource=vault.VERIFICATION_RESOURCE, target=a):
        m = vault.municipality()
        link = MyNumberLink.objects.filter(municipality=m, atena_no=a).first()
        return _create_verification(ctx, m, a, link, verification).pk


def confirm_verification(ctx: AccessContext, verification_id: int) -> None:
    """Second-staff confirmation of a verification record (二人確認); not by the staff who recorded it."""
    with door(ctx, Operation.UPDATE, resource=vault.VERIFICATION_RESOURCE) as entry:
        rec = IdentityVerification.objects.select_for_update().filter(pk=verification_id).first()
        if rec is not None:
            entry.targets = [rec.atena_no]
        if rec is None:
            raise InputRejected(
                f"確認記録 {verification_id} がありません。 / No verification record {verification_id}."
            )
        if rec.verified_by_id == ctx.staff_id:
            raise InputRejected(
                "記録した職員とは別の職員が確認してください。 / A second staff member must confirm, not the recorder."
            )
        if rec.confirmed_by_id is not None:
            raise InputRejected("この記録は既に確認済みです。 / This record is already confirmed.")
        rec.confirmed_by_id = ctx.staff_id
        rec.confirmed_at = timezone.now()
        rec.save(update_fields=["confirmed_by", "confirmed_at"])


# --- registration ------------------------------------------------------------------------------


def register(ctx: AccessContext, atena_no: str, number: str, verification: Verification | None = None) -> str:
    """Link a My Number to a 宛名番号 (個人番号の登録); returns the integrated address number.

    The integrated number is assigned here, when the number is first entered. Registering the same
    number for the same 宛名番号 again changes nothing. A number linked to another 宛名番号, or a
    宛名番号 linked to another number, is refused (``NumberConflict``, naming 宛名番号 only).
    """
    a = vault.atena(atena_no)
    with door(ctx, Operation.CREATE, resource=vault.RESOURCE, target=a) as rec:
        n = vault.number(number)
        m = vault.municipality()
        ring = vault.ring()
        wanted = crypto.index_all(ring, n)
        existing = MyNumberLink.objects.filter(municipality=m, atena_no=a).first()
        if existing is not None:
            if existing.blind_index not in wanted:
                raise NumberConflict(a, "number_differs")
            link = existing
            rec.detail = "unchanged"
        else:
            other = (
                MyNumberLink.objects.filter(municipality=m, blind_index__in=wanted)
                .values_list("atena_no", flat=True)
                .first()
            )
            if other is not None:
                raise NumberConflict(a, "number_on_other_atena", other)
            integrated = vault.reserve_integrated(m, 1)[0]
            index_key_id, bi = crypto.index_active(ring, n)
            sealed = crypto.Sealer(ring).seal(m, integrated, n)
            now = timezone.now()
            try:
                with transaction.atomic():
                    link = MyNumberLink.objects.create(
                        municipality=m, integrated_no=integrated, atena_no=a,
                        ciphertext=sealed.ciphertext, nonce=sealed.nonce, key_id=sealed.key_id,
                        blind_index=bi, index_key_id=index_key_id, created_at=now,
                        created_by_id=ctx.staff_id, updated_at=now,
                    )
            except IntegrityError:
                # A concurrent registration won the race; the unique constraints said no.
                raise NumberConflict(a, "number_on_other_atena") from None
            rec.detail = f"registered {integrated}"
        if verification is not None:
            _create_verification(ctx, m, a, link, verification)
        return link.integrated_no


@dataclass(frozen=True, slots=True)
class Conflict:
    """A refused row of a bulk registration, by 宛名番号 only."""

    atena_no: str
    reason: str
    other_atena_no: str = ""

    @property
    def message(self) -> str:
        return vault.conflict_message(self.atena_no, self.reason, self.other_atena_no)


@dataclass
class BulkResult:
    """Outcome of ``bulk_register``. ``assigned`` maps new 宛名番号 to their integrated numbers."""

    inserted: int = 0
    unchanged: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    assigned: dict[str, str] = field(default_factory=dict)
    applied: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted,
            "unchanged": self.unchanged,
            "refused": len(self.conflicts),
            "conflicts": [
                {"atena_no": c.atena_no, "reason": c.reason, "other_atena_no": c.other_atena_no}
                for c in self.conflicts
            ],
        }


def _existing(m: str, atenas: list[str], indexes: list[str]) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """Existing links: by 宛名番号 -> (blind index, integrated no), and blind index -> 宛名番号.

    For a large input every row of the municipality is read in one pass (one query, no per-row
    lookups); a small input reads only the rows with its 宛名番号 or its blind indexes.
    """
    qs = MyNumberLink.objects.filter(municipality=m).values_list("atena_no", "blind_index", "integrated_no")
    by_atena: dict[str, tuple[str, str]] = {}
    by_index: dict[str, str] = {}
    rows: Iterable[tuple[str, str, str]]
    if len(atenas) + len(indexes) > 20_000:
        rows = qs.iterator(chunk_size=20_000)
    else:
        rows = [r for i in range(0, len(atenas), 500) for r in qs.filter(atena_no__in=atenas[i:i + 500])]
        rows += [r for i in range(0, len(indexes), 500) for r in qs.filter(blind_index__in=indexes[i:i + 500])]
    for a, bi, ino in rows:
        by_atena[a] = (bi, ino)
        by_index[bi] = a
    return by_atena, by_index


def _insert_rows(rows: list[tuple[Any, ...]]) -> None:
    table = MyNumberLink._meta.db_table
    cols = ", ".join(_INSERT_COLUMNS)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            raw: Any = cur.cursor  # psycopg 3: COPY is the fast path for a large load
            with raw.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            marks = ", ".join(["%s"] * len(_INSERT_COLUMNS))
            sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
            for i in range(0, len(rows), _BATCH):
                cur.executemany(sql, rows[i:i + _BATCH])


def _update_rows(cur: Any, set_cols: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Update rows by id: each row is (*values for set_cols, id). One statement per batch on
    PostgreSQL (UPDATE ... FROM VALUES); executemany on SQLite, where that is already fast."""
    table = MyNumberLink._meta.db_table
    if connection.vendor == "postgresql":
        cols = ", ".join((*set_cols, "id"))
        values = ", ".join(["(" + ", ".join(["%s"] * (len(set_cols) + 1)) + ")"] * len(rows))
        sets = ", ".join(f"{c} = v.{c}" for c in set_cols)
        cur.execute(
            f"UPDATE {table} AS t SET {sets} FROM (VALUES {values}) AS v({cols}) WHERE t.id = v.id",
            [x for r in rows for x in r],
        )
    else:
        sets = ", ".join(f"{c} = %s" for c in set_cols)
        cur.executemany(f"UPDATE {table} SET {sets} WHERE id = %s", rows)


def bulk_register(
    ctx: AccessContext, pairs: Iterable[tuple[str, str]], *, check_only: bool = False
) -> BulkResult:
    """Register many (宛名番号, 個人番号) pairs in one transaction (一括登録; the daily resident sync).

    Set-based: numbers are validated and indexed in memory, existing links read in one pass, new
    rows inserted in batches (COPY on PostgreSQL). Re-running the same input changes nothing.
    Refused and reported (by 宛名番号, never by number): malformed numbers, a number already linked
    to another 宛名番号, a 宛名番号 already linked to another number, and a number that appears on
    several 宛名番号 of the input (none of them is linked). ``check_only`` reports without writing.
    """
    with door(ctx, Operation.BATCH, resource=vault.RESOURCE) as rec:
        result = _bulk(ctx, pairs, check_only)
        rec.detail = (
            f"bulk inserted={result.inserted} unchanged={result.unchanged} refused={len(result.conflicts)}"
            + (" check_only" if check_only else "")
        )
    return result


def _bulk(ctx: AccessContext, pairs: Iterable[tuple[str, str]], check_only: bool) -> BulkResult:
    m = vault.municipality()
    ring = vault.ring()
    result = BulkResult(applied=not check_only)
    refused: dict[str, Conflict] = {}
    digits12 = re.compile(r"[0-9]{12}")
    numbers: dict[str, str] = {}  # atena -> normalised number
    for atena_raw, number_raw in pairs:
        a = str(atena_raw).strip()
        if not vault._ATENA.fullmatch(a):
            refused.setdefault(a, Conflict(a, "invalid_atena"))
            continue
        s = str(number_raw)
        n = s if digits12.fullmatch(s) else checkdigit.normalize(s)
        if not checkdigit.is_valid(n):
            refused[a] = Conflict(a, "invalid_number")
            continue
        prev = numbers.get(a)
        if prev is not None and prev != n:
            refused[a] = Conflict(a, "atena_twice")
        numbers[a] = n
    for a in refused:
        numbers.pop(a, None)

    # Blind indexes under every index key (one, except during an interrupted reindex).
    index_keys = list(ring.index_keys.values())
    active_pos = list(ring.index_keys).index(ring.active_index_key)
    idx = {a: [crypto.blind_index(k, n) for k in index_keys] for a, n in numbers.items()}

    by_atena, by_index = _existing(m, list(numbers), [b for bis in idx.values() for b in bis])
    candidates: list[str] = []
    for a, bis in idx.items():
        have = by_atena.get(a)
        if have is not None:
            if have[0] in bis:
                result.unchanged += 1
            else:
                refused[a] = Conflict(a, "number_differs")
            continue
        other = next((by_index[b] for b in bis if b in by_index), None)
        if other is not None:
            refused[a] = Conflict(a, "number_on_other_atena", other)
            continue
        candidates.append(a)
    # The same new number on several 宛名番号 of the input: none of them is linked.
    owner: dict[str, str] = {}
    for a in candidates:
        first = owner.setdefault(idx[a][active_pos], a)
        if first != a:
            refused[a] = Conflict(a, "number_on_two_atena", first)
            refused.setdefault(first, Conflict(first, "number_on_two_atena", a))
    new = [a for a in candidates if a not in refused]
    result.conflicts = sorted(refused.values(), key=lambda c: (len(c.atena_no), c.atena_no))
    result.inserted = len(new)
    if check_only or not new:
        return result

    integrated = vault.reserve_integrated(m, len(new))
    sealer = crypto.Sealer(ring)
    now = timezone.now()
    now_db = connection.ops.adapt_datetimefield_value(now)
    index_key_id = ring.active_index_key
    rows: list[tuple[Any, ...]] = []
    for a, ino in zip(new, integrated, strict=True):
        sealed = sealer.seal(m, ino, numbers[a])
        rows.append((m, ino, a, sealed.ciphertext, sealed.nonce, sealed.key_id, idx[a][active_pos],
                     index_key_id, LinkStatus.ACTIVE.value, now_db, ctx.staff_id, now_db))
        result.assigned[a] = ino
    try:
        with transaction.atomic():
            _insert_rows(rows)
    except IntegrityError:
        raise InputRejected(
            "個人番号の一括登録中に他の処理と重複しました。もう一度実行してください。"
            " / A concurrent registration conflicted; run the batch again."
        ) from None
    return result


# --- status changes ------------------------------------------------------------------------------


def set_deceased(ctx: AccessContext, atena_no: str, deceased_on: date | None = None, *, deceased: bool = True) -> None:
    """Flag a person's link as deceased (死亡), keeping the number (001 ⑩); ``deceased=False`` undoes
    a mistaken flag."""
    a = vault.atena(atena_no)
    with door(ctx, Operation.UPDATE, resource=vault.RESOURCE, target=a) as rec:
        n = MyNumberLink.objects.filter(municipality=vault.municipality(), atena_no=a).update(
            status=LinkStatus.DECEASED if deceased else LinkStatus.ACTIVE,
            deceased_on=deceased_on if deceased else None,
            updated_at=timezone.now(),
        )
        if n == 0:
            raise vault.NotRegistered(a)
        rec.detail = "deceased" if deceased else "active"


def bulk_set_deceased(ctx: AccessContext, items: Iterable[tuple[str, date | None]]) -> int:
    """Flag many links as deceased in one transaction (daily sync); returns how many rows changed.
    宛名番号 without a link are skipped (a person need not have a My Number registered)."""
    with door(ctx, Operation.BATCH, resource=vault.RESOURCE) as rec:
        m = vault.municipality()
        now = timezone.now()
        changed = 0
        by_date: dict[date | None, list[str]] = {}
        for a, d in items:
            by_date.setdefault(d, []).append(vault.atena(a))
        for d, atenas in by_date.items():
            for i in range(0, len(atenas), 500):
                changed += (
                    MyNumberLink.objects.filter(municipality=m, atena_no__in=atenas[i:i + 500])
                    .exclude(status=LinkStatus.DECEASED, deceased_on=d)
                    .update(status=LinkStatus.DECEASED, deceased_on=d, updated_at=now)
                )
        rec.detail = f"deceased changed={changed}"
    return changed


# --- key maintenance (鍵更新・索引再作成) ---------------------------------------------------------


def _rows_to_process(exclude: dict[str, str], last_pk: int, limit: int) -> list[tuple[Any, ...]]:
    return list(
        MyNumberLink.objects.exclude(**exclude)
        .filter(pk__gt=last_pk)
        .order_by("pk")
        .values_list("pk", "municipality", "integrated_no", "ciphertext", "nonce", "key_id")[:limit]
    )


def rotate_data_key(ctx: AccessContext, *, batch_size: int = _BATCH, prune: bool = False) -> dict[str, Any]:
    """Make a new data key active and re-seal every row under it, in one transaction.

    The new key is saved to the key ring before any row uses it; old keys stay in the ring (rows
    and backups may still need them) and are removed only with ``prune`` once no row uses them.
    If the transaction fails, rows stay under their old keys and still open; run it again.
    """
    with door(ctx, Operation.BATCH, resource=vault.KEYS_RESOURCE) as rec:
        old = vault.ring()
        new = old.with_new_data_key(timezone.now().isoformat())
        keys.save(new)
        sealer = crypto.Sealer(new)
        count, last = 0, 0
        with connection.cursor() as cur:
            while rows := _rows_to_process({"key_id": new.active_data_key}, last, batch_size):
                updates = []
                for pk, m, ino, ct, nonce, kid, in rows:
                    n = sealer.open(m, ino, crypto.Sealed(bytes(ct), bytes(nonce), kid))
                    s = sealer.seal(m, ino, n)
                    updates.append((s.ciphertext, s.nonce, s.key_id, pk))
                _update_rows(cur, ("ciphertext", "nonce", "key_id"), updates)
                count += len(rows)
                last = rows[-1][0]
        rec.detail = f"rotate-keys active={new.active_data_key} resealed={count}"
    summary: dict[str, Any] = {"active_key": new.active_data_key, "previous_key": old.active_data_key,
                               "resealed": count, "pruned": []}
    if prune:
        summary["pruned"] = _prune_data_keys()
    summary["keys"] = sorted(keys_in_use(ctx).items())
    log.info("mynumber data key rotated to %s, %d rows resealed", new.active_data_key, count)
    return summary


def _prune_data_keys() -> list[str]:
    ring = vault.ring()
    used = set(MyNumberLink.objects.values_list("key_id", flat=True).distinct())
    drop = [k for k in ring.data_keys if k != ring.active_data_key and k not in used]
    if drop:
        keys.save(
            keys.Keyring(
                {k: v for k, v in ring.data_keys.items() if k not in drop}, ring.active_data_key,
                ring.index_keys, ring.active_index_key,
                retired={k: v for k, v in ring.retired.items() if k not in drop},
            )
        )
    return drop


def reindex(ctx: AccessContext, *, batch_size: int = _BATCH) -> dict[str, Any]:
    """Make a new index key and recompute every blind index under it (索引の再作成).

    The new key joins the ring first (inactive); lookups search under every index key, so they keep
    working throughout. After the commit the new key becomes active and unused index keys go.
    """
    with door(ctx, Operation.BATCH, resource=vault.KEYS_RESOURCE) as rec:
        old = vault.ring()
        ring, new_id = old.with_new_index_key()
        keys.save(ring)
        key = ring.index_keys[new_id]
        sealer = crypto.Sealer(ring)
        count = 0
        with connection.cursor() as cur:
            # Repeat until no row is left under an old key (rows inserted meanwhile are caught too).
            while True:
                last, before = 0, count
                while rows := _rows_to_process({"index_key_id": new_id}, last, batch_size):
                    updates = []
                    for pk, m, ino, ct, nonce, kid in rows:
                        n = sealer.open(m, ino, crypto.Sealed(bytes(ct), bytes(nonce), kid))
                        updates.append((crypto.blind_index(key, n), new_id, pk))
                    _update_rows(cur, ("blind_index", "index_key_id"), updates)
                    count += len(rows)
                    last = rows[-1][0]
                if count == before:
                    break
        rec.detail = f"reindex active={new_id} rows={count}"
    used = set(MyNumberLink.objects.values_list("index_key_id", flat=True).distinct())
    current = vault.ring()
    keep = {k: v for k, v in current.index_keys.items() if k == new_id or k in used}
    keys.save(keys.Keyring(current.data_keys, current.active_data_key, keep, new_id, retired=current.retired))
    log.info("mynumber blind index rebuilt under %s, %d rows", new_id, count)
    return {"active_index_key": new_id, "previous_index_key": old.active_index_key, "reindexed": count,
            "removed": sorted(set(current.index_keys) - set(keep))}


def keys_in_use(ctx: AccessContext) -> dict[str, int]:
    """Rows per data key id (for the rotation summary); key ids only, no personal data."""
    from django.db.models import Count

    with door(ctx, Operation.READ, resource=vault.KEYS_RESOURCE):
        return {
            r["key_id"]: r["n"]
            for r in MyNumberLink.objects.values("key_id").annotate(n=Count("id")).order_by("key_id")
        }
