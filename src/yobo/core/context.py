"""The access context (AccessContext) and the permission check of the door.

Every service and selector that touches personal data takes an ``AccessContext``: who acts, in
which department, with which duties, from which registered terminal, for which purpose (処理事由),
under which request id. The check here is pure; the audit app's door applies it, performs the work
and appends the access-log entry in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

from .purposes import DUTY_PURPOSES, PURPOSE_OPERATIONS, Duty, Operation, Purpose, parse_purpose


def new_request_id() -> str:
    """A request id for one user action or one batch run."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class AccessContext:
    """Who is acting, from where, and why (アクセス文脈).

    Built only by the access app (from a logged-in request or a CLI operator on a registered
    terminal), so holding one means the account and terminal were checked at that moment.
    """

    staff_id: int
    username: str
    department: str
    duties: frozenset[str]
    terminal: str
    purpose: str
    request_id: str = field(default_factory=new_request_id)
    mynumber_right: bool = False
    contractor: bool = False

    def for_purpose(self, purpose: Purpose | str) -> AccessContext:
        """The same actor acting for another purpose (a new menu choice)."""
        return replace(self, purpose=str(purpose))

    def allowed_purposes(self) -> frozenset[Purpose]:
        out: set[Purpose] = set()
        for d in self.duties:
            try:
                out |= DUTY_PURPOSES[Duty(d)]
            except ValueError:
                continue
        return frozenset(out)


def check(ctx: AccessContext, operation: Operation) -> str | None:
    """Why ``ctx`` may not perform ``operation``, as a denial reason code, or None if it may."""
    if not ctx.terminal:
        return "no_terminal"
    if not ctx.purpose:
        return "no_purpose"
    purpose = parse_purpose(ctx.purpose)
    if purpose is None:
        return "unknown_purpose"
    if purpose not in ctx.allowed_purposes():
        return "purpose_not_permitted"
    if operation not in PURPOSE_OPERATIONS[purpose]:
        return "operation_not_permitted"
    if operation is Operation.REVEAL_MYNUMBER and not ctx.mynumber_right:
        return "mynumber_right"
    if operation is Operation.EXPORT and ctx.contractor:
        return "contractor_export"
    return None
