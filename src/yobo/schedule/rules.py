"""The schedule as data: one TOML file per series under ``schedule/data/``, loaded and checked once.

Each rule carries its legal source (予防接種法施行令 for who is a target, 予防接種実施規則 for doses and
intervals, 定期接種実施要領 for the standard ages) and an effective-date range, so a past date is judged
by the rules then in force.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

from yobo.schedule.ages import Span

WINDOW_KINDS = ("age", "fy_age", "fy_cohort")
READINGS = ("age_on_day", "fiscal_year_cohort")


class RuleError(ValueError):
    """A schedule data file is malformed (a programming error, caught by the tests)."""


@dataclass(frozen=True)
class Window:
    """One legal eligibility window (定期接種の対象者) of a series.

    kind ``age``: from the day ``from_age`` is attained to the day ``until_age`` is attained (inclusive);
    kind ``fy_age``: from the first day of the fiscal year in which ``from_age`` is attained to the last
    day of the fiscal year in which ``until_age`` is attained; kind ``fy_cohort``: the whole fiscal year
    for those who attain one of ``cohort_ages`` in it (or ``cohort_min_age`` or more by its end).
    """

    id: str
    kind: str
    source: str
    from_age: Span | None = None
    until_age: Span | None = None
    cohort_ages: tuple[int, ...] = ()
    cohort_min_age: int | None = None
    effective_from: date | None = None
    effective_until: date | None = None
    born_from: date | None = None
    born_until: date | None = None
    product: str | None = None
    requires_dose_between: tuple[date, date] | None = None
    reading: str | None = None  # "aged_65": the city may read "65歳の者" as a fiscal-year cohort
    standard: str = ""
    note: str = ""


@dataclass(frozen=True)
class Dose:
    """One dose of a plan (予防接種実施規則): minimum age and intervals, an optional hard maximum age."""

    number: int
    kind: str  # 初回 / 追加 / 1回
    intervals: tuple[tuple[int, Span], ...] = ()  # (from dose number, 0 = the previous valid dose; span)
    min_age: Span | None = None
    max_age: Span | None = None
    skip_after: Span | None = None  # "…に至るまでに行い、それを超えた場合は行わない"
    standard: str = ""


@dataclass(frozen=True)
class Plan:
    """A dose plan chosen by the product and the age at the first dose (接種開始年齢)."""

    id: str
    source: str
    doses: tuple[Dose, ...]
    product: str = "*"
    start_from: Span | None = None  # None: the age-only start of the series' windows
    start_before: Span | None = None
    effective_from: date | None = None
    effective_until: date | None = None
    route: str = ""
    standard: str = ""


@dataclass(frozen=True)
class Series:
    """A routine-vaccination series (定期接種の種類) with its windows and plans."""

    code: str
    name_ja: str
    name_en: str
    category: str  # A類 / B類
    sex: str  # "any" or "F"
    counted_by: tuple[str, ...]
    repeat: str  # "none" or "fiscal_year" (B類 seasonal: one dose per fiscal year)
    products: tuple[str, ...]
    windows: tuple[Window, ...]
    plans: tuple[Plan, ...]
    notes: tuple[str, ...] = ()
    file: str = ""

    @property
    def max_doses(self) -> int:
        return max(len(p.doses) for p in self.plans)


@dataclass(frozen=True)
class Settings:
    """Per-city choices where the law leaves one (legal reading is the default).

    ``aged_65_reading``: "65歳の者" (PPSV-B, HZ-B) read as the age on the day (``age_on_day``, the
    Enforcement Order's wording) or as everyone who turns 65 in the fiscal year (``fiscal_year_cohort``).
    ``season``: for FLU-B/COVID-B, the city's season as ((month, day), (month, day)) inside the fiscal
    year; None means the whole fiscal year (the Enforcement Regulations say only "毎年度1回").
    ``default_products``: the product assumed for a series when the history does not name one.
    """

    aged_65_reading: str = "age_on_day"
    season: tuple[tuple[int, int], tuple[int, int]] | None = None
    default_products: dict[str, str] = field(
        default_factory=lambda: {"ROTA": "RV1", "HPV": "9vHPV", "HZ-B": "RZV", "PCV": "PCV20"}
    )

    def __post_init__(self) -> None:
        if self.aged_65_reading not in READINGS:
            raise ValueError(f"aged_65_reading must be one of {READINGS}")

    def key(self) -> tuple[Any, ...]:
        return (self.aged_65_reading, self.season, tuple(sorted(self.default_products.items())))


def _d(v: Any) -> date | None:
    if v is None or v == "":
        return None
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v))


def _s(v: Any) -> Span | None:
    return None if v is None or v == "" else Span.parse(str(v))


def _window(raw: dict[str, Any], where: str) -> Window:
    kind = raw.get("kind", "age")
    if kind not in WINDOW_KINDS:
        raise RuleError(f"{where}: unknown window kind {kind!r}")
    if "source" not in raw:
        raise RuleError(f"{where}: every window cites its source")
    rdb = raw.get("requires_dose_between")
    between: tuple[date, date] | None = None
    if rdb:
        lo, hi = _d(rdb[0]), _d(rdb[1])
        if lo is None or hi is None:
            raise RuleError(f"{where}: requires_dose_between needs two dates")
        between = (lo, hi)
    w = Window(
        id=raw.get("id", kind),
        kind=kind,
        source=raw["source"],
        from_age=_s(raw.get("from_age")),
        until_age=_s(raw.get("until_age")),
        cohort_ages=tuple(int(a) for a in raw.get("cohort_ages", ())),
        cohort_min_age=raw.get("cohort_min_age"),
        effective_from=_d(raw.get("effective_from")),
        effective_until=_d(raw.get("effective_until")),
        born_from=_d(raw.get("born_from")),
        born_until=_d(raw.get("born_until")),
        product=raw.get("product"),
        requires_dose_between=between,
        reading=raw.get("reading"),
        standard=raw.get("standard", ""),
        note=raw.get("note", ""),
    )
    if kind in ("age", "fy_age") and w.from_age is None:
        raise RuleError(f"{where}: window {w.id} needs from_age")
    if kind == "fy_cohort" and not (w.cohort_ages or w.cohort_min_age):
        raise RuleError(f"{where}: window {w.id} needs cohort_ages or cohort_min_age")
    return w


def _plan(raw: dict[str, Any], where: str) -> Plan:
    if "source" not in raw:
        raise RuleError(f"{where}: every plan cites its source")
    doses = []
    for i, d in enumerate(raw["doses"], start=1):
        intervals = []
        for iv in d.get("intervals", []):
            if isinstance(iv, str):
                intervals.append((0, Span.parse(iv)))
            else:
                intervals.append((int(iv[0]), Span.parse(iv[1])))
        doses.append(
            Dose(
                number=i,
                kind=d.get("kind", ""),
                intervals=tuple(intervals),
                min_age=_s(d.get("min_age")),
                max_age=_s(d.get("max_age")),
                skip_after=_s(d.get("skip_after")),
                standard=d.get("standard", ""),
            )
        )
    start = raw.get("start_from", "window")
    return Plan(
        id=raw["id"],
        source=raw["source"],
        doses=tuple(doses),
        product=raw.get("product", "*"),
        start_from=None if start == "window" else Span.parse(start),
        start_before=_s(raw.get("start_before")),
        effective_from=_d(raw.get("effective_from")),
        effective_until=_d(raw.get("effective_until")),
        route=raw.get("route", ""),
        standard=raw.get("standard", ""),
    )


def parse_series(raw: dict[str, Any], file: str = "") -> Series:
    where = file or raw.get("code", "?")
    for key in ("code", "name_ja", "name_en", "category", "windows", "plans"):
        if key not in raw:
            raise RuleError(f"{where}: missing {key}")
    s = Series(
        code=raw["code"],
        name_ja=raw["name_ja"],
        name_en=raw["name_en"],
        category=raw["category"],
        sex=raw.get("sex", "any"),
        counted_by=tuple(raw.get("counted_by", [raw["code"]])),
        repeat=raw.get("repeat", "none"),
        products=tuple(raw.get("products", [])),
        windows=tuple(_window(w, where) for w in raw["windows"]),
        plans=tuple(_plan(p, where) for p in raw["plans"]),
        notes=tuple(raw.get("notes", [])),
        file=file,
    )
    if s.sex not in ("any", "F", "M"):
        raise RuleError(f"{where}: sex must be any, F or M")
    if s.repeat not in ("none", "fiscal_year"):
        raise RuleError(f"{where}: repeat must be none or fiscal_year")
    for p in s.plans:
        if p.product != "*" and p.product not in s.products:
            raise RuleError(f"{where}: plan {p.id} names unknown product {p.product}")
    return s


@lru_cache(maxsize=1)
def load_series() -> dict[str, Series]:
    """All series keyed by code, in the order of CONTRACTS.md §2."""
    out: dict[str, Series] = {}
    pkg = resources.files("yobo.schedule") / "data"
    for entry in sorted(pkg.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        s = parse_series(tomllib.loads(entry.read_text(encoding="utf-8")), entry.name)
        if s.code in out:
            raise RuleError(f"{entry.name}: duplicate code {s.code}")
        out[s.code] = s
    ordered = {c: out[c] for c in CODES if c in out}
    ordered.update({c: s for c, s in out.items() if c not in ordered})
    for s in ordered.values():
        for c in s.counted_by:
            if c not in ordered:
                raise RuleError(f"{s.file}: counted_by names unknown code {c}")
    return ordered


CODES = (
    "HIB", "PCV", "HEPB", "ROTA", "DPT-IPV-HIB", "DPT-IPV", "BCG", "MR1", "MR2", "VAR",
    "JE1", "JE2", "DT", "HPV", "FLU-B", "PPSV-B", "COVID-B", "HZ-B",
)  # fmt: skip
