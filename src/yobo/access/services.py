"""Account and terminal lifecycle (職員アカウント・端末の発行・変更・失効).

Every administrative change goes through the audit door under purpose A01 (職員・端末・権限の管理)
with operation ``admin``, so only staff holding the administrator duty can make it and every
change is in the access log. The staff member's username is written in the log's detail field
(the target field is reserved for 宛名番号).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from yobo.audit.door import door, log_event
from yobo.core.context import AccessContext, check
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import DUTY_LABELS, Duty, Operation, Result

from .models import Department, DutyRole, Staff, Terminal

_RESOURCE_STAFF = "access.staff"
_RESOURCE_TERMINAL = "access.terminal"

# No shared IDs (共用IDの禁止): names that stand for a function or a group, not a person.
GENERIC_NAMES = frozenset(
    {
        "admin", "administrator", "root", "user", "users", "guest", "test", "tester", "shared",
        "share", "common", "kyoyu", "kyouyu", "kyoyuu", "kyotsu", "kyoutsuu", "staff", "operator",
        "system", "sys", "temp", "tmp", "madoguchi", "uketsuke", "kakari", "ka", "team", "group",
        "all", "everyone", "anonymous", "default", "public", "service", "support", "info",
    }
)
USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
TERMINAL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
ENROLL_MINUTES_DEFAULT = 60



def require_admin(ctx: AccessContext, resource: str = _RESOURCE_STAFF) -> None:
    """Refuse (logged, ``AccessDenied``) unless ``ctx`` may administer; for pages that only show forms."""
    reason = check(ctx, Operation.ADMIN)
    if reason is not None:
        log_event(ctx, Operation.ADMIN, resource=resource, result=Result.DENIED, detail=reason)
        raise AccessDenied(reason)


def _reject(ja: str, en: str) -> InputRejected:
    return InputRejected(f"{ja} / {en}")


def validate_username(username: str) -> str:
    """The username, normalised, or ``InputRejected`` when it is not a personal ID."""
    u = (username or "").strip().lower()
    if not USERNAME_RE.match(u):
        raise _reject(
            "ユーザーIDは半角英小文字で始まり、英小文字・数字・「.」「_」「-」で3〜64文字にしてください。",
            "Username: 3-64 characters, a-z first, then a-z 0-9 . _ -.",
        )
    stem = re.sub(r"[\d._-]+", "", u)
    if u in GENERIC_NAMES or stem in GENERIC_NAMES:
        raise _reject(
            "共用・汎用のID（admin, user, guest, test, kyoyu など）は作れません。職員個人を表すIDにしてください。",
            "Shared or generic IDs are not allowed; use an ID that names one person.",
        )
    return u


def generate_password() -> str:
    """A random initial password (初期パスワード) that passes the validators."""
    return "yb-" + secrets.token_urlsafe(12)


def ensure_duty_roles() -> dict[str, DutyRole]:
    """One role per duty (職責ごとのロール); created on first use."""
    out: dict[str, DutyRole] = {}
    for d in Duty:
        role, _ = DutyRole.objects.get_or_create(
            code=str(d), defaults={"name": DUTY_LABELS[d], "duties": [str(d)]}
        )
        out[str(d)] = role
    return out


def _clean_duties(duties: list[str] | tuple[str, ...] | set[str], contractor: bool) -> list[str]:
    out: list[str] = []
    for d in duties:
        try:
            out.append(str(Duty(str(d).strip())))
        except ValueError:
            raise _reject(f"職責「{d}」はありません。", f"Unknown duty {d!r}.") from None
    if not out:
        raise _reject("職責を一つ以上選んでください。", "Choose at least one duty.")
    if contractor and set(out) != {str(Duty.CONTRACTOR_ENTRY)}:
        raise _reject(
            "委託先アカウントには「委託先入力作業者」の職責だけを付与できます（最小権限）。",
            "Contractor accounts may hold only the contractor_entry duty.",
        )
    if not contractor and str(Duty.CONTRACTOR_ENTRY) in out:
        raise _reject(
            "「委託先入力作業者」は委託先アカウント専用の職責です。",
            "The contractor_entry duty is for contractor accounts only.",
        )
    return sorted(set(out))


def _set_duties(staff: Staff, duties: list[str]) -> None:
    roles = ensure_duty_roles()
    staff.roles.set([roles[d] for d in duties])


def _department(code: str | None) -> Department | None:
    if not code:
        return None
    dept = Department.objects.filter(code=code).first()
    if dept is None:
        raise _reject(f"所属コード「{code}」は登録されていません。", f"Unknown department {code!r}.")
    return dept


def _check_expiry(expires_on: date | None, contractor: bool) -> None:
    if contractor and expires_on is None:
        raise _reject("委託先アカウントには有効期限が必要です。", "Contractor accounts need an expiry date.")
    if expires_on is not None and expires_on < timezone.localdate():
        raise _reject("有効期限が過去の日付です。", "The expiry date is in the past.")


def _get_staff(username: str) -> Staff:
    staff = Staff.objects.filter(username=username).first()
    if staff is None:
        raise _reject(f"職員「{username}」は登録されていません。", f"No staff account {username!r}.")
    return staff


def ensure_department(code: str, name: str) -> Department:
    dept, _ = Department.objects.get_or_create(code=code, defaults={"name": name})
    return dept


@dataclass(frozen=True, slots=True)
class NewAccount:
    staff: Staff
    password: str


def _create(
    *,
    creator: str,
    username: str,
    last_name: str,
    first_name: str,
    department: str | None,
    duties: list[str],
    expires_on: date | None,
    mynumber_right: bool,
    contractor_company: str,
    password: str | None,
) -> NewAccount:
    contractor = bool(contractor_company)
    username = validate_username(username)
    if not (last_name or "").strip() or not (first_name or "").strip():
        raise _reject("氏名（姓・名）を入力してください。共用IDは作れません。",
                      "A person's family and given name are required.")
    clean = _clean_duties(duties, contractor)
    _check_expiry(expires_on, contractor)
    if contractor and mynumber_right:
        raise _reject("委託先アカウントに個人番号参照権限は付与できません。",
                      "Contractor accounts never hold the My Number right.")
    if Staff.objects.filter(username=username).exists():
        raise _reject(f"ユーザーID「{username}」は既に使われています。", f"Username {username!r} is taken.")
    dept = _department(department)
    pw = password or generate_password()
    staff = Staff(
        username=username,
        last_name=last_name.strip(),
        first_name=first_name.strip(),
        department=dept,
        mynumber_right=mynumber_right,
        is_contractor=contractor,
        contractor_company=contractor_company.strip(),
        expires_on=expires_on,
        created_by=creator,
    )
    try:
        validate_password(pw, staff)
    except ValidationError as exc:
        raise _reject("パスワードが要件を満たしません: " + " ".join(exc.messages), "Weak password.") from None
    staff.set_password(pw)
    staff.save()
    _set_duties(staff, clean)
    return NewAccount(staff, pw)


def create_staff(
    ctx: AccessContext,
    *,
    username: str,
    last_name: str,
    first_name: str,
    department: str | None,
    duties: list[str],
    expires_on: date | None = None,
    mynumber_right: bool = False,
    password: str | None = None,
) -> NewAccount:
    """職員アカウントの発行. Returns the account and its initial password (shown once)."""
    with door(ctx, Operation.ADMIN, resource=_RESOURCE_STAFF) as rec:
        acc = _create(creator=ctx.username, username=username, last_name=last_name, first_name=first_name,
                      department=department, duties=duties, expires_on=expires_on,
                      mynumber_right=mynumber_right, contractor_company="", password=password)
        rec.detail = f"create staff={acc.staff.username} duties={','.join(sorted(acc.staff.duties()))}" + (
            " mynumber_right" if mynumber_right else "")
    return acc


def create_contractor(
    ctx: AccessContext,
    *,
    username: str,
    last_name: str,
    first_name: str,
    company: str,
    expires_on: date | None,
    department: str | None = None,
    password: str | None = None,
) -> NewAccount:
    """委託先アカウントの発行: always with an expiry date and only the minimum duty."""
    if not (company or "").strip():
        raise _reject("委託先の事業者名を入力してください。", "The contractor company is required.")
    with door(ctx, Operation.ADMIN, resource=_RESOURCE_STAFF) as rec:
        acc = _create(creator=ctx.username, username=username, last_name=last_name, first_name=first_name,
                      department=department, duties=[str(Duty.CONTRACTOR_ENTRY)], expires_on=expires_on,
                      mynumber_right=False, contractor_company=company, password=password)
        rec.detail = f"create contractor={acc.staff.username} expires={expires_on}"
    return acc


def update_staff(
    ctx: AccessContext,
    username: str,
    *,
    duties: list[str] | None = None,
    department: str | None = None,
    expires_on: date | Any | None = ...,
    last_name: str | None = None,
    first_name: str | None = None,
) -> Staff:
    """職責・所属・有効期限の変更."""
    with door(ctx, Operation.ADMIN, resource=_RESOURCE_STAFF) as rec:
        staff = _get_staff(username)
        changes: list[str] = []
        if duties is not None:
            clean = _clean_duties(duties, staff.is_contractor)
            if clean != sorted(staff.duties()):
                _set_duties(staff, clean)
                changes.append("duties=" + ",".join(clean))
        if department is not None and (staff.department.code if staff.department else "") != department:
            staff.department = _department(department)
            changes.append(f"department={department}")
        if expires_on is not ...:
            _check_expiry(expires_on, staff.is_contractor)
            if staff.expires_on != expires_on:
                staff.expires_on = expires_on
                changes.append(f"expires={expires_on}")
        if last_name is not None and last_name.strip() and last_name.strip() != staff.last_name:
            staff.last_name = last_name.strip()
            changes.append("last_name")
        if first_name is not None and first_name.strip() and first_name.strip() != staff.first_name:
            staff.first_name = first_name.strip()
            changes.append("first_name")
        staff.save()
        rec.detail = f"update staff={staff.username} " + (" ".join(changes) or "no-change")
    return staff


def revoke_staff(ctx: AccessContext, username: str, reason: str) -> Staff:
    """アカウントの失効 (退職・異動・委託終了). The account can no longer log in; sessions end."""
    reason = (reason or "").strip()
    if not reason:
        raise _reject("失効の理由を入力してください。", "A reason is required.")
    with door(ctx, Operation.ADMIN, resource=_RESOURCE_STAFF) as rec:
        staff = _get_staff(username)
        if staff.pk == ctx.staff_id:
            raise _reject("自分のアカウントは失効できません。別の管理者に依頼してください。",
                          "You cannot revoke your own account.")
        if staff.revoked_at is None:
            staff.revoked_at = timezone.now()
            staff.revoked_reason = reason[:200]
            staff.save(update_fields=["revoked_at", "revoked_reason"])
        rec.detail = f"revoke staff={staff.username} reason={reason[:120]}"
    return staff


def set_mynumber_right(ctx: AccessContext, username: str, granted: bool) -> Staff:
    """個人番号参照権限の付与・取消. Never for contractor accounts."""
    with door(ctx, Operation.ADMIN, resource=_RESOURCE_STAFF) as rec:
        staff = _get_staff(username)
        if granted and staff.is_contractor:
            raise _reject("委託先アカウントに個人番号参照権限は付与できません。",
                          "Contractor accounts never hold the My Number right.")
        staff.mynumber_right = granted
        staff.save(update_fields=["mynumber_right"])
        rec.detail = f"{'grant' if granted else 'withdraw'} mynumber_right staff={staff.username}"
    return staff


def unlock_staff(ctx: AccessContext, username: str) -> Staff:
    """ロックの解除 (連続失敗によるロック)."""
    with door(ctx, Operation.ADMIN, resource=_RESOURCE_STAFF) as rec:
        staff = _get_staff(username)
        staff.failed_logins = 0
        staff.locked_until = None
        staff.save(update_fields=["failed_logins", "locked_until"])
        rec.detail = f"unlock staff={staff.username}"
    return staff


def reset_credentials(ctx: AccessContext, username: str) -> NewAccount:
    """パスワードと二要素の再発行: a new initial password; the second factor is enrolled again."""
    from django_otp import devices_for_user

    with door(ctx, Operation.ADMIN, resource=_RESOURCE_STAFF) as rec:
        staff = _get_staff(username)
        pw = generate_password()
        staff.set_password(pw)
        staff.failed_logins = 0
        staff.locked_until = None
        staff.save()
        for dev in list(devices_for_user(staff, confirmed=None)):
            dev.delete()
        rec.detail = f"reset credentials staff={staff.username}"
    return NewAccount(staff, pw)


# --- terminals (端末) ---


def normalise_fingerprint(fp: str) -> str:
    """SHA-256 fingerprint as 64 lower-case hex digits (colons and case removed)."""
    return re.sub(r"[^0-9a-f]", "", (fp or "").lower())


def _new_enrolment(term: Terminal, minutes: int) -> str:
    code = secrets.token_urlsafe(24)
    term.enroll_code_hash = Terminal.hash_token(code)
    term.enroll_expires_at = timezone.now() + timedelta(minutes=minutes)
    return code


@dataclass(frozen=True, slots=True)
class NewTerminal:
    terminal: Terminal
    enroll_code: str  # one-time code for /terminal/enroll/<code>/ ("" for cert-only terminals)


def _register_terminal(
    *, by: str, name: str, kind: str, department: str | None, location: str, cert_fingerprint: str,
    enroll_minutes: int,
) -> NewTerminal:
    name = (name or "").strip()
    if not TERMINAL_NAME_RE.match(name):
        raise _reject("端末名は半角英数字と「.」「_」「-」で2〜64文字にしてください。",
                      "Terminal name: 2-64 characters of A-Z a-z 0-9 . _ -.")
    if kind not in {k for k, _ in Terminal.KIND_CHOICES}:
        raise _reject("端末の種類が正しくありません。", f"Unknown terminal kind {kind!r}.")
    if Terminal.objects.filter(name=name).exists():
        raise _reject(f"端末「{name}」は既に登録されています。", f"Terminal {name!r} exists.")
    fp = normalise_fingerprint(cert_fingerprint)
    if cert_fingerprint and len(fp) != 64:
        raise _reject("証明書フィンガープリントはSHA-256（16進64桁）で入力してください。",
                      "The certificate fingerprint must be SHA-256 (64 hex digits).")
    term = Terminal(name=name, kind=kind, department=_department(department), location=location.strip(),
                    cert_fingerprint=fp, registered_by=by)
    code = _new_enrolment(term, enroll_minutes) if kind == "web" else ""
    term.save()
    return NewTerminal(term, code)


def register_terminal(
    ctx: AccessContext,
    *,
    name: str,
    kind: str = "web",
    department: str | None = None,
    location: str = "",
    cert_fingerprint: str = "",
    enroll_minutes: int = ENROLL_MINUTES_DEFAULT,
) -> NewTerminal:
    """端末の登録. A web terminal gets a one-time enrolment code for its browser."""
    with door(ctx, Operation.ADMIN, resource=_RESOURCE_TERMINAL) as rec:
        nt = _register_terminal(by=ctx.username, name=name, kind=kind, department=department,
                                location=location, cert_fingerprint=cert_fingerprint,
                                enroll_minutes=enroll_minutes)
        rec.detail = f"register terminal={nt.terminal.name} kind={kind}" + (" cert" if cert_fingerprint else "")
    return nt


def issue_enrolment(ctx: AccessContext, name: str, enroll_minutes: int = ENROLL_MINUTES_DEFAULT) -> str:
    """A new one-time enrolment code for a registered terminal (e.g. a re-installed browser)."""
    with door(ctx, Operation.ADMIN, resource=_RESOURCE_TERMINAL) as rec:
        term = Terminal.objects.filter(name=name).first()
        if term is None:
            raise _reject(f"端末「{name}」は登録されていません。", f"No terminal {name!r}.")
        code = _new_enrolment(term, enroll_minutes)
        term.save(update_fields=["enroll_code_hash", "enroll_expires_at"])
        rec.detail = f"enrolment link terminal={term.name}"
    return code


def set_terminal_active(ctx: AccessContext, name: str, active: bool) -> Terminal:
    """端末の利用停止・再開. A disabled terminal is refused at once, also for open sessions."""
    with door(ctx, Operation.ADMIN, resource=_RESOURCE_TERMINAL) as rec:
        term = Terminal.objects.filter(name=name).first()
        if term is None:
            raise _reject(f"端末「{name}」は登録されていません。", f"No terminal {name!r}.")
        term.active = active
        term.disabled_at = None if active else timezone.now()
        if not active:
            term.enroll_code_hash = ""
            term.enroll_expires_at = None
        term.save()
        rec.detail = f"{'enable' if active else 'disable'} terminal={term.name}"
    return term


def enroll_terminal(code: str) -> tuple[Terminal, str] | None:
    """Redeem a one-time enrolment code: returns the terminal and its new device token.

    The token is returned once (to be set as the browser's device cookie) and kept only hashed.
    """
    if not code:
        return None
    with transaction.atomic():
        term = (Terminal.objects.select_for_update()
                .filter(enroll_code_hash=Terminal.hash_token(code), active=True).first())
        if term is None or term.enroll_expires_at is None or term.enroll_expires_at < timezone.now():
            log_event(None, Operation.ADMIN, resource=_RESOURCE_TERMINAL, result=Result.FAILED,
                      detail="enrol terminal: unknown or expired code", staff="-")
            return None
        token = secrets.token_urlsafe(32)
        term.token_hash = Terminal.hash_token(token)
        term.enroll_code_hash = ""
        term.enroll_expires_at = None
        term.save(update_fields=["token_hash", "enroll_code_hash", "enroll_expires_at"])
        log_event(None, Operation.ADMIN, resource=_RESOURCE_TERMINAL, staff="-", terminal=term.name,
                  detail=f"enrol terminal={term.name} (device token set)")
    return term, token


# --- bootstrap (yobo init --demo-operator) ---


def bootstrap_demo(*, municipality: str, enroll_minutes: int = 24 * 60) -> dict[str, Any]:
    """Create (or refresh) the demo administrator and terminal. Logged as done by ``yobo-init``.

    Idempotent: the account, its TOTP secret and the terminal are kept; the password and the
    enrolment link are renewed on every run (only their hashes are stored, so they cannot be
    printed again).
    """
    from django_otp.plugins.otp_totp.models import TOTPDevice

    with transaction.atomic():
        dept = ensure_department("joho", "情報政策課")
        ensure_department("hoken", "健康福祉局 健康安全課")
        ensure_duty_roles()
        staff = Staff.objects.filter(username="demo-admin").first()
        pw = generate_password()
        if staff is None:
            acc = _create(creator="yobo-init", username="demo-admin", last_name="デモ", first_name="管理者",
                          department=dept.code, duties=[str(d) for d in Duty if d is not Duty.CONTRACTOR_ENTRY],
                          expires_on=None, mynumber_right=True, contractor_company="", password=pw)
            staff = acc.staff
            action = "create"
        else:
            staff.set_password(pw)
            staff.revoked_at = None
            staff.failed_logins = 0
            staff.locked_until = None
            staff.mynumber_right = True
            staff.save()
            _set_duties(staff, [str(d) for d in Duty if d is not Duty.CONTRACTOR_ENTRY])
            action = "refresh"
        # Keep the TOTP secret across runs so an authenticator app set up once keeps working.
        device = TOTPDevice.objects.filter(user=staff, name="demo TOTP", confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=staff, name="demo TOTP", confirmed=True)
        term = Terminal.objects.filter(name="demo-terminal").first()
        if term is None:
            nt = _register_terminal(by="yobo-init", name="demo-terminal", kind="web", department=dept.code,
                                    location="local demo", cert_fingerprint="", enroll_minutes=enroll_minutes)
            term, code = nt.terminal, nt.enroll_code
        else:
            term.active = True
            term.disabled_at = None
            code = _new_enrolment(term, enroll_minutes)
            term.save()
        log_event(None, Operation.ADMIN, resource=_RESOURCE_STAFF, staff="yobo-init",
                  detail=f"{action} demo-admin and demo-terminal municipality={municipality}")
    return {"staff": staff, "password": pw, "device": device, "terminal": term, "enroll_code": code}
