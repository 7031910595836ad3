"""Target extraction (対象者抽出) and recommendation lists (接種勧奨): set-based over the register.

How a run works (docs/decisions/110-notices.md):
1. the series' rules say which birth dates can be eligible on the as-of date (the engine evaluated
   on one synthetic person per birth date, for each product and sex: the *birth hull*);
2. one indexed range query reads the residents born in that hull (moved-out, deceased and removed
   persons are not residents; persons under a suspension of use are dropped when the register
   knows the flag);
3. their dose history is read in bulk and the schedule engine evaluates all of them at once;
4. those whose status is ``due`` on the as-of date (eligible and not complete) form the list, saved
   with its parameters, counts by age, area and dose, and the diff to the previous run.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources

import numpy as np
from django.conf import settings
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation
from yobo.people import population
from yobo.schedule.engine import DUE, Engine, History, ScheduleInputError, code_index
from yobo.schedule.rules import Settings, load_series

from .models import ListKind, TargetEntry, TargetList

RESOURCE = "notices.list"
OLDEST_RULES = date(1994, 10, 1)  # 予防接種法 1994 amendment: the oldest rules the engine models


class ExtractionRejected(InputRejected):
    """Unknown vaccine, as-of date outside the rules' range, malformed cohort: nothing saved."""


@dataclass(frozen=True, slots=True)
class ListSummary:
    list_id: int
    kind: str
    vaccine: str
    as_of: date
    count: int
    added: int
    removed: int
    previous_id: int | None
    counts: dict[str, dict[str, int]]


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def _fy_end(d: date) -> date:
    return date(d.year if d.month < 4 else d.year + 1, 3, 31)


def rules_range(vaccine: str, today: date | None = None) -> tuple[date, date]:
    """The as-of dates an extraction for ``vaccine`` may use: from the first day its rules took effect
    (not before 1994-10-01, the oldest rules modelled) to the end of the next fiscal year (the rules
    beyond are not known yet)."""
    series = load_series()[vaccine]
    froms = [w.effective_from or OLDEST_RULES for w in series.windows]
    lo = max(OLDEST_RULES, min(froms))
    untils = [w.effective_until for w in series.windows]
    horizon = _fy_end(_fy_end(today or timezone.localdate()) + timedelta(days=1))
    hi = horizon if any(u is None for u in untils) else min(horizon, max(u for u in untils if u))
    return lo, hi


def check_request(vaccine: str, as_of: date, today: date | None = None) -> str:
    """The normalised vaccine code, or ``ExtractionRejected`` (Japanese and English)."""
    try:
        code = list(load_series())[code_index(vaccine)]
    except ScheduleInputError as exc:
        raise ExtractionRejected(str(exc)) from None
    lo, hi = rules_range(code, today)
    if not lo <= as_of <= hi:
        raise ExtractionRejected(
            f"基準日 {as_of} は {code} の規則の範囲外です（{lo}〜{hi}）。"
            f" / as-of date {as_of} is outside the rules' range for {code} ({lo}..{hi})"
        )
    return code


@lru_cache(maxsize=64)
def _engine(vaccine: str, product: str | None = None) -> Engine:
    """An engine compiled for one series only (and, for the hull, one assumed product)."""
    s = Settings()
    if product:
        s = Settings(default_products={**s.default_products, vaccine: product})
    return Engine(s, codes=[vaccine])


@lru_cache(maxsize=64)
def birth_hull(vaccine: str, as_of: date, settings_key: tuple[object, ...] = ()) -> tuple[date, date] | None:
    """The closed range of birth dates for which ``vaccine`` can be due on ``as_of`` whatever the
    history: the engine on one synthetic person per day of birth (125 years), both sexes, each
    product as the assumed one; windows that need a dose in a period add their birth range."""
    series = load_series()[vaccine]
    a = np.datetime64(as_of, "D")
    births = np.arange(a - np.timedelta64(125 * 366, "D"), a + np.timedelta64(1, "D"), dtype="datetime64[D]")
    n = len(births)
    birth2 = np.concatenate([births, births])
    sex2 = np.concatenate([np.ones(n, np.int8), np.full(n, 2, np.int8)])
    hit = np.zeros(2 * n, bool)
    for product in series.products or (None,):
        res = _engine(vaccine, product).evaluate_population(birth2, sex2, None, as_of).series[vaccine]
        hit |= res.status == DUE
    lo: date | None = None
    hi: date | None = None
    if hit.any():
        sel = birth2[hit]
        lo, hi = sel.min().astype(date), sel.max().astype(date)
    for w in series.windows:
        if w.requires_dose_between and (w.effective_from or date.min) <= as_of <= (w.effective_until or date.max):
            blo, bhi = w.born_from or date(1900, 1, 1), w.born_until or as_of
            lo, hi = (blo, bhi) if lo is None or hi is None else (min(lo, blo), max(hi, bhi))
    if lo is None or hi is None:
        return None
    return lo, hi


