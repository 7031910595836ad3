"""The hash chain of the access log (改ざん検知).

Each entry's hash is sha256(previous hash || canonical bytes of the entry). Appends happen at the
end of the caller's transaction, under a lock on the single chain-head row, so the lock is held
only for the short moment between the log insert and the commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from .models import AccessLogEntry, ChainHead

GENESIS = "0" * 64
SEP = "\x1f"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(at: datetime) -> int:
    """Microseconds since the epoch: the timestamp form that is hashed (same on every database)."""
    d = at - _EPOCH
    return (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds


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


def canonical(seq: int, at_us: int, e: Sequence[str]) -> bytes:
    """The bytes hashed for an entry: fixed field order, unit-separator joined."""
    return SEP.join((str(seq), str(at_us), *e)).encode()


def entry_hash(prev_hash: str, seq: int, at_us: int, fields: Sequence[str]) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(seq, at_us, fields)).hexdigest()


def fields_of(p: PendingEntry) -> tuple[str, ...]:
    return (
        p.staff, p.department, p.terminal, p.purpose, p.operation, p.resource,
        p.target, p.result, p.request_id, p.detail,
    )


def append(entries: Sequence[PendingEntry]) -> int:
    """Append entries to the chain inside the current transaction; returns the last seq.

    Must run inside ``transaction.atomic``: the entries commit or roll back with the work.
    """
    if not entries:
        return 0
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.chain.append must run inside a transaction")
    head = _locked_head()
    seq, prev = head.seq, head.hash
    at = timezone.now()
    at_us = micros(at)
    rows = []
    for p in entries:
        seq += 1
        f = fields_of(p)
        prev = entry_hash(prev, seq, at_us, f)
        rows.append(
            AccessLogEntry(
                seq=seq, at=at, staff=p.staff, department=p.department, terminal=p.terminal,
                purpose=p.purpose, operation=p.operation, resource=p.resource, target=p.target,
                result=p.result, request_id=p.request_id, detail=p.detail, hash=prev,
            )
        )
    AccessLogEntry.objects.bulk_create(rows, batch_size=2000)
    ChainHead.objects.filter(pk=1).update(seq=seq, hash=prev)
    return seq


def _locked_head() -> ChainHead:
    qs = ChainHead.objects.all()
    if connection.vendor == "postgresql":
        qs = qs.select_for_update()
    head = qs.filter(pk=1).first()
    if head is None:
        ChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS})
        head = qs.get(pk=1)
    return head
