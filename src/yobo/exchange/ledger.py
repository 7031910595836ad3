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
    """Active doses actually given (not 予診のみ) of every person, or of ``atena_nos``.

    A record without a dose number (接種回数 not reported) takes its place in date order among
    the person's doses of that vaccine, which is how the ledger counts them too."""
    from yobo.immunizations import selectors as imm

    rows: list[tuple[str, str, int | None, date]] = []
    if atena_nos is None:
        rows = [(a, v, n, d) for a, _pid, v, n, d, _p in imm.population_rows(ctx)]
    else:
        for a, doses in imm.doses_of(ctx, atena_nos).items():
            rows.extend((a, dv.vaccine, dv.dose_number, dv.date) for dv in doses if not dv.screening_only)
    rows.sort(key=lambda r: (r[0], r[1], r[3]))
    out: list[OriginalDose] = []
    seen: dict[tuple[str, str], int] = {}
    for a, v, n, d in rows:
        k = (a, v)
        seen[k] = seen.get(k, 0) + 1
        out.append(OriginalDose(a, v, int(n) if n else seen[k], d))
    if any(not isinstance(r.given_on, date) for r in out):
        raise InputRejected("接種日が日付ではありません。 / A dose date is not a date.")
    return out
