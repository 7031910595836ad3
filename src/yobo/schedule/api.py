"""Scalar entry points: one person, one date (the CLI and the staff screens use these).

They run the vectorised engine on a population of one, so they agree with the batch by construction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from yobo.schedule.ages import MAX_DATE, MIN_DATE, parse_iso
from yobo.schedule.engine import (
    NONE,
    REASONS,
    STATUS_NAMES,
    VALID,
    History,
    PopulationResult,
    ScheduleInputError,
    code_index,
    engine_for,
    product_index,
)
from yobo.schedule.rules import Settings, load_series


@dataclass(frozen=True)
class DoseRecord:
    """One dose given (接種履歴の1行)."""

    vaccine: str
    date: date
    product: str | None = None


@dataclass(frozen=True)
class DoseCheck:
    """How a recorded dose was counted for a series."""

    vaccine: str
    date: date
    series: str
    dose: int | None
    valid: bool
    reason: str
    message: str


@dataclass(frozen=True)
class SeriesStatus:
    """A person's state in one series on one date (CONTRACTS.md §2)."""

    vaccine: str
    dose: int
    status: str
    eligible_from: date
    eligible_until: date
    earliest: date
    valid_doses: int
    checks: tuple[DoseCheck, ...] = field(default=())

    def as_contract(self) -> dict[str, object]:
        return {
            "vaccine": self.vaccine,
            "dose": self.dose,
            "status": self.status,
            "eligible_from": self.eligible_from.isoformat(),
            "eligible_until": self.eligible_until.isoformat(),
        }


def parse_sex(text: str) -> int:
    """``M``/``1``/``男`` -> 1, ``F``/``2``/``女`` -> 2."""
    t = text.strip().upper()
    if t in ("M", "1", "男"):
        return 1
    if t in ("F", "2", "女"):
        return 2
    raise ScheduleInputError(f"性別が正しくありません: {text!r}（M または F） / sex must be M or F")


def _to_date(x: np.datetime64) -> date:
    return x.astype("datetime64[D]").item()  # type: ignore[no-any-return]


def evaluate(
    birth_date: date,
    sex: str | int,
    as_of: date,
    history: Sequence[DoseRecord] = (),
    settings: Settings | None = None,
    *,
    include_none: bool = False,
) -> list[SeriesStatus]:
    """Every series the person is, was or will be a target of, in CONTRACTS.md order."""
    sx = parse_sex(sex) if isinstance(sex, str) else int(sex)
    for rec in history:
        code_index(rec.vaccine)
        product_index(rec.product)
    hist = History.from_records((0, r.vaccine, r.date, r.product) for r in history)
    eng = engine_for(settings)
    res: PopulationResult = eng.evaluate_population(
        np.array([birth_date], "datetime64[D]"), np.array([sx], np.int8), hist, as_of
    )
    out: list[SeriesStatus] = []
    for code, sr in res.series.items():
        st = int(sr.status[0])
        if st == NONE and not include_none:
            continue
        checks = []
        for r, dn, why in zip(sr.rows, sr.row_dose, sr.row_reason, strict=True):
            rec = history[int(r)]
            ja, en = REASONS[int(why)]
            code_word = en.split(";")[0].replace(" ", "_") if why else "valid"
            checks.append(
                DoseCheck(rec.vaccine, rec.date, code, int(dn) or None, int(why) == VALID, code_word, f"{ja} / {en}")
            )
        ef, eu = sr.eligible_from[0], sr.eligible_until[0]
        out.append(
            SeriesStatus(
                vaccine=code,
                dose=int(sr.dose[0]),
                status=STATUS_NAMES[st],
                eligible_from=_to_date(ef) if ef != MAX_DATE else date.max,
                eligible_until=_to_date(eu) if eu != MIN_DATE else date.min,
                earliest=_to_date(sr.earliest[0]) if sr.earliest[0] != MAX_DATE else date.max,
                valid_doses=int(sr.valid_doses[0]),
                checks=tuple(checks),
            )
        )
    return out


def read_history(path: str | Path) -> list[DoseRecord]:
    """History CSV: header ``vaccine,date`` (optional ``product``); UTF-8 with or without BOM."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ScheduleInputError(
            f"接種履歴ファイルを読めません: {p} / cannot read history file ({exc.strerror})"
        ) from None
    except UnicodeDecodeError:
        raise ScheduleInputError(f"{p}: UTF-8 で保存してください / history file must be UTF-8") from None
    return parse_history_csv(text, name=str(p))


def parse_history_csv(text: str, name: str = "history") -> list[DoseRecord]:
    reader = csv.DictReader(io.StringIO(text))
    cols = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "vaccine" not in cols or "date" not in cols:
        raise ScheduleInputError(f"{name}: 見出し行に vaccine,date が必要です / header must have vaccine,date")
    out: list[DoseRecord] = []
    for line, row in enumerate(reader, start=2):
        r = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        try:
            code_index(r["vaccine"])
            product_index(r.get("product"))
        except ScheduleInputError as exc:
            raise ScheduleInputError(f"{name} {line}行目 vaccine列: {exc}") from None
        try:
            d = parse_iso(r["date"])
        except ValueError as exc:
            raise ScheduleInputError(f"{name} {line}行目 date列: {exc}") from None
        out.append(DoseRecord(r["vaccine"].upper(), d, r.get("product") or None))
    return out


def series_codes() -> Iterable[str]:
    return load_series().keys()
