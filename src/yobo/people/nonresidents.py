"""Non-registered persons (住登外者): registration on application, with the My Number and its
number check and identity check (番号確認・本人確認), in force only once a second staff member has
confirmed it (二人確認). Purpose P03 (住登外者の登録). See docs/decisions/056-non-registered-persons.md.

The application reserves a 宛名番号 from the city's 住登外者 range (prefix
``YOBO_NONRESIDENT_ATENA_PREFIX``, default ``9``, 10 digits) so it never collides with the
register's numbers; the ``Person`` (source ``jutogai``) is created on confirmation, so a pending
application is never found by a search.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation
from yobo.core.text import digits, is_katakana, kana_fullwidth, search_key
from yobo.mynumber import services as vault_services

from .models import (
    ApplicationState,
    ChangeKind,
    NonResidentApplication,
    NonResidentCounter,
    Person,
    PersonHistory,
    ResidentStatus,
    Sex,
    Source,
)
from .two_staff import decide, locked_pending, require_second_staff

RESOURCE = "people.nonresident"
ATENA_DIGITS = 10


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def atena_prefix() -> str:
    p = str(getattr(settings, "YOBO_NONRESIDENT_ATENA_PREFIX", "9"))
    if not p.isdigit() or not 1 <= len(p) < ATENA_DIGITS:
        raise InputRejected(
            "住登外者の宛名番号の接頭辞 (YOBO_NONRESIDENT_ATENA_PREFIX) は1〜9桁の数字で設定してください。"
            " / YOBO_NONRESIDENT_ATENA_PREFIX must be 1-9 digits."
        )
    return p


@dataclass(frozen=True)
class Applicant:
    """The person's items as written on the application (住登外者登録申請書)."""

    name_kanji: str
    name_kana: str
    birth_date: date
    sex: int
    address: str
    reason: str
    postal_code: str = ""
    address_extra: str = ""
    phone: str = ""


def applicant_problems(a: Applicant, today: date | None = None) -> list[str]:
    """Why the application's items cannot be accepted (empty when they can)."""
    out: list[str] = []
    if not a.name_kanji.strip():
        out.append("氏名を入力してください。 / Enter the name.")
    if not a.name_kana.strip() or not is_katakana(a.name_kana):
        out.append("フリガナはカタカナで入力してください。 / Enter the name reading in katakana.")
    if a.birth_date > (today or timezone.localdate()):
        out.append("生年月日が未来の日付です。 / The birth date is in the future.")
    if a.sex not in Sex.values:
        out.append("性別を選んでください。 / Choose the sex.")
    if not a.address.strip():
        out.append("住所を入力してください。 / Enter the address.")
    if not a.reason.strip():
        out.append("登録事由を入力してください。 / Enter why this person is registered here.")
    pc = digits(a.postal_code)
    if pc and (len(pc) != 7 or not pc.isdigit()):
        out.append("郵便番号は7桁の数字です。 / The postal code has 7 digits.")
    return out


def _next_atena(m: str) -> str:
    prefix = atena_prefix()
    width = ATENA_DIGITS - len(prefix)
    counter, _ = NonResidentCounter.objects.select_for_update().get_or_create(municipality=m)
    while True:
        counter.last += 1
        if counter.last >= 10 ** width:
            raise InputRejected("住登外者の宛名番号の範囲を使い切りました。管理者に連絡してください。"
                                " / The 住登外者 number range is exhausted.")
        a = f"{prefix}{counter.last:0{width}d}"
        # A number the register already uses (a misconfigured prefix) is skipped, never shared.
        if not Person.objects.filter(municipality=m, atena_no=a).exists():
            counter.save(update_fields=["last"])
            return a


def apply(ctx: AccessContext, applicant: Applicant, number: str,
          verification: vault_services.Verification) -> tuple[int, str]:
    """Take an application (住登外者の登録申請): reserve a 宛名番号, put the My Number and the
    identity-check record into the vault, and leave the registration pending until another staff
    member confirms it. Returns (application id, 宛名番号)."""
    problems = applicant_problems(applicant)
    if problems:
        raise InputRejected("\n".join(problems))
    with door(ctx, Operation.CREATE, resource=RESOURCE, detail="apply") as rec:
        m = _m()
        a = _next_atena(m)
        rec.targets = [a]
        app = NonResidentApplication.objects.create(
            municipality=m, atena_no=a, reason=applicant.reason.strip()[:200],
            name_kanji=applicant.name_kanji.strip(), name_kana=kana_fullwidth(applicant.name_kana.strip()),
            birth_date=applicant.birth_date, sex=applicant.sex, postal_code=digits(applicant.postal_code),
            address=applicant.address.strip(), address_extra=applicant.address_extra.strip(),
            phone=applicant.phone.strip(), requested_by_id=ctx.staff_id, requested_at=timezone.now(),
        )
        # The vault refuses a number already linked to another 宛名番号 (naming that 宛名番号 only).
        vault_services.register(ctx, a, number)
        app.verification_id = vault_services.record_verification(ctx, a, verification)
        app.save(update_fields=["verification_id"])
        return app.pk, a


