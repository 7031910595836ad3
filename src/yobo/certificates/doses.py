"""The dose history a certificate certifies, read through ``immunizations.selectors`` (same context,
so the read is logged under C01 with the 宛名番号).

A certificate states the doses given: active records (not superseded or voided), actual vaccinations
(not 予診のみ), dated today or earlier, in date order — whatever the schedule made of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from yobo.core.context import AccessContext
from yobo.immunizations import selectors as imm


@dataclass(frozen=True, slots=True)
class CertDose:
    id: int
    vaccine: str
    date: date
    lot: str
    manufacturer: str
    venue: str


def certifiable_doses(ctx: AccessContext, atena_no: str) -> list[CertDose]:
    today = timezone.localdate()
    rows = imm.doses_of(ctx, [atena_no]).get(str(atena_no).strip(), [])
    return [CertDose(d.id, d.vaccine, d.date, d.lot_number, d.manufacturer, d.venue) for d in rows
            if not d.screening_only and d.date <= today]


def atenas_by_voucher(ctx: AccessContext, voucher_no: str) -> list[str]:
    """The persons whose dose records carry this voucher number (券番号); usually one."""
    return sorted({d.atena_no for d in imm.find_by_voucher(ctx, voucher_no)})
