"""The original (原本) the copy is made from: the dose records of ``yobo.immunizations``, read
through its selectors, cut down to what the copy may hold (date, vaccine, dose)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected


@dataclass(frozen=True, slots=True)
class OriginalDose:
    """One dose given, as far as the exchange may know it."""

    atena_no: str
    vaccine: str
    dose: int
    given_on: date


def original_doses(ctx: AccessContext, atena_nos: list[str] | None) -> list[OriginalDose]:
    """Active doses actually given (not 予診のみ, with a dose number) of every person, or of ``atena_nos``."""
    try:
        from yobo.immunizations import selectors as imm
    except ImportError:
        raise InputRejected("接種記録がまだ利用できません。 / Dose records are not available yet.") from None
    reader = getattr(imm, "doses_for_exchange", None)
    if reader is None:
        raise InputRejected("接種記録がまだ利用できません。 / Dose records are not available yet.")
    return [OriginalDose(str(a), str(v), int(n), d) for a, v, n, d in reader(ctx, atena_nos)]
