"""Set-based reads of the resident register for batches of other apps (対象者抽出・発送).

Added by the notices helper (issue #6): extraction and print batches need birth dates of a whole
cohort, and names and addresses of a print batch's persons, in one query each rather than one
selector call per person. Both run inside the caller's door with one BATCH entry (counts in the
detail); the saved target list or print batch is the record of who was touched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.conf import settings

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation

from .models import Person, ResidentStatus
from .protection import protected_among

RESOURCE = "people.person"


@dataclass(frozen=True, slots=True)
class Resident:
    """A resident of a cohort: what extraction needs (no name). ``protected``: 支援措置 in force or
    a set request pending (the address is handled by the city itself downstream)."""

    atena_no: str
    birth_date: date
    sex: int
    address: str
    protected: bool = False


@dataclass(frozen=True, slots=True)
class Addressee:
    """What a letter or voucher needs: name, address, birth date. ``protected``: 支援措置 in force
    (or a set request pending); such letters are handled by the city itself."""

    atena_no: str
    name_kanji: str
    name_kana: str
    birth_date: date
    sex: int
    postal_code: str
    address: str
    address_extra: str
    phone: str
    household_no: str
    status: int
    protected: bool


def residents_born_between(ctx: AccessContext, born_from: date, born_until: date) -> list[Resident]:
    """Residents (住民区分 1: moved-out, deceased and removed persons excluded; persons under a
    suspension of use (利用停止) excluded too) born in the closed range, in 宛名番号 order. One indexed
    range query; one access-log entry for the batch."""
    from .selectors import all_suspended

    with door(ctx, Operation.BATCH, resource=RESOURCE) as rec:
        rows = list(
            Person.objects.filter(
                municipality=settings.MUNICIPALITY_CODE, status=ResidentStatus.RESIDENT,
                birth_date__gte=born_from, birth_date__lte=born_until,
            ).order_by("atena_no").values_list("atena_no", "birth_date", "sex", "address")
        )
        suspended = all_suspended()
        if suspended:
            rows = [r for r in rows if r[0] not in suspended]
        protected = _protected_in_city()
        rec.detail = f"cohort born {born_from}..{born_until} residents={len(rows)} suspended_excluded"
    return [Resident(*r, protected=r[0] in protected) for r in rows]


def _protected_in_city() -> set[str]:
    """Every protected 宛名番号 of the city (a small table): one query instead of IN lists."""
    from .models import ApplicationState, ProtectedPerson, ProtectionAction, ProtectionRequest

    m = settings.MUNICIPALITY_CODE
    out = set(ProtectedPerson.objects.filter(municipality=m).values_list("atena_no", flat=True))
    out |= set(ProtectionRequest.objects.filter(
        municipality=m, action=ProtectionAction.SET, state=ApplicationState.PENDING,
    ).values_list("atena_no", flat=True))
    return out


def addressees(ctx: AccessContext, atena_nos: Iterable[str]) -> dict[str, Addressee]:
    """Names and addresses of the given persons for printing (宛名・住所), any residence status
    (the caller decides), keyed by 宛名番号. Reads in chunks; one access-log entry for the batch."""
    wanted = sorted({str(a) for a in atena_nos})
    out: dict[str, Addressee] = {}
    fields = ("atena_no", "name_kanji", "name_kana", "birth_date", "sex", "postal_code", "address",
              "address_extra", "phone", "household_no", "status")
    with door(ctx, Operation.BATCH, resource=RESOURCE) as rec:
        m = settings.MUNICIPALITY_CODE
        protected: set[str] = set()
        for i in range(0, len(wanted), 900):
            chunk = wanted[i:i + 900]
            protected |= protected_among(chunk)
            for r in Person.objects.filter(municipality=m, atena_no__in=chunk).values_list(*fields):
                out[r[0]] = Addressee(**dict(zip(fields, r, strict=True)), protected=False)
        for a in protected & out.keys():
            out[a] = dataclasses.replace(out[a], protected=True)
        rec.detail = f"addressees={len(out)} protected={len(protected & out.keys())}"
    return out
