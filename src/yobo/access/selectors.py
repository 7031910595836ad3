"""Reading staff accounts and terminals (職員・端末の参照), for administrators, through the door."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation

from .models import Staff, Terminal


def list_staff(ctx: AccessContext, *, include_revoked: bool = True) -> list[Staff]:
    """職員一覧."""
    with door(ctx, Operation.SEARCH, resource="access.staff") as rec:
        qs: QuerySet[Staff] = Staff.objects.select_related("department").prefetch_related("roles")
        if not include_revoked:
            qs = qs.filter(revoked_at__isnull=True)
        rows = list(qs.order_by("username"))
        rec.detail = f"list staff n={len(rows)}"
    return rows


def get_staff(ctx: AccessContext, username: str) -> Staff:
    """一人の職員アカウント."""
    with door(ctx, Operation.READ, resource="access.staff") as rec:
        staff = (Staff.objects.select_related("department").prefetch_related("roles")
                 .filter(username=username).first())
        if staff is None:
            raise InputRejected(f"職員「{username}」は登録されていません。 / No staff account {username!r}.")
        rec.detail = f"read staff={username}"
    return staff


def list_terminals(ctx: AccessContext) -> list[Terminal]:
    """端末一覧."""
    with door(ctx, Operation.SEARCH, resource="access.terminal") as rec:
        rows = list(Terminal.objects.select_related("department").order_by("name"))
        rec.detail = f"list terminals n={len(rows)}"
    return rows


@dataclass(frozen=True, slots=True)
class ReviewRow:
    username: str
    name: str
    department: str
    contractor: bool
    last_login: str
    expires_on: str
    finding: str  # unused / never_used / expiring / expired / locked


def review_accounts(ctx: AccessContext, *, unused_days: int = 90, expiring_days: int = 30,
                    today: date | None = None) -> list[ReviewRow]:
    """IDの定期棚卸し: accounts unused for ``unused_days``, never used, expiring soon or expired.

    Revoked accounts are left out: they can no longer be used.
    """
    d = today or timezone.localdate()
    cutoff = timezone.now() - timedelta(days=unused_days)
    with door(ctx, Operation.SEARCH, resource="access.staff") as rec:
        qs = (Staff.objects.select_related("department").filter(revoked_at__isnull=True)
              .filter(Q(last_login__lt=cutoff) | Q(last_login__isnull=True)
                      | Q(expires_on__lte=d + timedelta(days=expiring_days))
                      | Q(locked_until__gt=timezone.now()))
              .order_by("username"))
        out: list[ReviewRow] = []
        for s in qs:
            if s.expires_on and s.expires_on < d:
                finding = "expired"
            elif s.expires_on and s.expires_on <= d + timedelta(days=expiring_days):
                finding = "expiring"
            elif s.locked_until and s.locked_until > timezone.now():
                finding = "locked"
            elif s.last_login is None:
                if s.date_joined > cutoff:
                    continue  # new accounts are not "unused" yet
                finding = "never_used"
            else:
                finding = "unused"
            out.append(ReviewRow(
                username=s.username, name=f"{s.last_name} {s.first_name}".strip(),
                department=s.department.code if s.department else "", contractor=s.is_contractor,
                last_login=timezone.localtime(s.last_login).strftime("%Y-%m-%d") if s.last_login else "",
                expires_on=s.expires_on.isoformat() if s.expires_on else "", finding=finding,
            ))
        rec.detail = f"review accounts n={len(out)} unused_days={unused_days}"
    return out


REVIEW_LABELS = {
    "unused": "長期間未使用",
    "never_used": "一度も使用されていない",
    "expiring": "まもなく有効期限",
    "expired": "有効期限切れ（失効処理を）",
    "locked": "ロック中",
}


def department_choices() -> list[tuple[str, str]]:
    """所属の選択肢 (no personal data, so no log entry)."""
    from .models import Department

    return [(d.code, d.name) for d in Department.objects.order_by("code")]
