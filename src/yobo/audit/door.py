"""The door (アクセスの関所): check, do the work, log — in one transaction.

Usage in a service or selector::

    with door(ctx, Operation.READ, resource="people.person", target=atena) as rec:
        person = Person.objects.get(atena=atena)
        rec.targets = [...]      # optional: one entry per person touched (e.g. search results)

A refused call is logged (result ``denied``) and raises ``AccessDenied``. If the work raises, the
work and its log entry roll back together, and an ``error`` entry records that the attempt was made.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction

from yobo.core.context import AccessContext, check
from yobo.core.errors import AccessDenied
from yobo.core.purposes import Operation, Result

from .chain import PendingEntry, append

log = logging.getLogger(__name__)
_READS = frozenset({Operation.READ, Operation.SEARCH})


def _relax_read_commit() -> None:
    """Opt-in (``YOBO_AUDIT_ASYNC_READ_COMMIT``, PostgreSQL): a pure read's transaction commits without
    waiting for the WAL flush. The entry still commits atomically with the read and in chain order;
    a server crash may lose the last ~0.6 s of such read entries (never a write's). Off by default:
    see docs/decisions/020-audit-chain.md and bench/bench_audit.py for the cost it saves."""
    from django.conf import settings

    conn = transaction.get_connection()
    if conn.vendor == "postgresql" and getattr(settings, "YOBO_AUDIT_ASYNC_READ_COMMIT", False):
        with conn.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit = off")


@dataclass(slots=True)
class AccessRecord:
    """What the work tells the door to log: the persons touched and a short detail."""

    targets: list[str] = field(default_factory=list)
    detail: str = ""

    def add(self, targets: Iterable[str]) -> None:
        self.targets.extend(str(t) for t in targets)


def _pending(ctx: AccessContext | None, op: Operation | str, resource: str, target: str, result: Result,
             detail: str, *, staff: str = "") -> PendingEntry:
    return PendingEntry(
        staff=ctx.username if ctx else staff,
        department=ctx.department if ctx else "",
        terminal=ctx.terminal if ctx else "",
        purpose=ctx.purpose if ctx else "",
        operation=str(op),
        resource=resource,
        target=target,
        result=str(result),
        request_id=ctx.request_id if ctx else "",
        detail=detail[:200],
    )


def log_event(
    ctx: AccessContext | None,
    operation: Operation | str,
    *,
    resource: str = "",
    target: str = "",
    result: Result = Result.OK,
    detail: str = "",
    staff: str = "",
    terminal: str = "",
    request_id: str = "",
) -> None:
    """Append one entry on its own (logins, denials, errors). Commits with the caller's transaction."""
    p = _pending(ctx, operation, resource, target, result, detail, staff=staff)
    if terminal and not p.terminal:
        p.terminal = terminal
    if request_id and not p.request_id:
        p.request_id = request_id
    with transaction.atomic():
        append([p])


@contextmanager
def door(
    ctx: AccessContext,
    operation: Operation,
    *,
    resource: str,
    target: str = "",
    detail: str = "",
) -> Iterator[AccessRecord]:
    """Check ``ctx`` for ``operation``, run the block, and log it in the same transaction."""
    reason = check(ctx, operation)
    if reason is not None:
        _log_after_failure(ctx, operation, resource, target, Result.DENIED, reason)
        raise AccessDenied(reason)
    rec = AccessRecord(detail=detail)
    try:
        outermost = not transaction.get_connection().in_atomic_block
        with transaction.atomic():
            if outermost and operation in _READS:
                _relax_read_commit()
            yield rec
            targets = rec.targets or [target]
            append([_pending(ctx, operation, resource, t, Result.OK, rec.detail) for t in targets])
    except AccessDenied:
        raise
    except Exception as exc:
        # The work rolled back with its entry; record that the attempt was made and failed.
        # Only the exception class is kept: messages may carry personal data.
        _log_after_failure(ctx, operation, resource, target, Result.ERROR, type(exc).__name__)
        raise


def _log_after_failure(ctx: AccessContext, operation: Operation, resource: str, target: str, result: Result,
                       detail: str) -> None:
    """Log a denial or an error without ever raising a second error over the first.

    When the caller's outer transaction is already broken (marked for rollback), no entry can be
    written into it, and one written elsewhere would wait for the chain lock that transaction may
    hold: the entry is skipped and a warning (no personal data) goes to the application log. It
    would in any case have rolled back with that transaction.
    """
    conn = transaction.get_connection()
    if conn.in_atomic_block and conn.needs_rollback:
        log.warning("access-log entry skipped (transaction broken): %s %s %s %s", operation, resource, result, detail)
        return
    try:
        log_event(ctx, operation, resource=resource, target=target, result=result, detail=detail)
    except DatabaseError as exc:
        log.warning("access-log entry could not be written (%s): %s %s %s", type(exc).__name__, operation,
                    resource, result)