def _locked_pending(application_id: int, rec: Any) -> NonResidentApplication:
    return locked_pending(NonResidentApplication, application_id, "住登外者の申請", rec)


def row_hash(app: NonResidentApplication | Person) -> str:
    """Digest of a 住登外者's items: of the application at registration, of the person after a
    住基ネット check changed them (``jukinet``)."""
    fields = [app.name_kanji, app.name_kana, app.birth_date.isoformat(), app.sex, app.postal_code, app.address,
              app.address_extra, app.phone]
    return hashlib.md5(json.dumps(fields, ensure_ascii=False).encode(), usedforsecurity=False).hexdigest()


def confirm(ctx: AccessContext, application_id: int) -> str:
    """Confirm an application (二人確認) and register the person; by a staff member other than the
    one who took it. Also confirms the identity-check record in the vault. Returns the 宛名番号."""
    with door(ctx, Operation.CREATE, resource=RESOURCE, detail="confirm") as rec:
        app = _locked_pending(application_id, rec)
        require_second_staff(app, ctx, "申請を受け付けた", "took the application")
        if app.verification_id is not None:
            vault_services.confirm_verification(ctx, app.verification_id)
        now = timezone.now()
        Person.objects.create(
            municipality=app.municipality, atena_no=app.atena_no, source=Source.NON_REGISTERED, household_no="",
            name_kanji=app.name_kanji, name_kana=app.name_kana, kanji_key=search_key(app.name_kanji),
            kana_key=search_key(app.name_kana), birth_date=app.birth_date, sex=app.sex, relationship="",
            postal_code=app.postal_code, address=app.address, address_extra=app.address_extra, phone=app.phone,
            status=ResidentStatus.RESIDENT, status_date=timezone.localdate(), status_reason="住登外者登録",
            row_hash=row_hash(app), created_at=now, updated_at=now,
        )
        PersonHistory.objects.create(
            municipality=app.municipality, atena_no=app.atena_no, changed_by_id=ctx.staff_id, changed_at=now,
            kind=ChangeKind.CREATED, changes={}, status=ResidentStatus.RESIDENT, status_date=timezone.localdate(),
            status_reason="住登外者登録", status_changed=True,
        )
        decide(app, ApplicationState.CONFIRMED, ctx)
        return app.atena_no


def withdraw(ctx: AccessContext, application_id: int, note: str = "") -> None:
    """Withdraw or refuse a pending application (取下げ・却下). The 宛名番号 is not reused; its My
    Number is unlinked in the vault (never held for a person who was not registered), so the
    person can apply again with it."""
    with door(ctx, Operation.UPDATE, resource=RESOURCE, detail="withdraw") as rec:
        app = _locked_pending(application_id, rec)
        vault_services.unlink(ctx, app.atena_no)
        decide(app, ApplicationState.WITHDRAWN, ctx, note)


@dataclass(frozen=True, slots=True)
class ApplicationView:
    """An application as staff see it (住登外者登録申請)."""

    id: int
    atena_no: str
    state: str
    reason: str
    name_kanji: str
    name_kana: str
    birth_date: date
    sex: int
    postal_code: str
    address: str
    address_extra: str
    phone: str
    verification_id: int | None
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None

    @property
    def state_label(self) -> str:
        return ApplicationState(self.state).label

    @property
    def sex_label(self) -> str:
        return Sex(self.sex).label


def _view(a: NonResidentApplication) -> ApplicationView:
    return ApplicationView(
        a.pk, a.atena_no, a.state, a.reason, a.name_kanji, a.name_kana, a.birth_date, a.sex, a.postal_code,
        a.address, a.address_extra, a.phone, a.verification_id, a.requested_by.get_username(), a.requested_at,
        a.decided_by.get_username() if a.decided_by else None, a.decided_at,
    )


def pending(ctx: AccessContext, limit: int = 100) -> list[ApplicationView]:
    """Applications waiting for the second staff member (確認待ち), oldest first; logged per person."""
    with door(ctx, Operation.SEARCH, resource=RESOURCE) as rec:
        rows = list(
            NonResidentApplication.objects.filter(municipality=_m(), state=ApplicationState.PENDING)
            .select_related("requested_by", "decided_by").order_by("requested_at", "pk")[:limit]
        )
        rec.targets = [r.atena_no for r in rows] or [""]
        rec.detail = f"pending applications={len(rows)}"
    return [_view(r) for r in rows]


def application(ctx: AccessContext, application_id: int) -> ApplicationView:
    """One application (申請の参照)."""
    with door(ctx, Operation.READ, resource=RESOURCE) as rec:
        a = NonResidentApplication.objects.select_related("requested_by", "decided_by").filter(
            pk=application_id, municipality=_m()).first()
        if a is None:
            raise InputRejected(f"住登外者の申請 {application_id} がありません。 / No application {application_id}.")
        rec.targets = [a.atena_no]
        return _view(a)
