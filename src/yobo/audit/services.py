"""Writes of the audit app that act for a staff member: verification runs, checkpoints, archiving.

Each takes an ``AccessContext`` with purpose アクセスログの点検・監査 (A02) and is logged. A verify
run is logged AFTER it has verified, so the entry it adds is not part of what it checked.
"""

from __future__ import annotations

from django.db import transaction

from yobo.core.context import AccessContext, check
from yobo.core.errors import AccessDenied
from yobo.core.purposes import Operation, Result

from .chain import checkpoint_now, now_micros
from .door import door, log_event
from .models import VerifyRun
from .verify import VerifyResult, verify


def _require(ctx: AccessContext, operation: Operation, resource: str) -> None:
    """Refuse (and log the refusal) before any work is done."""
    if check(ctx, operation) is not None:
        with door(ctx, operation, resource=resource):
            pass  # the door logs the denial and raises
        raise AccessDenied("not_permitted")  # pragma: no cover - the door has raised


def run_verify(ctx: AccessContext, *, workers: int | None = None) -> VerifyResult:
    """Verify the log (検証) and record the outcome; raises AccessDenied when not permitted."""
    _require(ctx, Operation.BATCH, "audit.verify")
    res = verify(workers=workers)
    detail = f"ok entries={res.entries}" if res.ok else f"broken seq={res.broken_seq} kind={res.kind}"
    with transaction.atomic():
        VerifyRun.objects.create(
            at_us=now_micros(), staff=ctx.username, ok=res.ok, entries=res.entries, broken_seq=res.broken_seq,
            kind=res.kind, message=res.message[:400], seconds=res.seconds,
        )
        log_event(ctx, Operation.BATCH, resource="audit.verify", result=Result.OK if res.ok else Result.FAILED,
                  detail=detail)
    return res


def make_checkpoint(ctx: AccessContext) -> tuple[int, str] | None:
    """Sign a checkpoint at the current head (``yobo audit checkpoint``)."""
    with door(ctx, Operation.BATCH, resource="audit.checkpoint") as rec:
        out = checkpoint_now()
        rec.detail = f"checkpoint seq={out[0]}" if out else "no new entries"
    return out
