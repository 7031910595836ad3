"""A 住登外者 who moves in (住登外者の転入による切替・名寄せ). Purpose P03 (住登外者の登録).

A non-registered person registered here (宛名番号 from the 住登外者 range, their My Number in the
vault) who then moves in gets a second 宛名番号 from the resident register. The register import
refuses that row — one My Number on two 宛名番号 — and says the other is a 住登外者. Staff check
that they are the same person and *switch* the 住登外者 to the register's 宛名番号:

- one staff member requests it (``request``), a second confirms it (``confirm``; 二人確認), as for
  the registration itself;
- on confirmation the person keeps their row and internal id; their 宛名番号 becomes the register's,
  their source the register (``row_hash`` cleared, so the next import writes the register's items
  over the application's and records that in the history); the vault link moves with its
  integrated number and sealed number unchanged (``mynumber.services.relink``);
- every app's records of the person follow: each app registers its tables with :func:`follow`,
  and its own receiver rewrites them, through the door, in the same transaction. Nothing is left
  under the old 宛名番号 except what records a past fact under it: the access log, the
  application itself, the batch absence lists.

The next import then finds the register row's 宛名番号 with the same number already linked:
nothing conflicts. See docs/decisions/056.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.dispatch import Signal
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation
from yobo.mynumber import services as vault_services

from .models import ApplicationState, AtenaSwitch, ChangeKind, Person, PersonHistory, Source
from .nonresidents import ATENA_DIGITS, atena_prefix
from .two_staff import decide, locked_pending, require_second_staff

RESOURCE = "people.switch"

# Sent inside the confirming transaction: kwargs ``ctx``, ``municipality``, ``old``, ``new``. A
# receiver that fails rolls the whole switch back.
atena_switched = Signal()

# (model label, field) of every record that follows a switch (registered by ``follow``).
FOLLOWED: set[tuple[str, str]] = set()


def follow(resource: str, *fields: tuple[type[models.Model], str] | tuple[type[models.Model], str, str]) -> None:
    """Register records of an app that follow a person's switch: rows of each model whose ``field``
    holds the old 宛名番号 get the new one, written under the app's own resource name and logged
    through the door. Called by the owning app (its ``ready``), with its own models. A third item
    names the municipality's lookup when the model has no ``municipality`` of its own."""

    def receiver(sender: Any, *, ctx: AccessContext, municipality: str, old: str, new: str, **_: Any) -> None:
        with door(ctx, Operation.UPDATE, resource=resource, target=new) as rec:
            moved = 0
            for model, field, *where in fields:
                scope = {where[0] if where else "municipality": municipality, field: old}
                moved += model._default_manager.filter(**scope).update(**{field: new})
            rec.detail = f"宛名番号の切替 {old} → {new}: {moved}"

    for model, field, *_where in fields:
        FOLLOWED.add((model._meta.label, field))
    atena_switched.connect(receiver, weak=False, dispatch_uid=f"yobo.switch.{resource}")


def _m() -> str:
    return str(settings.MUNICIPALITY_CODE)


def _norm(value: str) -> str:
    return unicodedata.normalize("NFKC", str(value or "")).strip()


def _atena(value: str, what: str) -> str:
    a = _norm(value)
    if not (a.isascii() and a.isdigit() and len(a) <= 15):
        raise InputRejected(f"{what}は15桁以内の数字で入力してください。 / {what}: up to 15 digits.")
    return a


def _in_nonresident_range(a: str) -> bool:
    return len(a) == ATENA_DIGITS and a.startswith(atena_prefix())


def _checked(m: str, from_atena: str, to_atena: str) -> Person:
    """The 住登外者 to switch; refuses a target 宛名番号 that is taken or from the 住登外者 range."""
    person = Person.objects.filter(municipality=m, atena_no=from_atena).first()
    if person is None or person.source != Source.NON_REGISTERED:
        raise InputRejected(f"宛名番号 {from_atena} は住登外者ではありません。 / {from_atena} is not a 住登外者.")
    if _in_nonresident_range(to_atena):
        raise InputRejected(
            f"宛名番号 {to_atena} は住登外者の番号の範囲です。住民記録の宛名番号を入力してください。"
            f" / {to_atena} is in the 住登外者 range; enter the resident register's 宛名番号.")
    if Person.objects.filter(municipality=m, atena_no=to_atena).exists():
        raise InputRejected(
            f"宛名番号 {to_atena} の宛名が既にあります。切替先は住民記録の取込で断られた行の宛名番号です。"
            f" / 宛名番号 {to_atena} already exists; the target is the 宛名番号 of the refused register row.")
    return person


def request(ctx: AccessContext, from_atena: str, to_atena: str, note: str = "") -> int:
    """Request the switch of 住登外者 ``from_atena`` to the register's ``to_atena`` (切替の申請).
    ``note``: how the same person was established (no numbers). Returns the request id."""
    f, t = _atena(from_atena, "住登外者の宛名番号"), _atena(to_atena, "住民記録の宛名番号")
    with door(ctx, Operation.UPDATE, resource=RESOURCE, target=f, detail=f"request → {t}"):
        m = _m()
        _checked(m, f, t)
        if AtenaSwitch.objects.filter(municipality=m, from_atena=f, state=ApplicationState.PENDING).exists():
            raise InputRejected("この住登外者の切替は既に確認待ちです。 / A switch is already pending.")
        sw = AtenaSwitch.objects.create(municipality=m, from_atena=f, to_atena=t, note=note.strip()[:200],
                                        requested_by_id=ctx.staff_id, requested_at=timezone.now())
        return sw.pk