def rules_digest() -> str:
    """Digest of the schedule data files: stored with a list so a re-run can tell whether the rules
    changed in between."""
    h = hashlib.sha256()
    root = resources.files("yobo.schedule.data")
    for name in sorted(p.name for p in root.iterdir() if p.name.endswith(".toml")):
        h.update(name.encode())
        h.update(root.joinpath(name).read_bytes())
    return h.hexdigest()[:16]


_AREA = re.compile(r"^(?:.{2,3}?[都道府県])?(?:.+?[市郡])?(.+?[区町村])")


def area_of(address: str) -> str:
    """The ward or town (区・町村) of an address, for counts by area (集計用)."""
    m = _AREA.match(address or "")
    return m.group(1)[:40] if m else ""


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def parse_cohort(text: str | None) -> tuple[date, date] | None:
    """``--cohort FROM:UNTIL`` (birth dates, inclusive; either side may be empty)."""
    if not text:
        return None
    try:
        a, b = text.split(":", 1) if ":" in text else (text, text)
        lo = date.fromisoformat(a) if a else date(1900, 1, 1)
        hi = date.fromisoformat(b) if b else date(9999, 12, 31)
    except ValueError:
        raise ExtractionRejected(
            f"--cohort は 生年月日の範囲 FROM:UNTIL (YYYY-MM-DD) で指定してください: {text!r}"
            " / --cohort is a birth-date range FROM:UNTIL"
        ) from None
    if lo > hi:
        raise ExtractionRejected("--cohort の開始が終了より後です / --cohort starts after it ends")
    return lo, hi


def history_rows(ctx: AccessContext, atena_nos: list[str],
                 codes: Iterable[str]) -> list[tuple[str, str, date, str | None]]:
    """Active doses (宛名番号, vaccine, date, schedule product or None) of these persons for these
    vaccine codes, read in bulk from the dose records (``yobo.immunizations``): one streamed query of the
    city's doses of those vaccines."""
    from yobo.immunizations import selectors as imm

    wanted = set(atena_nos)
    return [(a, v, d, sp or None) for a, _pid, v, _n, d, sp in imm.population_rows(ctx, vaccines=tuple(codes))
            if a in wanted]


@dataclass
class _Run:
    residents: list[population.Resident]
    status: np.ndarray
    dose: np.ndarray
    eligible_from: np.ndarray
    eligible_until: np.ndarray


def _evaluate(ctx: AccessContext, vaccine: str, as_of: date, cohort: tuple[date, date] | None) -> _Run | None:
    hull = birth_hull(vaccine, as_of, Settings().key())
    if hull is None:
        return None
    lo, hi = hull
    if cohort:
        lo, hi = max(lo, cohort[0]), min(hi, cohort[1])
        if lo > hi:
            return None
    residents = population.residents_born_between(ctx, lo, hi)
    if not residents:
        return None
    index = {r.atena_no: i for i, r in enumerate(residents)}
    series = load_series()[vaccine]
    codes = sorted({vaccine, *series.counted_by})
    rows = [r for r in history_rows(ctx, list(index), codes) if r[2] <= as_of]
    history = History.from_records((index[a], v, d, p) for a, v, d, p in rows if a in index)
    birth = np.array([r.birth_date for r in residents], "datetime64[D]")
    sex = np.array([r.sex for r in residents], np.int8)
    res = _engine(vaccine).evaluate_population(birth, sex, history, as_of).series[vaccine]
    return _Run(residents, res.status, res.dose, res.eligible_from, res.eligible_until)


