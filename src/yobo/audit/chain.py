"""The hash chain of the access log (改ざん検知).

Each entry's hash is ``sha256(previous hash bytes || canonical(entry))`` where ``canonical`` is the
UTF-8 of ``seq, at_us, staff, department, terminal, purpose, operation, resource, target, result,
request_id, detail`` joined by U+001F (unit separator). Control characters are replaced by spaces
before hashing, so the separator cannot occur inside a field and the form is unambiguous; verify
rejects a stored field that contains one. The first entry's previous hash is 64 zeros.

Appends happen at the end of the caller's transaction, under a lock on the single chain-head row,
so the lock is held only between the log insert and the commit. On PostgreSQL the whole append
(lock, numbering, hashing, insert, head update) is one call of the server-side function
``audit_append`` (migration 0004, ``APPEND_FUNCTION_SQL``), i.e. one round trip; it computes the
same canonical bytes and hash as ``canonical``/``entry_hash`` (the tests compare them). Every
``YOBO_AUDIT_CHECKPOINT_EVERY`` entries a signed checkpoint is written in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from . import signing

GENESIS = "0" * 64
SEP = "\x1f"
COLUMNS = (
    "staff", "department", "terminal", "purpose", "operation", "resource", "target", "result",
    "request_id", "detail",
)
# Column widths of AccessLogEntry: values are cut to fit, so an over-long value never breaks the work.
WIDTHS = (150, 32, 64, 8, 24, 64, 20, 8, 32, 200)
_CONTROL = {c: " " for c in [*range(32), 127]}

log = logging.getLogger(__name__)


def now_micros() -> int:
    """Microseconds since the epoch: the timestamp form that is stored and hashed."""
    return time.time_ns() // 1000


@dataclass(slots=True)
class PendingEntry:
    """An entry not yet appended (no sequence number or hash yet)."""

    staff: str
    department: str
    terminal: str
    purpose: str
    operation: str
    resource: str
    target: str
    result: str
    request_id: str
    detail: str


def clean(value: object, width: int) -> str:
    s = str(value)
    if not s.isprintable():
        s = s.translate(_CONTROL)
    return s[:width]


def fields_of(p: PendingEntry) -> tuple[str, ...]:
    raw = (
        p.staff, p.department, p.terminal, p.purpose, p.operation, p.resource,
        p.target, p.result, p.request_id, p.detail,
    )
    return tuple(clean(v, w) for v, w in zip(raw, WIDTHS, strict=True))


def canonical(seq: int, at_us: int, fields: Sequence[str]) -> bytes:
    """The bytes hashed for an entry: fixed field order, unit-separator joined."""
    return SEP.join((str(seq), str(at_us), *fields)).encode()


def entry_hash(prev_hash: str, seq: int, at_us: int, fields: Sequence[str]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(seq, at_us, fields)).hexdigest()


# Installed by migration 0004 (a change here needs a new migration). Entries arrive as one text[]
# of 10 cleaned fields each (flattened), the timestamp as bigint. ``convert_to(..., 'UTF8')`` of the
# U+001F join is byte-for-byte Python's ``canonical().encode()`` (bigint::text is the plain
# decimal, like str(int)). Returns the seq before the append, the last seq and the last hash
# (the caller decides on a checkpoint).
APPEND_FUNCTION_SQL = r"""
CREATE OR REPLACE FUNCTION audit_append(p_at_us bigint, p_fields text[],
                                        OUT first_seq bigint, OUT last_seq bigint, OUT last_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(array_length(p_fields, 1), 0) / 10;
    prev bytea;
    seqs bigint[] := '{}';
    hashes text[] := '{}';
    i integer;
    base integer;
BEGIN
    SELECT seq, hash INTO first_seq, last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        -- First entry ever (ON CONFLICT: another first writer may race us).
        INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, repeat('0', 64)) ON CONFLICT (id) DO NOTHING;
        SELECT seq, hash INTO first_seq, last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    END IF;
    last_seq := first_seq;
    prev := decode(last_hash, 'hex');
    FOR i IN 1..n LOOP
        last_seq := last_seq + 1;
        base := (i - 1) * 10;
        prev := sha256(prev || convert_to(concat_ws(E'', last_seq::text, p_at_us::text,
            p_fields[base + 1], p_fields[base + 2], p_fields[base + 3], p_fields[base + 4], p_fields[base + 5],
            p_fields[base + 6], p_fields[base + 7], p_fields[base + 8], p_fields[base + 9], p_fields[base + 10]),
            'UTF8'));
        seqs := seqs || last_seq;
        hashes := hashes || encode(prev, 'hex');
    END LOOP;
    IF n > 0 THEN
        INSERT INTO audit_access_log (seq, at_us, staff, department, terminal, purpose, operation, resource,
                                      target, result, request_id, detail, hash)
        SELECT s.seq, p_at_us, p_fields[b + 1], p_fields[b + 2], p_fields[b + 3], p_fields[b + 4], p_fields[b + 5],
               p_fields[b + 6], p_fields[b + 7], p_fields[b + 8], p_fields[b + 9], p_fields[b + 10], s.hash
        FROM unnest(seqs, hashes) WITH ORDINALITY AS s(seq, hash, k), LATERAL (SELECT (s.k::integer - 1) * 10) AS o(b);
        last_hash := encode(prev, 'hex');
        UPDATE audit_chain_head SET seq = last_seq, hash = last_hash WHERE id = 1;
    END IF;