def _locked_pending(switch_id: int, rec: Any) -> AtenaSwitch:
    return locked_pending(AtenaSwitch, switch_id, "切替の申請", rec)


def confirm(ctx: AccessContext, switch_id: int) -> str:
    """Confirm a switch (二人確認) by a staff member other than the requester and carry it out:
    person, vault link and every app's records move to the register's 宛名番号. Returns it."""
    with door(ctx, Operation.UPDATE, resource=RESOURCE, detail="confirm") as rec:
        sw = _locked_pending(switch_id, rec)
        old, new, m = sw.from_atena, sw.to_atena, sw.municipality
        rec.targets = [old, new]
        require_second_staff(sw, ctx)
        if connection.vendor == "postgresql":
            # After any running register import (the import's own lock): it must not insert the
            # target 宛名番号 between the check below and the commit. SQLite has one writer anyway.
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"people.import.{m}"])
        person = _checked(m, old, new)
        vault_services.relink(ctx, old, new)
        now = timezone.now()
        Person.objects.filter(pk=person.pk).update(atena_no=new, source=Source.REGISTER, row_hash="",
                                                   updated_at=now)
        # The person's own records of this app, then every other app's (their receivers).
        atena_switched.send(sender=AtenaSwitch, ctx=ctx, municipality=m, old=old, new=new)
        PersonHistory.objects.create(
            municipality=m, atena_no=new, changed_by_id=ctx.staff_id, changed_at=now, kind=ChangeKind.UPDATED,
            changes={"atena_no": [old, new], "source": [Source.NON_REGISTERED.value, Source.REGISTER.value]},
            status=person.status, status_date=person.status_date, status_reason=person.status_reason,
            status_changed=False,
        )
        decide(sw, ApplicationState.CONFIRMED, ctx)
        return new


def withdraw(ctx: AccessContext, switch_id: int, note: str = "") -> None:
    """Withdraw or refuse a pending switch (取下げ・却下): nothing moves."""
    with door(ctx, Operation.UPDATE, resource=RESOURCE, detail="withdraw") as rec:
        sw = _locked_pending(switch_id, rec)
        decide(sw, ApplicationState.WITHDRAWN, ctx, note)


def replaced_by(ctx: AccessContext, atena_no: str) -> str | None:
    """The register's 宛名番号 that 住登外者 ``atena_no`` was switched to (a confirmed switch), or
    None; a logged READ. The person page, the REST API and FHIR (``Patient.link`` replaced-by) use it
    to send a caller who still holds the old 宛名番号 to the new one."""
    a = _norm(atena_no)
    with door(ctx, Operation.READ, resource=RESOURCE, target=a) as rec:
        new = (AtenaSwitch.objects.filter(municipality=_m(), from_atena=a, state=ApplicationState.CONFIRMED)
               .values_list("to_atena", flat=True).first())
        rec.detail = f"replaced by {new}" if new else "not switched"
    return new


def former_atenas(ctx: AccessContext, atena_no: str) -> list[str]:
    """The 住登外者 宛名番号 that were switched to ``atena_no`` (confirmed; none or one in practice);
    a logged READ. What was recorded under them — the access log above all — is the person's too
    (a disclosure request, for instance, must include it)."""
    a = _norm(atena_no)
    with door(ctx, Operation.READ, resource=RESOURCE, target=a) as rec:
        old = sorted(AtenaSwitch.objects.filter(municipality=_m(), to_atena=a, state=ApplicationState.CONFIRMED)
                     .values_list("from_atena", flat=True))
        rec.detail = f"formerly {', '.join(old)}" if old else "no former 宛名番号"
    return old


@dataclass(frozen=True, slots=True)
class SwitchView:
    """A switch request as staff see it (住登外者の切替)."""

    id: int
    from_atena: str
    to_atena: str
    name_kanji: str
    name_kana: str
    note: str
    requested_by: str
    requested_at: datetime


def pending(ctx: AccessContext, limit: int = 100) -> list[SwitchView]:
    """Switches waiting for the second staff member (確認待ち), oldest first; logged per person."""
    with door(ctx, Operation.SEARCH, resource=RESOURCE) as rec:
        m = _m()
        rows = list(AtenaSwitch.objects.filter(municipality=m, state=ApplicationState.PENDING)
                    .select_related("requested_by").order_by("requested_at", "pk")[:limit])
        names = {a: (k, n) for a, k, n in Person.objects.filter(
            municipality=m, atena_no__in=[r.from_atena for r in rows],
        ).values_list("atena_no", "name_kanji", "name_kana")}
        rec.targets = [r.from_atena for r in rows] or [""]
        rec.detail = f"pending switches={len(rows)}"
    return [SwitchView(r.pk, r.from_atena, r.to_atena, *names.get(r.from_atena, ("", "")), r.note,
                       r.requested_by.get_username(), r.requested_at) for r in rows]
