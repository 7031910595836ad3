"""Writes to the My Number vault (個人番号の登録・更新). Every function takes an ``AccessContext`` and
runs inside the audit door, so the change and its access-log entry commit together.

No message, log line or return value here contains a My Number: conflicts name 宛名番号 only.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from yobo.audit.door import door
from yobo.core import bulkload
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
    keys: dict[str, int] = field(default_factory=dict)  # refused 宛名番号 -> the caller's key (first pair)

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


_STAGE = "mynumber_stage"
# State of a staged pair (decided per chunk against the linking file, refined in SQL at the end).
_NEW, _UNCHANGED, _DIFFERS, _OTHER, _NEW_UNSEALED = 0, 1, 2, 3, 4
_STAGE_COLUMNS = ("k", "atena_no", "bi", "state", "other", "integrated_no", "ciphertext", "nonce", "key_id")
_ANALYZE_AFTER = 50_000
_RANGE_FACTOR = 4  # a chunk's 宛名番号 range is read whole while it holds at most this many links per number
_MAX_MARKED_KEY = 1 << 28  # keys above are staged as before (the bitmap stays under 32 MB)


def _copy_cell(v: str | None) -> str:
    return "\\N" if v is None else v


def _copy_bytes(v: bytes | None) -> str:
    return "\\N" if v is None else "\\\\x" + v.hex()  # bytea hex input, its backslash escaped for COPY


def _in_list(n: int) -> str:
    return ", ".join(["%s"] * n)


class BulkRegistration:
    """A streaming bulk registration (一括登録) of (宛名番号, 個人番号) pairs; see ``bulk_registration``.

    Pairs are taken one at a time and handled in fixed-size chunks, so memory does not grow with
    the input: per chunk the numbers are checked and blind-indexed, the chunk's existing links are
    read in two indexed queries, and only pairs whose 宛名番号 has no link yet are sealed (a re-run
    of the same input encrypts nothing). Every pair goes, without its number, to a temporary
    staging table (caller's key, 宛名番号, blind index, state, and for new pairs the sealed number
    and its integrated number); ``finish`` settles the conflicts that span chunks in SQL and inserts
    the new links with one ``INSERT … SELECT``.
    """

    def __init__(self, ctx: AccessContext, *, check_only: bool = False, chunk: int | None = None,
                 distinct: bool = False) -> None:
        self.ctx = ctx
        self.check_only = check_only
        # ``distinct``: the caller adds each 宛名番号 once (or discards the repeats before ``finish``),
        # so a pair already linked as given needs no staging row: it is counted, and its key marked
        # in a bitmap (one bit per key) so that ``discard`` can take it back.
        self._distinct = distinct
        self._unchanged = 0
        self._unchanged_keys = bytearray()
        self.m = vault.municipality()
        self.ring = vault.ring()
        self._index_key = self.ring.index_keys[self.ring.active_index_key]
        # Other index keys exist only while a reindex is unfinished: a number may be stored under one.
        self._old_keys = [k for kid, k in self.ring.index_keys.items() if kid != self.ring.active_index_key]
        self._sealer = crypto.Sealer(self.ring)
        self._chunk = chunk or _BATCH
        self._buf: list[tuple[int, str, str]] = []
        self._seq = 0
        self._refused: list[tuple[int, Conflict]] = []  # malformed input (kept: one per bad pair)
        self._pg = connection.vendor == "postgresql"
        self._now = connection.ops.adapt_datetimefield_value(timezone.now())
        self._finished = False
        # Links are inserted only by ``finish``: while streaming, a file empty at the start stays
        # empty for this transaction, so a first load need not look anything up (a concurrent
        # registration is caught by the unique constraints at ``finish``).
        self._vault_empty = not MyNumberLink.objects.filter(municipality=self.m).exists()
        self.result = BulkResult(applied=not check_only)
        with connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {_STAGE}")
            blob = "bytea" if self._pg else "blob"
            tail = " ON COMMIT DROP" if self._pg else ""
            # Never a plaintext number here: the blind index and the sealed number only.
            cur.execute(
                f"CREATE TEMPORARY TABLE {_STAGE} (k bigint, atena_no text, bi text, state smallint, other text, "
                f"integrated_no text, ciphertext {blob}, nonce {blob}, key_id text){tail}"
            )

    # -- input

    def add(self, atena_no: str, number: str, key: int | None = None) -> None:
        """One pair; ``key`` (default: a running count) is the caller's handle for ``discard`` and
        is given back on each conflict (e.g. the source row)."""
        if key is None:
            self._seq += 1
            key = self._seq
        a = atena_no if atena_no.isascii() and atena_no.isdigit() and len(atena_no) <= 15 else str(atena_no).strip()
        if not vault._ATENA.fullmatch(a):
            self._refused.append((key, Conflict(a, "invalid_atena")))
            return
        n = number if len(number) == 12 and number.isdigit() and number.isascii() else checkdigit.normalize(number)
        if not checkdigit.is_valid(n):
            self._refused.append((key, Conflict(a, "invalid_number")))
            return
        self._buf.append((key, a, n))
        if len(self._buf) >= self._chunk:
            self._flush()

    def add_many(self, pairs: Iterable[tuple[str, str]]) -> None:
        for a, n in pairs:
            self.add(str(a), str(n))

    def add_keyed(self, items: Iterable[tuple[int, str, str]], *, validated: bool = False) -> None:
        """Many ``(key, 宛名番号, number)`` at once (``add`` without the per-call overhead).

        ``validated``: the caller has checked every pair by the same rules already — 宛名番号 of 1–15
        ASCII digits, a 12-digit number with its check digit right (the resident-register reader
        does, with ``checkdigit``) — so they join the chunk as given instead of being checked twice."""
        if validated:
            self._buf.extend(items)
            if len(self._buf) >= self._chunk:
                self._flush()
            return
        add = self.add
        for k, a, n in items:
            add(a, n, k)

    def discard(self, keys: Iterable[int]) -> None:
        """Forget the pairs added under these keys (the caller rejected their rows)."""
        self._flush()
        drop = set(keys)
        self._refused = [(k, c) for k, c in self._refused if k not in drop]
        marks = self._unchanged_keys
        for k in drop:
            if 0 <= k < len(marks) * 8 and marks[k >> 3] & (1 << (k & 7)):
                marks[k >> 3] &= ~(1 << (k & 7)) & 0xFF
                self._unchanged -= 1
        ks = sorted(drop)
        with connection.cursor() as cur:
            for i in range(0, len(ks), 500):
                part = ks[i:i + 500]
                cur.execute(f"DELETE FROM {_STAGE} WHERE k IN ({_in_list(len(part))})", part)

    def _flush(self) -> None:
        buf, self._buf = self._buf, []
        if not buf:
            return
        m, key, digest = self.m, self._index_key, hmac.digest
        prefix = crypto.INDEX_PREFIX
        bis = [digest(key, prefix + n.encode(), "sha256").hex()[:crypto.INDEX_HEX] for _, _, n in buf]
        atenas = list({a for _, a, _ in buf})
        with connection.cursor() as cur:
            linked = {} if self._vault_empty else self._linked(cur, atenas)
            fresh = [i for i, (_, a, _) in enumerate(buf) if a not in linked]
            owners: dict[str, str] = {}
            if fresh and not self._vault_empty:
                wanted = [bis[i] for i in fresh]
                for old in self._old_keys:
                    wanted += [crypto.blind_index(old, buf[i][2]) for i in fresh]
                owners = dict(self._lookup(cur, "blind_index", "atena_no", wanted))
            rows: list[tuple[Any, ...]] = []
            new: list[int] = []
            marks = self._unchanged_keys
            for i, (k, a, n) in enumerate(buf):
                bi = bis[i]
                have = linked.get(a)
                if have is not None:
                    same = have == bi or any(have == crypto.blind_index(old, n) for old in self._old_keys)
                    if same and self._distinct and 0 <= k < _MAX_MARKED_KEY:
                        # Linked as given: counted, not staged (a daily re-run stages next to nothing).
                        if k >= len(marks) * 8:
                            marks.extend(bytes(max(k // 8 + 1 - len(marks), len(marks))))
                        marks[k >> 3] |= 1 << (k & 7)
                        self._unchanged += 1
                        continue
                    rows.append((k, a, bi, _UNCHANGED if same else _DIFFERS, None, None, None, None, None))
                    continue
                other = owners.get(bi)
                if other is None and self._old_keys:
                    other = next((owners[b] for b in (crypto.blind_index(o, n) for o in self._old_keys)
                                  if b in owners), None)
                if other is not None and other != a:
                    rows.append((k, a, bi, _OTHER, other, None, None, None, None))
                elif self.check_only:
                    rows.append((k, a, bi, _NEW_UNSEALED, None, None, None, None, None))
                else:
                    new.append(i)
            if new:
                # Serials of pairs refused later (a conflict spanning chunks) stay unused: integrated
                # numbers must be unique, not dense, and only then can a number be sealed right away.
                integrated = vault.reserve_integrated(m, len(new))
                kid = self.ring.active_data_key
                sealed = self._sealer.seal_many(m, integrated, [buf[i][2] for i in new])
                for i, ino, (ct, nonce) in zip(new, integrated, sealed, strict=True):
                    k, a, _ = buf[i]
                    rows.append((k, a, bis[i], _NEW, None, ino, ct, nonce, kid))
            if rows:
                self._write(cur, rows)

    def _linked(self, cur: Any, atenas: list[str]) -> dict[str, str]:
        """宛名番号 → blind index of the chunk's linked 宛名番号.

        A register extract comes in 宛名番号 order, so a chunk's numbers are a narrow key range of
        the linking file: one range scan of its unique index reads them in order (the daily re-run
        of a 1M register probed the index once per row: ~8 µs each, 12 s in all). When the range
        holds many more links than the chunk (an unsorted file), the rows are probed one by one.
        Only which of the chunk's numbers are in the result matters, so the range need only
        contain them: 宛名番号 are ASCII digits, ordered alike by every collation."""
        wanted = set(atenas)
        cap = _RANGE_FACTOR * len(wanted) + 100
        table = MyNumberLink._meta.db_table
        cur.execute(
            f"SELECT atena_no, blind_index FROM {table} WHERE municipality = %s AND atena_no >= %s "
            f"AND atena_no <= %s ORDER BY atena_no LIMIT %s",
            [self.m, min(wanted), max(wanted), cap + 1],
        )
        rows = cur.fetchall()
        if len(rows) > cap:
            rows = self._lookup(cur, "atena_no", "blind_index", atenas)
        return {a: bi for a, bi in rows if a in wanted}

    def _lookup(self, cur: Any, key: str, other: str, values: list[str]) -> list[tuple[str, str]]:
        """(key, other) of the links whose ``key`` column is among ``values`` (a chunk's worth)."""
        table = MyNumberLink._meta.db_table
        if self._pg:
            # One unique-index probe per value, whatever the table's size: with ``IN (…)`` or
            # ``= ANY(…)`` the planner hashes or scans the whole linking file once it holds a few
            # hundred thousand rows — per chunk, which made a 1M import quadratic.
            cur.execute(
                f"SELECT v.x, l.{other} FROM unnest(%s::text[]) AS v(x) CROSS JOIN LATERAL "
                f"(SELECT {other} FROM {table} WHERE municipality = %s AND {key} = v.x LIMIT 1) AS l",
                [values, self.m],
            )
        else:
            cur.execute(
                f"SELECT {key}, {other} FROM {table} WHERE municipality = %s AND {key} IN ({_in_list(len(values))})",
                [self.m, *values],
            )
        return cur.fetchall()

    def _write(self, cur: Any, rows: list[tuple[Any, ...]]) -> None:
        cols = ", ".join(_STAGE_COLUMNS)
        if self._pg:
            # COPY text built here (psycopg's write_row adapts each value of each row in Python): the
            # cells are digits, hex and key ids, with no character COPY would need escaped.
            text = "".join(
                f"{k}\t{a}\t{bi}\t{st}\t{_copy_cell(o)}\t{_copy_cell(ino)}\t{_copy_bytes(ct)}\t{_copy_bytes(nc)}"
                f"\t{_copy_cell(kid)}\n"
                for k, a, bi, st, o, ino, ct, nc, kid in rows
            )
            raw: Any = cur.cursor  # psycopg 3 COPY
            with raw.copy(f"COPY {_STAGE} ({cols}) FROM STDIN") as copy:
                copy.write(text.encode("ascii"))
        else:
            cur.executemany(f"INSERT INTO {_STAGE} ({cols}) VALUES ({_in_list(len(_STAGE_COLUMNS))})", rows)

    # -- the end

    def finish(self, *, assigned: bool = False) -> BulkResult:
        """Settle conflicts across chunks, insert the new links (unless ``check_only``), return the
        outcome. ``assigned`` also returns the new 宛名番号 → integrated numbers (small inputs)."""
        if self._finished:
            raise RuntimeError("finish() was already called")
        self._flush()
        self._finished = True
        result = self.result = BulkResult(applied=not self.check_only)
        refused: dict[str, Conflict] = {}
        keys_of: dict[str, int] = {}
        for k, c in self._refused:
            if c.reason == "invalid_atena":
                refused.setdefault(c.atena_no, c)
            else:
                refused[c.atena_no] = c
            keys_of.setdefault(c.atena_no, k)
        with connection.cursor() as cur:
            # Conflicts decided per chunk against the linking file.
            cur.execute(f"SELECT k, atena_no, state, other FROM {_STAGE} WHERE state IN (%s, %s)", [_DIFFERS, _OTHER])
            for k, a, state, other in cur.fetchall():
                refused[a] = (Conflict(a, "number_differs") if state == _DIFFERS
                              else Conflict(a, "number_on_other_atena", other))
                keys_of.setdefault(a, k)
            # Within the input: one 宛名番号 with two numbers (not with ``distinct``: the caller added
            # each 宛名番号 once); one new number on several 宛名番号.
            repeated: list[str] = []
            if not self._distinct:
                cur.execute(
                    f"SELECT atena_no, MIN(k), COUNT(DISTINCT bi), COUNT(*) FROM {_STAGE} GROUP BY atena_no "
                    "HAVING COUNT(*) > 1"
                )
            for a, k, nbi, _ in (cur.fetchall() if not self._distinct else []):
                keys_of.setdefault(a, k)
                if nbi > 1:
                    refused[a] = Conflict(a, "atena_twice")
                else:
                    repeated.append(a)  # the same pair again: keep its first occurrence
            cur.execute(
                f"SELECT bi FROM {_STAGE} WHERE state IN (%s, %s) GROUP BY bi HAVING COUNT(DISTINCT atena_no) > 1",
                [_NEW, _NEW_UNSEALED],
            )
            shared = [b for (b,) in cur.fetchall()]
            for i in range(0, len(shared), 500):
                part = shared[i:i + 500]
                cur.execute(
                    f"SELECT bi, atena_no, MIN(k) FROM {_STAGE} WHERE bi IN ({_in_list(len(part))}) "
                    f"AND state IN (%s, %s) GROUP BY bi, atena_no ORDER BY bi, MIN(k)",
                    [*part, _NEW, _NEW_UNSEALED],
                )
                first: dict[str, str] = {}
                for b, a, k in cur.fetchall():
                    keys_of.setdefault(a, k)
                    f = first.setdefault(b, a)
                    if f != a:
                        refused.setdefault(a, Conflict(a, "number_on_two_atena", f))
                        if f not in refused or refused[f].reason != "number_on_two_atena":
                            refused.setdefault(f, Conflict(f, "number_on_two_atena", a))
            # Refused 宛名番号 and repeated pairs leave the stage; what remains is settled.
            gone = sorted(set(refused) | set(repeated))
            for i in range(0, len(repeated), 500):
                part = repeated[i:i + 500]
                cur.execute(
                    f"DELETE FROM {_STAGE} WHERE atena_no IN ({_in_list(len(part))}) AND k NOT IN "
                    f"(SELECT MIN(k) FROM {_STAGE} WHERE atena_no IN ({_in_list(len(part))}) GROUP BY atena_no)",
                    [*part, *part],
                )
            rgone = [a for a in gone if a in refused]
            for i in range(0, len(rgone), 500):
                part = rgone[i:i + 500]
                cur.execute(f"DELETE FROM {_STAGE} WHERE atena_no IN ({_in_list(len(part))})", part)
            cur.execute(f"SELECT state, COUNT(*) FROM {_STAGE} GROUP BY state")
            counts = dict(cur.fetchall())
            result.unchanged = counts.get(_UNCHANGED, 0) + self._unchanged
            result.inserted = counts.get(_NEW, 0) + counts.get(_NEW_UNSEALED, 0)
            result.conflicts = sorted(refused.values(), key=lambda c: (len(c.atena_no), c.atena_no))
            result.keys = {c.atena_no: keys_of.get(c.atena_no, 0) for c in result.conflicts}
            if not self.check_only and counts.get(_NEW):
                if assigned:
                    cur.execute(f"SELECT atena_no, integrated_no FROM {_STAGE} WHERE state = %s", [_NEW])
                    result.assigned = dict(cur.fetchall())
                self._insert(cur, first_load=self._vault_empty and result.inserted > _ANALYZE_AFTER)
                if self._pg and result.inserted > _ANALYZE_AFTER:
                    # Fresh statistics after a large load, so the next small batch gets index plans.
                    cur.execute(f"ANALYZE {MyNumberLink._meta.db_table}")
            cur.execute(f"DROP TABLE IF EXISTS {_STAGE}")
        return result

    def _insert(self, cur: Any, *, first_load: bool) -> None:
        """The new links in one ``INSERT … SELECT``. A first load into an empty linking file builds
        its indexes afterwards, once, from the inserted rows (the stage was made unique in SQL above;
        the unique indexes check it again as they are built)."""
        table = MyNumberLink._meta.db_table
        try:
            with transaction.atomic():
                rebuild = bulkload.drop_indexes(cur, connection.vendor, table, unique=True) if first_load else []
                # Input order keeps the unique indexes appended to; with them down it would only cost a sort.
                order = "" if rebuild else " ORDER BY k"
                cur.execute(
                    f"INSERT INTO {table} ({', '.join(_INSERT_COLUMNS)}) SELECT %s, integrated_no, atena_no, "
                    f"ciphertext, nonce, key_id, bi, %s, %s, %s, %s, %s FROM {_STAGE} WHERE state = %s{order}",
                    [self.m, self.ring.active_index_key, LinkStatus.ACTIVE.value, self._now, self.ctx.staff_id,
                     self._now, _NEW],
                )
                bulkload.rebuild(cur, rebuild)
        except IntegrityError:
            raise InputRejected(
                "個人番号の一括登録中に他の処理と重複しました。もう一度実行してください。"
                " / A concurrent registration conflicted; run the batch again."
            ) from None

    def close(self) -> None:
        """Drop the staging table (also when the batch failed; on PostgreSQL it goes at commit)."""
        if not self._pg or not self._finished:
            with contextlib.suppress(Exception), connection.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {_STAGE}")


@contextlib.contextmanager
def bulk_registration(ctx: AccessContext, *, check_only: bool = False,
                      distinct: bool = False) -> Iterator[BulkRegistration]:
    """Open a streaming bulk registration (一括登録; the daily resident sync) inside the door.

    ``with bulk_registration(ctx) as reg: reg.add(a, n, row) …; result = reg.finish()``. All of it
    runs in one transaction with one access-log entry (counts only): an exception, or a caller that
    rolls back because of a reported conflict, leaves the vault as before. Memory is flat in the
    number of pairs. Refused and reported (by 宛名番号, never by number): malformed numbers, a
    number already linked to another 宛名番号, a 宛名番号 already linked to another number, a
    宛名番号 with two numbers in the input, and a new number on several 宛名番号 of the input (none
    of them is linked). ``check_only`` reports without sealing or writing. ``distinct``: the caller
    adds each 宛名番号 at most once (repeats it ``discard``s before ``finish``), which lets pairs
    already linked as given be counted instead of staged.
    """
    with door(ctx, Operation.BATCH, resource=vault.RESOURCE) as rec:
        reg = BulkRegistration(ctx, check_only=check_only, distinct=distinct)
        try:
            yield reg
            if not reg._finished:
                reg.finish()
        finally:
            reg.close()
        r = reg.result
        rec.detail = (
            f"bulk inserted={r.inserted} unchanged={r.unchanged} refused={len(r.conflicts)}"
            + (" check_only" if reg.check_only else "")
        )


def bulk_register(
    ctx: AccessContext, pairs: Iterable[tuple[str, str]], *, check_only: bool = False
) -> BulkResult:
    """Register many (宛名番号, 個人番号) pairs in one transaction: ``bulk_registration`` over an
    iterable, with the assigned integrated numbers returned. Re-running the same input changes
    nothing."""
    with bulk_registration(ctx, check_only=check_only) as reg:
        reg.add_many(pairs)
        result = reg.finish(assigned=True)
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


def unlink(ctx: AccessContext, atena_no: str) -> bool:
    """Remove the link of a 宛名番号 that never became a person (紐付けの解除), e.g. a withdrawn or
    refused 住登外者 application: the sealed number is erased, so it is not held for nobody and can
    be registered again. Identity-verification records stay (their link cleared) as the record of
    what was checked. The caller guarantees the 宛名番号 is unused. Returns whether a link existed."""
    a = vault.atena(atena_no)
    with door(ctx, Operation.UPDATE, resource=vault.RESOURCE, target=a) as rec:
        link = MyNumberLink.objects.select_for_update().filter(municipality=vault.municipality(), atena_no=a).first()
        if link is None:
            rec.detail = "unlink: none"
            return False
        IdentityVerification.objects.filter(link=link).update(link=None)
        link.delete()
        rec.detail = f"unlinked {link.integrated_no}"
        return True


def relink(ctx: AccessContext, old_atena_no: str, new_atena_no: str) -> bool:
    """Move a link to the 宛名番号 the same person now has (紐付けの付替え), e.g. a 住登外者 who moved
    in and got one from the resident register. The integrated number and the sealed number stay as
    they are (the sealing's associated data names the integrated number, not the 宛名番号); the
    identity-verification records follow. Refused when the new 宛名番号 already has a link. Returns
    whether there was a link to move."""
    old, new = vault.atena(old_atena_no), vault.atena(new_atena_no)
    m = vault.municipality()
    with door(ctx, Operation.UPDATE, resource=vault.RESOURCE, target=new) as rec:
        if MyNumberLink.objects.filter(municipality=m, atena_no=new).exists():
            raise NumberConflict(new, "number_differs")
        n = MyNumberLink.objects.filter(municipality=m, atena_no=old).update(atena_no=new, updated_at=timezone.now())
        IdentityVerification.objects.filter(municipality=m, atena_no=old).update(atena_no=new)
        rec.detail = f"relinked from {old}" if n else f"relink from {old}: none"
        return bool(n)


def bulk_set_deceased(ctx: AccessContext, items: Iterable[tuple[str, date | None]]) -> int:
    """Flag many links as deceased in one transaction (daily sync); returns how many rows changed.
    宛名番号 without a link are skipped (a person need not have a My Number registered).

    Set-based: one ``UPDATE … FROM unnest(arrays)`` per 5,000 persons on PostgreSQL (not one
    statement per date of death), one ``executemany`` on SQLite."""
    with door(ctx, Operation.BATCH, resource=vault.RESOURCE) as rec:
        m = vault.municipality()
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        wanted: dict[str, date | None] = {}
        for a, d in items:
            wanted[vault.atena(a)] = d  # the last date given for a 宛名番号 wins
        table = MyNumberLink._meta.db_table
        dead = LinkStatus.DECEASED.value
        changed = 0
        todo = list(wanted.items())
        with connection.cursor() as cur:
            for i in range(0, len(todo), _BATCH):
                part = todo[i:i + _BATCH]
                if connection.vendor == "postgresql":
                    cur.execute(
                        f"UPDATE {table} AS t SET status = %s, deceased_on = v.d, updated_at = %s "
                        "FROM unnest(%s::text[], %s::date[]) AS v(a, d) WHERE t.municipality = %s "
                        "AND t.atena_no = v.a AND NOT (t.status = %s AND t.deceased_on IS NOT DISTINCT FROM v.d)",
                        [dead, now, [a for a, _ in part], [d for _, d in part], m, dead],
                    )
                    changed += max(cur.rowcount, 0)
                else:
                    for a, d in part:  # executemany's rowcount is not reliable across drivers: count here
                        cur.execute(
                            f"UPDATE {table} SET status = %s, deceased_on = %s, updated_at = %s "
                            "WHERE municipality = %s AND atena_no = %s AND NOT (status = %s AND deceased_on IS %s)",
                            [dead, iso := d.isoformat() if d else None, now, m, a, dead, iso],
                        )
                        changed += max(cur.rowcount, 0)
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
