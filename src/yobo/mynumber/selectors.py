"""Reads from the My Number vault (個人番号の参照・検索). Every function takes an ``AccessContext``
and runs inside the audit door.

Only ``reveal`` returns a plaintext number, and only ``reveal`` and ``find_atena_by_number`` use one;
both need the My Number right (the door refuses and logs otherwise) and are logged with the
宛名番号 as target, never the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation

from . import crypto, vault
from .models import IdentityVerification, LinkStatus, MyNumberLink


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """What staff without the My Number right may know about a person's link (登録状況)."""

    atena_no: str
    registered: bool
    integrated_no: str | None = None
    deceased: bool = False
    deceased_on: date | None = None


def reveal(ctx: AccessContext, atena_no: str) -> str:
    """The person's My Number in plaintext (個人番号の表示). Needs the My Number right; logged."""
    a = vault.atena(atena_no)
    with door(ctx, Operation.REVEAL_MYNUMBER, resource=vault.RESOURCE, target=a):
        m = vault.municipality()
        row = (
            MyNumberLink.objects.filter(municipality=m, atena_no=a)
            .values_list("integrated_no", "ciphertext", "nonce", "key_id")
            .first()
        )
        if row is None:
            raise vault.NotRegistered(a)
        ino, ct, nonce, kid = row
        return crypto.Sealer(vault.ring()).open(m, ino, crypto.Sealed(bytes(ct), bytes(nonce), kid))


def find_atena_by_number(ctx: AccessContext, number: str) -> str | None:
    """The 宛名番号 linked to a My Number, or None (個人番号による検索). Needs the My Number right;
    logged with the found 宛名番号 as target (none when not found), never with the number."""
    with door(ctx, Operation.REVEAL_MYNUMBER, resource=vault.SEARCH_RESOURCE) as rec:
        n = vault.number(number)
        wanted = crypto.index_all(vault.ring(), n)
        found = (
            MyNumberLink.objects.filter(municipality=vault.municipality(), blind_index__in=wanted)
            .values_list("atena_no", flat=True)
            .first()
        )
        rec.detail = "search_by_number " + ("hit" if found else "miss")
        if found:
            rec.targets = [found]
        return found


def status(ctx: AccessContext, atena_no: str) -> LinkInfo:
    """Whether a My Number is registered for the person, with the integrated number and the deceased
    flag; no digit of the My Number (any staff whose purpose allows a read)."""
    a = vault.atena(atena_no)
    with door(ctx, Operation.READ, resource=vault.RESOURCE, target=a):
        row = (
            MyNumberLink.objects.filter(municipality=vault.municipality(), atena_no=a)
            .values_list("integrated_no", "status", "deceased_on")
            .first()
        )
    if row is None:
        return LinkInfo(a, registered=False)
    return LinkInfo(a, True, row[0], row[1] == LinkStatus.DECEASED, row[2])


def integrated_no_for(ctx: AccessContext, atena_no: str) -> str | None:
    """The integrated address number (団体内統合宛名番号) of a person, or None when none is assigned."""
    return status(ctx, atena_no).integrated_no


@dataclass(frozen=True, slots=True)
class VerificationInfo:
    """A verification record as shown to staff (番号確認・本人確認記録)."""

    id: int
    atena_no: str
    number_check: str
    identity_documents: tuple[str, ...]
    agent_kind: str
    power_of_attorney_seen: bool
    representation_document_seen: bool
    verified_by: str
    verified_at: object
    confirmed_by: str | None
    confirmed_at: object


def verifications_for(ctx: AccessContext, atena_no: str) -> list[VerificationInfo]:
    """The verification records of a person, newest first."""
    a = vault.atena(atena_no)
    with door(ctx, Operation.READ, resource=vault.VERIFICATION_RESOURCE, target=a):
        rows = (
            IdentityVerification.objects.filter(municipality=vault.municipality(), atena_no=a)
            .select_related("verified_by", "confirmed_by")
            .order_by("-verified_at", "-pk")
        )
        return [
            VerificationInfo(
                v.pk, v.atena_no, v.number_check, tuple(v.identity_documents), v.agent_kind,
                v.power_of_attorney_seen, v.representation_document_seen,
                v.verified_by.get_username(), v.verified_at,
                v.confirmed_by.get_username() if v.confirmed_by else None, v.confirmed_at,
            )
            for v in rows
        ]
