from __future__ import annotations

from datetime import date

from yobo.schedule.api import DoseRecord, SeriesStatus, evaluate
from yobo.schedule.rules import Settings


def status(
    code: str, birth: date, as_of: date, sex: str = "M", history: list[DoseRecord] | None = None,
    settings: Settings | None = None,
) -> SeriesStatus | None:  # fmt: skip
    for s in evaluate(birth, sex, as_of, history or [], settings):
        if s.vaccine == code:
            return s
    return None


def dose(code: str, d: date, product: str | None = None) -> DoseRecord:
    return DoseRecord(code, d, product)