END
$$;
"""

_INSERT_COLS = "seq, at_us, " + ", ".join(COLUMNS) + ", hash"
_ROW = "(" + ", ".join(["%s"] * 13) + ")"
_CHUNK = 1000


def append(entries: Sequence[PendingEntry]) -> int:
    """Append entries to the chain inside the current transaction; returns the last seq.

    Must run inside ``transaction.atomic``: the entries commit or roll back with the work.
    """
    if not entries:
        return 0
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        raise RuntimeError("audit.chain.append must run inside a transaction")
    pg = conn.vendor == "postgresql"
    every = int(getattr(settings, "YOBO_AUDIT_CHECKPOINT_EVERY", 0) or 0)
    if pg:
        return _append_pg(conn, entries, every)
    with conn.cursor() as cur:
        # No lock statement: SQLite's IMMEDIATE transactions already serialise writers.
        cur.execute("SELECT seq, hash FROM audit_chain_head WHERE id = 1")
        row = cur.fetchone()
        if row is None:
            # First entry ever: create the head (ON CONFLICT: another first writer may race us).
            cur.execute(
                "INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, %s) ON CONFLICT (id) DO NOTHING",
                [GENESIS],
            )
            cur.execute("SELECT seq, hash FROM audit_chain_head WHERE id = 1")
            row = cur.fetchone()
        first, prev = int(row[0]), str(row[1])
        seq = first
        at_us = now_micros()
        rows: list[tuple[object, ...]] = []
        for p in entries:
            seq += 1
            f = fields_of(p)
            prev = hashlib.sha256(bytes.fromhex(prev) + canonical(seq, at_us, f)).hexdigest()
            rows.append((seq, at_us, *f, prev))
        # Multi-row VALUES in chunks (SQLite caps bound parameters); the last chunk carries the head update.
        for i in range(0, len(rows), _CHUNK):
            chunk = rows[i:i + _CHUNK]
            values = ", ".join([_ROW] * len(chunk))
            params = [v for r in chunk for v in r]
            cur.execute(f"INSERT INTO audit_access_log ({_INSERT_COLS}) VALUES {values}", params)
        cur.execute("UPDATE audit_chain_head SET seq = %s, hash = %s WHERE id = 1", [seq, prev])
        if every > 0 and first // every != seq // every:
            write_checkpoint(cur, seq, prev)
    return seq


def _append_pg(conn: Any, entries: Sequence[PendingEntry], every: int) -> int:
    """PostgreSQL: one ``SELECT audit_append(...)`` per call (the function locks the head row)."""
    flat = [v for p in entries for v in fields_of(p)]
    with conn.cursor() as cur:
        cur.execute("SELECT first_seq, last_seq, last_hash FROM audit_append(%s, %s::text[])", [now_micros(), flat])
        first, seq, last_hash = cur.fetchone()
        if every > 0 and first // every != seq // every:
            write_checkpoint(cur, int(seq), str(last_hash))
    return int(seq)


def write_checkpoint(cur: object, seq: int, hash_: str) -> bool:
    """Sign (seq, hash) and store it; False when there is no signing key yet."""
    at_us = now_micros()
    key = signing.private_key()
    if key is None:
        log.warning("audit checkpoint at seq %s skipped: no signing key (run `yobo init`)", seq)
        return False
    key_id = signing.key_id_of(key.public_key())
    sig = key.sign(signing.checkpoint_message(seq, hash_, at_us, key_id)).hex()
    cur.execute(  # type: ignore[attr-defined]
        "INSERT INTO audit_checkpoint (seq, hash, at_us, key_id, signature) VALUES (%s, %s, %s, %s, %s)",
        [seq, hash_, at_us, key_id, sig],
    )
    return True


def checkpoint_now() -> tuple[int, str] | None:
    """Write a checkpoint at the current head (``yobo audit checkpoint``); None when the log is empty
    or the head already has one."""
    conn = transaction.get_connection()
    pg = conn.vendor == "postgresql"
    with transaction.atomic(), conn.cursor() as cur:
        cur.execute("SELECT seq, hash FROM audit_chain_head WHERE id = 1" + (" FOR UPDATE" if pg else ""))
        row = cur.fetchone()
        if row is None or int(row[0]) == 0:
            return None
        seq, h = int(row[0]), str(row[1])
        cur.execute("SELECT 1 FROM audit_checkpoint WHERE seq = %s", [seq])
        if cur.fetchone() is not None:
            return None
        if not write_checkpoint(cur, seq, h):
            raise RuntimeError("no signing key")
    return seq, h
