"""System clients of the API (外部システム): registration, credentials, and their AccessContext.

A system of the city (a health-checkup system, a school-health system, …) calls the REST/FHIR API
with ``Authorization: Bearer <credential>``. The credential identifies an ``ApiClient``, which is
bound to its own registered terminal (kind ``system``) and its own service account; the context
built here is that account on that terminal, with the purpose the call states (``X-Yobo-Purpose``,
default the client's first purpose). So the door checks and logs every call exactly like a staff
access. Refusals (unknown, revoked or expired credential, disabled terminal, a purpose the client was
not given) are logged before ``AccessDenied`` is raised.

Registration, rotation and revocation are administrative acts (purpose A01, operation ``admin``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from yobo.audit.door import door, log_event
from yobo.core.context import AccessContext, new_request_id
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import DUTY_PURPOSES, Duty, Operation, Purpose, Result, parse_purpose

from .models import ApiClient, Department, DutyRole, Staff, Terminal
from .services import require_admin

RESOURCE = "access.api_client"
TOKEN_PREFIX = "yobo_"  # noqa: S105  (a prefix that makes a leaked credential recognisable, not a secret)
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,40}$")
_SEEN_EVERY = timedelta(minutes=5)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ClientInfo:
    name: str
    terminal: str
    account: str
    duties: tuple[str, ...]
    purposes: tuple[str, ...]
    token_hint: str
    created_at: datetime
    expires_on: date | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def _info(c: ApiClient) -> ClientInfo:
    return ClientInfo(c.name, c.terminal.name, c.account.username, tuple(sorted(c.account.duties())),
                      tuple(c.purposes), c.token_hint, c.created_at, c.expires_on, c.revoked_at, c.last_used_at)


def _new_token() -> tuple[str, str, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token), token[:12]


def register(ctx: AccessContext, name: str, *, duties: list[str], purposes: list[str],
             expires_on: date | None = None, department: str = "") -> tuple[ClientInfo, str]:
    """Register a system client; returns its info and the credential (shown this once, never stored)."""
    require_admin(ctx, RESOURCE)  # refuse (logged) before saying anything about the input
    name = (name or "").strip().lower()
    if not NAME_RE.match(name):
        raise InputRejected("システム名は英小文字・数字・ハイフン (2〜41文字) です。"
                            " / The name is 2-41 lower-case letters, digits and hyphens.")
    try:
        ds = [Duty(d) for d in duties]
    except ValueError:
        raise InputRejected("職責の指定が正しくありません。 / Unknown duty.") from None
    if not ds or Duty.ADMIN in ds:
        raise InputRejected("外部システムには管理者以外の職責を1つ以上与えてください。"
                            " / Give a system client one or more duties other than admin.")
    allowed: set[Purpose] = set()
    for d in ds:
        allowed |= DUTY_PURPOSES[d]
    ps = [parse_purpose(p) for p in purposes]
    if not ps or any(p is None or p not in allowed for p in ps):
        raise InputRejected("処理事由は職責が認めるものから1つ以上指定してください。"
                            " / Give one or more purposes the duties allow.")
    if expires_on is not None and expires_on <= timezone.localdate():
        raise InputRejected("有効期限は明日以降にしてください。 / The expiry must be in the future.")
    token, digest, hint = _new_token()
    with door(ctx, Operation.ADMIN, resource=RESOURCE, detail=f"register {name}"):
        if ApiClient.objects.filter(name=name).exists() or Terminal.objects.filter(name=f"api-{name}").exists():
            raise InputRejected(f"{name} はすでに登録されています。 / {name} is already registered.")
        dept = Department.objects.filter(code=department).first() if department else None
        term = Terminal.objects.create(name=f"api-{name}", kind="system", department=dept,
                                       location="API client", registered_by=ctx.username)
        codes = sorted(str(d) for d in ds)
        role, _ = DutyRole.objects.get_or_create(code="api:" + "+".join(codes)[:28],
                                                 defaults={"name": "API: " + "/".join(codes), "duties": codes})
        account = Staff(username=f"api.{name}", last_name="API", first_name=name, department=dept,
                        expires_on=expires_on, created_by=ctx.username)
        account.set_unusable_password()  # a service account never logs in to the web UI
        account.save()
        account.roles.add(role)
        client = ApiClient.objects.create(name=name, terminal=term, account=account,
                                          purposes=[str(p) for p in ps if p is not None], token_hash=digest,
                                          token_hint=hint, created_by=ctx.username, expires_on=expires_on)
    return _info(client), token


def rotate(ctx: AccessContext, name: str) -> str:
    """A new credential for a client; the old one stops working at once."""
    token, digest, hint = _new_token()
    with door(ctx, Operation.ADMIN, resource=RESOURCE, detail=f"rotate {name[:40]}"):
        n = ApiClient.objects.filter(name=name, revoked_at__isnull=True).update(token_hash=digest, token_hint=hint)
        if not n:
            raise InputRejected(f"有効な外部システム {name[:40]} はありません。 / No active client {name[:40]}.")
    return token


def revoke(ctx: AccessContext, name: str, reason: str) -> None:
    """Revoke a client (its terminal is disabled and its account revoked too)."""
    now = timezone.now()
    with door(ctx, Operation.ADMIN, resource=RESOURCE, detail=f"revoke {name[:40]}"):
        c = ApiClient.objects.select_related("terminal", "account").filter(name=name).first()
        if c is None or c.revoked_at is not None:
            raise InputRejected(f"有効な外部システム {name[:40]} はありません。 / No active client {name[:40]}.")
        c.revoked_at, c.revoked_reason = now, (reason or "")[:200]
        c.save(update_fields=["revoked_at", "revoked_reason"])
        Terminal.objects.filter(pk=c.terminal_id).update(active=False, disabled_at=now)
        Staff.objects.filter(pk=c.account_id).update(revoked_at=now, revoked_reason="API client revoked")


def clients(ctx: AccessContext) -> list[ClientInfo]:
    with door(ctx, Operation.ADMIN, resource=RESOURCE, detail="list"):
        return [_info(c) for c in ApiClient.objects.select_related("terminal", "account").order_by("name")]


# One flat row per call (no model instances, no ORDER BY): the API read path pays for this on every
# request, so it is kept to two small queries (this row and the account's duties).
_CLIENT_ROW = (
    "pk", "purposes", "revoked_at", "expires_on", "last_used_at", "terminal_id", "terminal__name",
    "terminal__active", "account_id", "account__username", "account__department__code", "account__is_active",
    "account__revoked_at", "account__valid_from", "account__expires_on", "account__locked_until",
    "account__mynumber_right", "account__is_contractor",
)


def context_for_token(token: str, purpose: str = "", request_id: str = "") -> AccessContext:
    """The context of the system client presenting ``token``, acting for ``purpose`` (or its default)."""
    rid = request_id or new_request_id()
    rows = list(ApiClient.objects.filter(token_hash=hash_token(token or "")).values(*_CLIENT_ROW)[:1])

    def refuse(reason: str, staff: str = "-", terminal: str = "") -> AccessDenied:
        log_event(None, Operation.LOGIN, resource=RESOURCE, result=Result.DENIED, detail=reason, staff=staff,
                  terminal=terminal, request_id=rid)
        return AccessDenied(reason)

    if not rows:
        raise refuse("client_credential")
    c = rows[0]
    who, term = c["account__username"], c["terminal__name"]
    if c["revoked_at"] is not None or (c["expires_on"] and c["expires_on"] < timezone.localdate()):
        raise refuse("client_credential", who, term)
    if not c["terminal__active"]:
        raise refuse("terminal_disabled", who, term)
    # The same lifecycle rule as a staff login (Staff.inactive_reason), on an unsaved copy of the row.
    account = Staff(is_active=c["account__is_active"], revoked_at=c["account__revoked_at"],
                    valid_from=c["account__valid_from"], expires_on=c["account__expires_on"],
                    locked_until=c["account__locked_until"])
    if account.inactive_reason() is not None:
        raise refuse("account_inactive", who, term)
    purposes = list(c["purposes"] or [])
    chosen = (purpose or "").strip().upper() or (purposes[0] if purposes else "")
    if chosen not in purposes:
        raise refuse("purpose_not_permitted", who, term)
    now = timezone.now()
    if c["last_used_at"] is None or now - c["last_used_at"] > _SEEN_EVERY:
        ApiClient.objects.filter(pk=c["pk"]).update(last_used_at=now)
        Terminal.objects.filter(pk=c["terminal_id"]).update(last_seen_at=now)
    duties: set[str] = set()
    for ds in DutyRole.objects.filter(staff=c["account_id"]).values_list("duties", flat=True):
        duties.update(ds)
    return AccessContext(staff_id=c["account_id"], username=who, department=c["account__department__code"] or "",
                         duties=frozenset(duties), terminal=term, purpose=chosen, request_id=rid,
                         mynumber_right=c["account__mynumber_right"], contractor=c["account__is_contractor"])
