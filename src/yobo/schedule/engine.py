"""The evaluation engine: vectorised over a population, one date at a time.

``Engine(settings)`` compiles the rules once; ``Engine.evaluate_population(birth, sex, history, as_of)``
returns, per series, numpy arrays of status, next dose, eligibility window and earliest next date for
every person. The scalar :func:`yobo.schedule.api.evaluate` is this same code on a population of one,
so the CLI and the batch can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from yobo.core.errors import InputRejected
from yobo.schedule.ages import (
    MAX_DATE,
    MIN_DATE,
    Span,
    np_after_interval,
    np_attain,
    np_civil,
    np_fiscal_year,
    np_fy_end,
    np_fy_start,
)
from yobo.schedule.rules import Plan, Series, Settings, Window, load_series

NONE, UPCOMING, DUE, COMPLETE, EXPIRED = 0, 1, 2, 3, 4
STATUS_NAMES = {NONE: "none", UPCOMING: "upcoming", DUE: "due", COMPLETE: "complete", EXPIRED: "expired"}

VALID, TOO_YOUNG, TOO_SOON, TOO_OLD, EXTRA = 0, 1, 2, 3, 4
REASONS = {
    VALID: ("有効", "valid"),
    TOO_YOUNG: ("接種可能な年齢（月齢）に達する前の接種のため数えません", "given before the minimum age; not counted"),
    TOO_SOON: (
        "前回接種からの間隔が不足しているため数えません",
        "interval since the previous dose too short; not counted",
    ),
    TOO_OLD: ("この回の接種の上限年齢（月齢）を超えているため数えません", "given after the maximum age for this dose"),
    EXTRA: ("必要な回数を超えた接種のため数えません", "more doses than the schedule needs; not counted"),
}


_Date = date  # History has a field named "date"


class ScheduleInputError(InputRejected):
    """Bad input to the schedule (unknown code, impossible date, dose before birth): exit 2."""


def _d64(d: date) -> np.datetime64:
    return np.datetime64(d, "D")


def _all_codes() -> tuple[str, ...]:
    return tuple(load_series())


def _all_products() -> tuple[str, ...]:
    out: list[str] = []
    for s in load_series().values():
        out.extend(p for p in s.products if p not in out)
    return tuple(out)


CODE_INDEX = {c: i for i, c in enumerate(_all_codes())}
PRODUCT_INDEX = {p: i for i, p in enumerate(_all_products())}
PRODUCT_ALIASES = {
    "1価": "RV1", "ロタリックス": "RV1", "5価": "RV5", "ロタテック": "RV5",
    "2価": "2vHPV", "サーバリックス": "2vHPV", "4価": "4vHPV", "ガーダシル": "4vHPV",
    "9価": "9vHPV", "シルガード9": "9vHPV",
    "生": "LZV", "生ワクチン": "LZV", "組換え": "RZV", "シングリックス": "RZV",
}  # fmt: skip


def code_index(code: str) -> int:
    try:
        return CODE_INDEX[code.strip().upper()]
    except KeyError:
        raise ScheduleInputError(
            f"ワクチンコードが不明です: {code!r}。使えるコード: {', '.join(CODE_INDEX)} / unknown vaccine code"
        ) from None


def product_index(product: str | None) -> int:
    if product is None or not product.strip():
        return -1
    p = PRODUCT_ALIASES.get(product.strip(), product.strip())
    try:
        return PRODUCT_INDEX[p]
    except KeyError:
        raise ScheduleInputError(
            f"製剤名が不明です: {product!r}。使える値: {', '.join(PRODUCT_INDEX)} / unknown product"
        ) from None


@dataclass
class History:
    """Dose records of a population as parallel arrays (one row per dose given, 接種履歴).

    ``person`` indexes the population arrays; ``code`` holds :data:`CODE_INDEX` values; ``product``
    holds :data:`PRODUCT_INDEX` values or -1 when the record names none.
    """

    person: np.ndarray
    code: np.ndarray
    date: np.ndarray
    product: np.ndarray

    @classmethod
    def empty(cls) -> History:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int16), np.zeros(0, "datetime64[D]"), np.zeros(0, np.int16))

    @classmethod
    def from_records(cls, records: Iterable[tuple[int, str, _Date, str | None]]) -> History:
        """Rows of (person index, vaccine code, date, product or None). Codes are checked here."""
        rows = list(records)
        if not rows:
            return cls.empty()
        return cls(
            person=np.array([r[0] for r in rows], np.int64),
            code=np.array([code_index(r[1]) for r in rows], np.int16),
            date=np.array([r[2] for r in rows], "datetime64[D]"),
            product=np.array([product_index(r[3]) for r in rows], np.int16),
        )

    def __len__(self) -> int:
        return len(self.person)


@dataclass
class SeriesResult:
    """Per-person arrays for one series. Dates are ``datetime64[D]``; NaT-free (see MIN/MAX_DATE)."""

    status: np.ndarray  # int8, one of NONE/UPCOMING/DUE/COMPLETE/EXPIRED
    dose: np.ndarray  # int16: next dose number (for complete: the last dose of the plan)
    eligible_from: np.ndarray
    eligible_until: np.ndarray
    earliest: np.ndarray  # earliest date for the next dose (intervals and minimum ages applied)
    valid_doses: np.ndarray  # int16
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # history rows counted here
    row_dose: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))  # dose number if valid
    row_reason: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))


@dataclass
class PopulationResult:
    as_of: date
    series: dict[str, SeriesResult]


@dataclass(frozen=True)
class _Win:
    kind: str  # age | fy_age | fy_age_cohort | fy_min
    source: Window
    from_age: Span | None
    until_age: Span | None
    cohort_age: int | None = None
    eff_from: np.datetime64 = MIN_DATE
    eff_until: np.datetime64 = MAX_DATE


def _compile_windows(series: Series, settings: Settings) -> list[_Win]:
    out: list[_Win] = []
    for w in series.windows:
        ef = _d64(w.effective_from) if w.effective_from else MIN_DATE
        eu = _d64(w.effective_until) if w.effective_until else MAX_DATE
        if w.reading == "aged_65" and settings.aged_65_reading == "fiscal_year_cohort" and w.from_age:
            out.append(_Win("fy_age", w, w.from_age, w.from_age, None, ef, eu))
        elif w.kind == "fy_cohort":
            out.extend(
                _Win("fy_age", w, Span(a * 12, 0, f"{a}y"), Span(a * 12, 0, f"{a}y"), a, ef, eu) for a in w.cohort_ages
            )
            if w.cohort_min_age is not None:
                out.append(
                    _Win("fy_min", w, Span(w.cohort_min_age * 12, 0, f"{w.cohort_min_age}y"), None, None, ef, eu)
                )
        else:
            out.append(_Win(w.kind, w, w.from_age, w.until_age, None, ef, eu))
    return out


class _Memo:
    """Attainment dates of the whole population, computed once per span and shared by all series."""

    def __init__(self, birth: np.ndarray) -> None:
        self.birth = birth
        self.ymd = np_civil(birth)
        self.cache: dict[tuple[str, int, int], np.ndarray] = {}

    def attain(self, span: Span) -> np.ndarray:
        key = ("a", span.months, span.days)
        if key not in self.cache:
            self.cache[key] = np_attain(self.birth, span, self.ymd)
        return self.cache[key]

    def fy_of(self, span: Span, end: bool) -> np.ndarray:
        key = ("e" if end else "s", span.months, span.days)
        if key not in self.cache:
            fy = np_fiscal_year(self.attain(span))
            self.cache[key] = np_fy_end(fy) if end else np_fy_start(fy)
        return self.cache[key]


def _window_bounds(cw: _Win, memo: _Memo, *, clip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    if cw.from_age is None:  # rejected by the loader; kept for the type checker
        raise ValueError(f"window {cw.source.id} has no from_age")
    birth = memo.birth
    if cw.kind == "age":
        f = memo.attain(cw.from_age)
        u = memo.attain(cw.until_age) if cw.until_age else np.full(birth.shape, MAX_DATE)
    elif cw.kind == "fy_age":
        f = memo.fy_of(cw.from_age, end=False)
        u = memo.fy_of(cw.until_age or cw.from_age, end=True)
    else:  # fy_min: the fiscal year(s) of the effective range, for those at least that old by the year's end
        eff_fy_end = np_fy_end(np_fiscal_year(np.array([cw.eff_from]))[0])
        ok = memo.attain(cw.from_age) <= eff_fy_end
        f = np.where(ok, cw.eff_from, MAX_DATE)
        u = np.where(ok, cw.eff_until, MIN_DATE)
    w = cw.source
    if w.born_from or w.born_until:
        lo = _d64(w.born_from) if w.born_from else MIN_DATE
        hi = _d64(w.born_until) if w.born_until else MAX_DATE
        inside = (birth >= lo) & (birth <= hi)
        f = np.where(inside, f, MAX_DATE)
        u = np.where(inside, u, MIN_DATE)
    if clip:
        f = np.maximum(f, cw.eff_from)
        u = np.minimum(u, cw.eff_until)
    return f, u


def _select_window(fs: list[np.ndarray], us: list[np.ndarray], as_of: np.datetime64) -> tuple[np.ndarray, np.ndarray]:
    """Per person, the merged window containing ``as_of``, else the next one, else the last one."""
    n = len(fs[0])
    big, small = MAX_DATE.view(np.int64), MIN_DATE.view(np.int64)
    pairs = [(f.view(np.int64), u.view(np.int64)) for f, u in zip(fs, us, strict=True)]
    pairs = [(f, u) for f, u in pairs if (f <= u).any()]  # windows nobody is in cost nothing
    if not pairs:
        return np.full(n, MAX_DATE), np.full(n, MIN_DATE)
    if len(pairs) == 1:
        return pairs[0][0].view("datetime64[D]"), pairs[0][1].view("datetime64[D]")
    a = np.int64(as_of.view(np.int64))
    anyone = np.zeros(n, bool)
    for f0, u0 in pairs:
        anyone |= f0 <= u0
    who = np.nonzero(anyone)[0]  # only people inside some window need the choice
    F = np.stack([p[0][who] for p in pairs])
    U = np.stack([p[1][who] for p in pairs])
    valid = F <= U
    contain = valid & (a >= F) & (a <= U)
    has_contain = contain.any(axis=0)
    fut = np.where(valid & (a < F), F, big)
    has_fut = (fut < big).any(axis=0)
    past = np.where(valid, U, small)
    k = np.where(has_contain, contain.argmax(axis=0), np.where(has_fut, fut.argmin(axis=0), past.argmax(axis=0)))
    cols = np.arange(len(who))
    f = F[k, cols]
    u = U[k, cols]
    for _ in range(len(pairs) - 1):  # merge windows that overlap or touch the chosen one
        m = valid & (u + 1 >= F) & (f <= U + 1)
        nf = np.minimum(f, np.where(m, F, big).min(axis=0))
        nu = np.maximum(u, np.where(m, U, small).max(axis=0))
        if np.array_equal(nf, f) and np.array_equal(nu, u):
            break
        f, u = nf, nu
    out_f = np.full(n, big)
    out_u = np.full(n, small)
    out_f[who] = f
    out_u[who] = u
    return out_f.view("datetime64[D]"), out_u.view("datetime64[D]")


def _season(settings: Settings, fy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if settings.season is None:
        return np_fy_start(fy), np_fy_end(fy)
    (sm, sd), (em, ed) = settings.season

    def at(m: int, d: int) -> np.ndarray:
        year = np.asarray(fy, np.int64) + (1 if m < 4 else 0)
        ym = (year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + np.timedelta64(m - 1, "M")
        return ym.astype("datetime64[D]") + np.timedelta64(d - 1, "D")

    return at(sm, sd), at(em, ed)


class _Compiled:
    def __init__(self, series: Series, settings: Settings) -> None:
        self.series = series
        self.windows = _compile_windows(series, settings)
        self.plans: list[Plan] = list(series.plans)
        self.n_doses = np.array([len(p.doses) for p in self.plans], np.int16)
        self.counted = np.zeros(len(CODE_INDEX), bool)
        for c in series.counted_by:
            self.counted[CODE_INDEX[c]] = True
        default = settings.default_products.get(series.code)
        self.default_product = PRODUCT_INDEX[default] if default and default in series.products else -1
        if series.products and self.default_product < 0:
            self.default_product = PRODUCT_INDEX[series.products[0]]
        self.allowed_products = {PRODUCT_INDEX[p] for p in series.products}
        self.plan_product = [PRODUCT_INDEX[p.product] if p.product != "*" else -1 for p in self.plans]


class Engine:
    """Compiled rules for one city's settings; evaluate a population for one date."""

    def __init__(self, settings: Settings | None = None, codes: Sequence[str] | None = None) -> None:
        self.settings = settings or Settings()
        all_series = load_series()
        chosen = list(codes) if codes else list(all_series)
        for c in chosen:
            code_index(c)
        self.compiled = {c: _Compiled(all_series[c], self.settings) for c in chosen}

    # -- input checks -----------------------------------------------------------------------------
    @staticmethod
    def _check(birth: np.ndarray, history: History, as_of: np.datetime64) -> None:
        if len(birth) and birth.max() > as_of:
            i = int(np.argmax(birth > as_of))
            raise ScheduleInputError(
                f"生年月日が基準日より後です（{i + 1}人目: {birth[i]}）。生年月日と基準日を確認してください。"
                f" / birth date after the as-of date (person {i + 1})"
            )
        if not len(history):
            return
        if history.person.min() < 0 or history.person.max() >= len(birth):
            raise ScheduleInputError("接種履歴の対象者番号が範囲外です / history row refers to an unknown person")
        bad = history.date < birth[history.person]
        if bad.any():
            i = int(np.argmax(bad))
            raise ScheduleInputError(
                f"接種日が生年月日より前です（履歴{i + 1}行目: {history.date[i]}）。接種日を確認してください。"
                f" / dose dated before birth (history row {i + 1})"
            )
        bad = history.date > as_of
        if bad.any():
            i = int(np.argmax(bad))
            raise ScheduleInputError(
                f"接種日が基準日より後です（履歴{i + 1}行目: {history.date[i]}）。接種日を確認してください。"
                f" / dose dated after the as-of date (history row {i + 1})"
            )

    # -- targets on a date (public) ------------------------------------------------------------------
    def in_window(self, code: str, birth: np.ndarray, sex: np.ndarray, on: np.ndarray) -> np.ndarray:
        """定期接種の対象期間: per person, whether the date ``on`` lies in one of the legal windows of
        series ``code`` for that person (age or fiscal-year bounds, birth cohort, sex, the window's
        effective dates), regardless of doses already given.

        A window that opens only for a given product or after a dose given in a date range cannot
        be judged without the history: it counts from its start on (use :meth:`evaluate_population`
        for the full answer). ``birth``, ``on``: datetime64[D] arrays; ``sex``: 1 male, 2 female.
        Raises ``ScheduleInputError`` for an unknown code or a code this engine was not built for."""
        code_index(code)
        comp = self.compiled.get(code.strip().upper())
        if comp is None:
            raise ScheduleInputError(f"この計算器に {code} の規則がありません / series {code} not compiled")
        birth = np.asarray(birth, "datetime64[D]")
        on = np.asarray(on, "datetime64[D]")
        memo = _Memo(birth)
        inside = np.zeros(len(birth), bool)
        for cw in comp.windows:
            f, u = _window_bounds(cw, memo)
            if cw.source.product or cw.source.requires_dose_between:
                inside |= (f <= u) & (on >= f)
            else:
                inside |= (on >= f) & (on <= u)
        if comp.series.sex != "any":
            inside &= np.asarray(sex, np.int8) == (2 if comp.series.sex == "F" else 1)
        return inside

    # -- main entry -------------------------------------------------------------------------------
    def evaluate_population(
        self,
        birth: np.ndarray,
        sex: np.ndarray,
        history: History | None,
        as_of: date,
    ) -> PopulationResult:
        """Evaluate every person for ``as_of``. ``birth``: datetime64[D]; ``sex``: 1 male, 2 female."""
        birth = np.asarray(birth, "datetime64[D]")
        sex = np.asarray(sex, np.int8)
        history = history if history is not None else History.empty()
        a = _d64(as_of)
        self._check(birth, history, a)
        order = np.lexsort((history.date, history.person)) if len(history) else np.zeros(0, np.int64)
        memo = _Memo(birth)
        out = {code: self._series(comp, memo, sex, history, order, a) for code, comp in self.compiled.items()}
        return PopulationResult(as_of=as_of, series=out)

    def _series(
        self, comp: _Compiled, memo: _Memo, sex: np.ndarray, history: History, order: np.ndarray, a: np.datetime64
    ) -> SeriesResult:
        s = comp.series
        birth = memo.birth
        n = len(birth)
        repeat = s.repeat == "fiscal_year"
        cur_fy = np_fiscal_year(np.array([a]))
        season_s, season_e = (x[0] for x in _season(self.settings, cur_fy))

        # Age-only start of the windows (no effective dates), for plans that start "at the window".
        age_start = np.full(n, MAX_DATE)
        for cw in comp.windows:
            f, u = _window_bounds(cw, memo, clip=False)
            age_start = np.where(f <= u, np.minimum(age_start, f), age_start)

        # --- history: count valid doses --------------------------------------------------------
        rows = order[comp.counted[history.code[order]]] if len(order) else order
        if repeat and len(rows):
            d = history.date[rows]
            rows = rows[(d >= season_s) & (d <= season_e)]
        valid = np.zeros(n, np.int16)
        skipped = np.zeros(n, np.int16)
        plan_of = np.full(n, -1, np.int16)
        last = np.full(n, MIN_DATE)
        earliest = np.full(n, MIN_DATE)
        product = np.full(n, comp.default_product, np.int16)
        row_dose = np.zeros(len(rows), np.int16)
        row_reason = np.zeros(len(rows), np.int8)
        has_dose_in: dict[tuple[date, date], np.ndarray] = {}
        if len(rows):
            self._walk(comp, birth, history, rows, age_start, a, valid, skipped, plan_of, last, earliest, product,
                       row_dose, row_reason, has_dose_in)  # fmt: skip

        # --- windows ---------------------------------------------------------------------------
        fs, us = [], []
        for cw in comp.windows:
            f, u = _window_bounds(cw, memo)
            keep = np.ones(n, bool)
            if cw.source.product:
                keep &= product == PRODUCT_INDEX[cw.source.product]
            rdb = cw.source.requires_dose_between
            if rdb:
                keep &= has_dose_in.get(rdb, np.zeros(n, bool))
            fs.append(np.where(keep, f, MAX_DATE))
            us.append(np.where(keep, u, MIN_DATE))
        if s.sex != "any":
            want = 2 if s.sex == "F" else 1
            fs = [np.where(sex == want, f, MAX_DATE) for f in fs]
            us = [np.where(sex == want, u, MIN_DATE) for u in us]
        ef, eu = _select_window(fs, us, a)
        if repeat:
            ef, eu = self._season_window(ef, eu, a, season_s, season_e)

        # --- status ----------------------------------------------------------------------------
        target = ef <= eu
        need = np.where(plan_of >= 0, comp.n_doses[np.maximum(plan_of, 0)], 0)
        complete = (plan_of >= 0) & (valid + skipped >= need)
        status = np.full(n, NONE, np.int8)
        status[target & (a < ef)] = UPCOMING
        status[target & (a >= ef) & (a <= eu)] = DUE
        status[target & (a > eu)] = EXPIRED
        status[target & complete] = COMPLETE
        if not repeat:
            # Completed before the series existed or outside its windows still counts as complete for
            # those who were ever a target; people never a target stay NONE.
            pass
        dose = np.where(complete, need, valid + skipped + 1).astype(np.int16)
        earliest = np.where(plan_of >= 0, earliest, ef)
        earliest = np.maximum(earliest, ef)
        return SeriesResult(status, dose, ef, eu, earliest, valid, rows, row_dose, row_reason)

    def _season_window(
        self, ef: np.ndarray, eu: np.ndarray, a: np.datetime64, ss: np.datetime64, se: np.datetime64
    ) -> tuple[np.ndarray, np.ndarray]:
        target = ef <= eu
        cf = np.maximum(ef, ss)
        cu = np.minimum(eu, se)
        cur = target & (cf <= cu)
        later = target & ~cur & (ef > se)
        nf, nu = ef.copy(), eu.copy()
        nf[cur], nu[cur] = cf[cur], cu[cur]
        if later.any():
            fy = np_fiscal_year(ef[later])
            s1, e1 = _season(self.settings, fy)
            after = ef[later] > e1
            fy = np.where(after, fy + 1, fy)
            s1, e1 = _season(self.settings, fy)
            nf[later] = np.maximum(ef[later], s1)
            nu[later] = np.minimum(eu[later], e1)
        return nf, nu

    def _choose_plan(
        self, comp: _Compiled, bd: np.ndarray, d: np.ndarray, prod: np.ndarray, age_start: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Plan index per candidate first dose (-1 none) and the reason when none fits."""
        m = len(d)
        plan = np.full(m, -1, np.int16)
        min_start = np.full(m, MAX_DATE)
        for use_effective in (True, False):
            for p_i, p in enumerate(comp.plans):
                ok = prod == comp.plan_product[p_i] if comp.plan_product[p_i] >= 0 else np.ones(m, bool)
                start = age_start if p.start_from is None else np_attain(bd, p.start_from)
                min_start = np.where(ok, np.minimum(min_start, start), min_start)
                ok &= (plan < 0) & (d >= start)
                if p.start_before is not None:
                    ok &= d <= np_attain(bd, p.start_before)
                if use_effective:
                    if p.effective_from:
                        ok &= d >= _d64(p.effective_from)
                    if p.effective_until:
                        ok &= d <= _d64(p.effective_until)
                plan[ok] = p_i
        reason = np.where(d < min_start, TOO_YOUNG, TOO_OLD).astype(np.int8)
        return plan, reason

    def _walk(
        self, comp: _Compiled, birth: np.ndarray, history: History, rows: np.ndarray, age_start_all: np.ndarray,
        a: np.datetime64, valid_all: np.ndarray, skipped_all: np.ndarray, plan_all: np.ndarray,
        last_all: np.ndarray, earliest_all: np.ndarray, product_all: np.ndarray, row_dose: np.ndarray,
        row_reason: np.ndarray, has_dose_in: dict[tuple[date, date], np.ndarray],
    ) -> None:  # fmt: skip
        """Walk each person's doses in date order, vectorised over persons (one column per dose)."""
        person = history.person[rows]
        uniq, start, counts = np.unique(person, return_index=True, return_counts=True)
        p_n = len(uniq)
        width = int(counts.max())
        rank = np.arange(len(rows)) - np.repeat(start, counts)
        slot = np.searchsorted(uniq, person)
        dates = np.full((p_n, width), MAX_DATE)
        dates[slot, rank] = history.date[rows]
        pos = np.full((p_n, width), -1, np.int64)
        pos[slot, rank] = np.arange(len(rows))
        bd = birth[uniq]
        age_start = age_start_all[uniq]
        first_prod = history.product[rows[start]]
        prod = np.where(first_prod >= 0, first_prod, comp.default_product).astype(np.int16)
        if comp.allowed_products:
            bad = (first_prod >= 0) & ~np.isin(first_prod, list(comp.allowed_products))
            if bad.any():
                raise ScheduleInputError(
                    f"{comp.series.code} の接種履歴に使えない製剤名があります / product does not belong to the series"
                )
        else:
            prod[:] = -1
        max_dose = comp.series.max_doses
        valid = np.zeros(p_n, np.int16)
        skipped = np.zeros(p_n, np.int16)
        plan = np.full(p_n, -1, np.int16)
        last = np.full(p_n, MIN_DATE)
        vd = np.full((p_n, max_dose + 1), MAX_DATE)  # valid dose dates by dose number
        for j in range(width):
            d = dates[:, j]
            pres = d < MAX_DATE
            m0 = pres & (plan < 0)
            if m0.any():
                idx = np.nonzero(m0)[0]
                new_plan, why = self._choose_plan(comp, bd[idx], d[idx], prod[idx], age_start[idx])
                ok = new_plan >= 0
                vi = idx[ok]
                plan[vi] = new_plan[ok]
                valid[vi] = 1
                last[vi] = d[vi]
                vd[vi, 1] = d[vi]
                row_dose[pos[vi, j]] = 1
                row_reason[pos[idx[~ok], j]] = why[~ok]
            m1 = pres & ~m0
            if not m1.any():
                continue
            nxt = valid + skipped + 1
            self._skip(comp, bd, d, m1, plan, nxt, skipped)
            extra = m1 & (nxt > comp.n_doses[np.maximum(plan, 0)])
            row_reason[pos[extra, j]] = EXTRA
            for p_i, p in enumerate(comp.plans):
                for k in range(2, len(p.doses) + 1):
                    mk = m1 & (plan == p_i) & (nxt == k)
                    if not mk.any():
                        continue
                    idx = np.nonzero(mk)[0]
                    low, too_soon_at = self._earliest(p, k, bd[idx], last[idx], vd[idx])
                    dd = d[idx]
                    reason = np.zeros(len(idx), np.int8)
                    dose = p.doses[k - 1]
                    if dose.max_age is not None:
                        reason[dd > np_attain(bd[idx], dose.max_age)] = TOO_OLD
                    reason[dd < too_soon_at] = TOO_SOON
                    reason[dd < low] = TOO_YOUNG
                    ok = reason == VALID
                    vi = idx[ok]
                    valid[vi] += 1
                    last[vi] = d[vi]
                    vd[vi, k] = d[vi]
                    row_dose[pos[vi, j]] = k
                    row_reason[pos[idx, j]] = reason
        # Next dose as of the evaluation date.
        nxt = valid + skipped + 1
        self._skip(comp, bd, np.full(p_n, a), plan >= 0, plan, nxt, skipped)
        earliest = np.full(p_n, MIN_DATE)
        for p_i, p in enumerate(comp.plans):
            for k in range(2, len(p.doses) + 1):
                mk = (plan == p_i) & (nxt == k)
                if mk.any():
                    idx = np.nonzero(mk)[0]
                    low, iv = self._earliest(p, k, bd[idx], last[idx], vd[idx])
                    earliest[idx] = np.maximum(low, iv)
        valid_all[uniq] = valid
        skipped_all[uniq] = skipped
        plan_all[uniq] = plan
        last_all[uniq] = last
        earliest_all[uniq] = earliest
        product_all[uniq] = prod
        for w in comp.series.windows:
            if w.requires_dose_between:
                lo, hi = (_d64(x) for x in w.requires_dose_between)
                inrange = (row_reason == VALID) & (row_dose > 0)
                rd = history.date[rows]
                inrange &= (rd >= lo) & (rd <= hi)
                flag = np.zeros(len(birth), bool)
                flag[person[inrange]] = True
                has_dose_in[w.requires_dose_between] = flag

    @staticmethod
    def _skip(
        comp: _Compiled, bd: np.ndarray, d: np.ndarray, mask: np.ndarray, plan: np.ndarray, nxt: np.ndarray,
        skipped: np.ndarray,
    ) -> None:  # fmt: skip
        """Doses "to be given by age X, else not given" are skipped once that age has passed."""
        for p_i, p in enumerate(comp.plans):
            for k, dose in enumerate(p.doses, start=1):
                if dose.skip_after is None:
                    continue
                mk = mask & (plan == p_i) & (nxt == k)
                if not mk.any():
                    continue
                idx = np.nonzero(mk)[0]
                past = d[idx] > np_attain(bd[idx], dose.skip_after)
                hit = idx[past]
                skipped[hit] += 1
                nxt[hit] += 1

    @staticmethod
    def _earliest(p: Plan, k: int, bd: np.ndarray, last: np.ndarray, vd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(minimum-age date, minimum-interval date) for dose ``k`` of plan ``p``."""
        dose = p.doses[k - 1]
        low = np_attain(bd, dose.min_age) if dose.min_age is not None else np.full(len(bd), MIN_DATE)
        iv = np.full(len(bd), MIN_DATE)
        for from_no, span in dose.intervals:
            base = last if from_no == 0 else vd[:, from_no]
            base = np.where(base == MAX_DATE, last, base)
            iv = np.maximum(iv, np_after_interval(base, span))
        return low, iv


_ENGINES: dict[tuple[object, ...], Engine] = {}


def engine_for(settings: Settings | None = None) -> Engine:
    """A cached engine per settings (rule compilation happens once)."""
    settings = settings or Settings()
    key = settings.key()
    if key not in _ENGINES:
        _ENGINES[key] = Engine(settings)
    return _ENGINES[key]


def with_settings(**changes: object) -> Settings:
    return replace(Settings(), **changes)  # type: ignore[arg-type]