def _save(ctx: AccessContext, kind: str, vaccine: str, as_of: date, params: dict[str, object],
          chosen: list[tuple[population.Resident, int, date, date]], protected: set[str]) -> ListSummary:
    m = _m()
    previous = (TargetList.objects.filter(municipality=m, kind=kind, vaccine=vaccine)
                .order_by("-created_at", "-id").first())
    tl = TargetList.objects.create(
        municipality=m, kind=kind, vaccine=vaccine, as_of=as_of, params=params, created_by_id=ctx.staff_id,
        created_at=timezone.now(), terminal=ctx.terminal, request_id=ctx.request_id, previous=previous,
    )
    entries = [
        TargetEntry(target_list=tl, atena_no=r.atena_no, dose=dose, status="due", eligible_from=ef,
                    eligible_until=eu, age=age_on(r.birth_date, as_of), area=area_of(r.address),
                    protected=r.atena_no in protected)
        for r, dose, ef, eu in chosen
    ]
    TargetEntry.objects.bulk_create(entries, batch_size=2000)
    counts = {
        "age": dict(sorted(Counter(str(e.age) for e in entries).items(), key=lambda kv: int(kv[0]))),
        "area": dict(sorted(Counter(e.area or "(不明)" for e in entries).items())),
        "dose": dict(sorted(Counter(str(e.dose) for e in entries).items())),
    }
    added = removed = 0
    if previous is not None:
        now = {e.atena_no for e in entries}
        before = set(TargetEntry.objects.filter(target_list=previous).values_list("atena_no", flat=True))
        added, removed = len(now - before), len(before - now)
    tl.count, tl.counts, tl.added, tl.removed = len(entries), counts, added, removed
    tl.save(update_fields=["count", "counts", "added", "removed"])
    return ListSummary(tl.pk, kind, vaccine, as_of, len(entries), added, removed,
                       previous.pk if previous else None, counts)


def extract_targets(ctx: AccessContext, vaccine: str, as_of: date, *, cohort: str | None = None,
                    today: date | None = None) -> ListSummary:
    """対象者抽出 (purpose N01): residents for whom ``vaccine`` is due on ``as_of``, saved as a list."""
    code = check_request(vaccine, as_of, today)
    coh = parse_cohort(cohort)
    with door(ctx, Operation.CREATE, resource=RESOURCE, detail=f"extract {code} as_of={as_of}") as rec:
        run = _evaluate(ctx, code, as_of, coh)
        chosen: list[tuple[population.Resident, int, date, date]] = []
        if run is not None:
            for i in np.flatnonzero(run.status == DUE):
                chosen.append((run.residents[i], int(run.dose[i]), run.eligible_from[i].astype(date),
                               run.eligible_until[i].astype(date)))
        params: dict[str, object] = {"cohort": cohort or "", "rules": rules_digest()}
        protected = {r.atena_no for r in (run.residents if run else []) if r.protected}
        summary = _save(ctx, ListKind.TARGETS, code, as_of, params, chosen, protected)
        rec.detail = f"extract {code} as_of={as_of} list={summary.list_id} count={summary.count}"
    return summary


def extract_reminders(ctx: AccessContext, vaccine: str, as_of: date, *, months: int = 3,
                      today: date | None = None) -> ListSummary:
    """接種勧奨 (purpose N03): residents for whom ``vaccine`` is due on ``as_of`` and whose eligibility
    ends within ``months`` months, not complete. The list shows when each was last reminded."""
    code = check_request(vaccine, as_of, today)
    if not 0 < months <= 60:
        raise ExtractionRejected("--months は 1〜60 です / --months must be 1..60")
    limit = np.datetime64(_add_months(as_of, months), "D")
    with door(ctx, Operation.CREATE, resource=RESOURCE, detail=f"remind {code} as_of={as_of}") as rec:
        run = _evaluate(ctx, code, as_of, None)
        chosen: list[tuple[population.Resident, int, date, date]] = []
        if run is not None:
            for i in np.flatnonzero((run.status == DUE) & (run.eligible_until <= limit)):
                chosen.append((run.residents[i], int(run.dose[i]), run.eligible_from[i].astype(date),
                               run.eligible_until[i].astype(date)))
        params: dict[str, object] = {"months": months, "rules": rules_digest()}
        protected = {r.atena_no for r in (run.residents if run else []) if r.protected}
        summary = _save(ctx, ListKind.REMINDERS, code, as_of, params, chosen, protected)
        rec.detail = f"remind {code} as_of={as_of} list={summary.list_id} count={summary.count}"
    return summary


def _add_months(d: date, months: int) -> date:
    import calendar

    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    m += 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))

