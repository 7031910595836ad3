"""Age and date arithmetic for the schedule (年齢計算ニ関スル法律 and 民法第143条).

The reading used everywhere (see docs/schedule.md for examples):

* A person attains N months / N years (生後N月に至る, N歳に達する) at the end of the day before the
  corresponding day (応当日) of the birth date; when that month has no corresponding day (born on the
  29th-31st, or on 29 February), at the end of that month's last day (民法第143条第2項).
* By the MHLW notice of 11 March 2014 (定期の予防接種における対象者の解釈について), both
  "N歳以上 / 生後N月から" and "N歳未満 / 生後N月に至るまで" include that attainment day. So an
  age range [A, B) is the closed date range [attain(A), attain(B)].
* Weeks and days after birth (出生6週0日後) are counted from the birth date: birth + 42 days.
* Intervals: "N日以上の間隔をおいて" means N whole days between the doses, so the earliest next date
  is the dose date + N + 1; "N月以上の間隔" is read as the same day number N months later (clamped
  to the month's last day).
* The fiscal year (年度) runs from 1 April to 31 March; fiscal year Y starts on Y-04-01.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

_SPEC = re.compile(r"^(?:(?P<y>\d+)y)?(?:(?P<m>\d+)m)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?$")

DAY = np.timedelta64(1, "D")
MIN_DATE = np.datetime64("0001-01-01", "D")
MAX_DATE = np.datetime64("9999-12-31", "D")


@dataclass(frozen=True)
class Span:
    """An age or interval such as ``2m``, ``13y``, ``14w6d`` or ``27d`` (months and days kept apart)."""

    months: int
    days: int
    text: str

    @classmethod
    def parse(cls, text: str) -> Span:
        m = _SPEC.match(text.strip())
        if not m or not text.strip():
            raise ValueError(f"bad age/interval {text!r}: use e.g. 2m, 13y, 6w, 14w6d, 27d")
        g = {k: int(v) if v else 0 for k, v in m.groupdict().items()}
        return cls(months=g["y"] * 12 + g["m"], days=g["w"] * 7 + g["d"], text=text.strip())

    def ja(self, *, interval: bool = False) -> str:
        """Japanese wording, e.g. 生後2月 / 13歳 / 出生14週6日後 / 27日."""
        if interval:
            parts = []
            if self.months:
                parts.append(f"{self.months}月")
            if self.days:
                parts.append(f"{self.days}日")
            return "".join(parts) or "0日"
        if self.months and not self.days:
            if self.months % 12 == 0 and self.text.endswith("y"):  # written as the law writes it
                return f"{self.months // 12}歳"
            return f"生後{self.months}月"
        if not self.months:
            if self.days == 0:
                return "出生時"
            w, d = divmod(self.days, 7)
            return f"出生{w}週{d}日後" if w else f"出生{d}日後"
        return f"生後{self.months}月{self.days}日"


def parse_iso(text: str) -> date:
    """A Western ISO date (YYYY-MM-DD). Raises ValueError naming the bad value."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"日付が正しくありません: {text!r} / not a valid date (YYYY-MM-DD)") from None


def attain_months(birth: date, months: int) -> date:
    """The day on which a person born on ``birth`` attains ``months`` months (生後N月に至った日)."""
    y, m = divmod(birth.month - 1 + months, 12)
    y += birth.year
    m += 1
    dim = calendar.monthrange(y, m)[1]
    if birth.day <= dim:
        return date(y, m, birth.day) - timedelta(days=1)
    return date(y, m, dim)


def attain_years(birth: date, years: int) -> date:
    """The day on which a person attains ``years`` years of age (N歳に達する日): the eve of the birthday."""
    return attain_months(birth, 12 * years)


def attain(birth: date, span: Span) -> date:
    """Attainment day of an age span: months/years per :func:`attain_months`, weeks/days counted from birth."""
    if span.months:
        return attain_months(birth, span.months) + timedelta(days=span.days)
    return birth + timedelta(days=span.days)


def add_months(d: date, months: int) -> date:
    """Same day number ``months`` later, clamped to the month's last day."""
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    m += 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def after_interval(d: date, span: Span) -> date:
    """Earliest date of the next dose after a dose on ``d`` with a minimum interval ``span``."""
    if span.months:
        return add_months(d, span.months) + timedelta(days=span.days)
    return d + timedelta(days=span.days + 1)


def age_in_years(birth: date, on: date) -> int:
    """Completed years on ``on`` under the Act on Calculation of Age (the birthday's eve counts)."""
    years = on.year - birth.year
    if attain_years(birth, years) > on:
        years -= 1
    return years


def fiscal_year(d: date) -> int:
    """The fiscal year (年度) of a date: 2025 for 2025-04-01 .. 2026-03-31."""
    return d.year if d.month >= 4 else d.year - 1


def fiscal_year_start(fy: int) -> date:
    return date(fy, 4, 1)


def fiscal_year_end(fy: int) -> date:
    return date(fy + 1, 3, 31)


# --- vectorised forms (numpy datetime64[D] arrays) -------------------------------------------------


# The vectorised forms work on the int64 view of datetime64[D] (days since 1970-01-01) with integer
# calendar arithmetic (H. Hinnant's civil-from-days algorithms): numpy's own datetime64[D] -> [M]
# conversions are an order of magnitude slower, and this runs for a million people per series.

_DIM = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)


def _days(d: np.ndarray) -> np.ndarray:
    return np.asarray(d, "datetime64[D]").view(np.int64)


def _civil(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month 1-12, day 1-31) of days since 1970-01-01."""
    z = z + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = yoe + era * 400 + (m <= 2)
    return y, m, d


def _from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _dim(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    return _DIM[m - 1] + ((m == 2) & leap)


def _shift(d: np.ndarray, months: int | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    y, m, day = _civil(_days(d))
    t = y * 12 + (m - 1) + np.asarray(months, np.int64)
    ty, tm = t // 12, t % 12 + 1
    return ty, tm, day, _dim(ty, tm)


def np_attain_months(
    birth: np.ndarray, months: int | np.ndarray, ymd: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Vectorised :func:`attain_months` over a ``datetime64[D]`` array (``ymd``: its civil form, if known)."""
    if ymd is None:
        ty, tm, day, dim = _shift(birth, months)
    else:
        y, m, day = ymd
        t = y * 12 + (m - 1) + np.asarray(months, np.int64)
        ty, tm = t // 12, t % 12 + 1
        dim = _dim(ty, tm)
    out = np.where(day <= dim, _from_civil(ty, tm, np.minimum(day, dim)) - 1, _from_civil(ty, tm, dim))
    return out.view("datetime64[D]")


def np_civil(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) int64 arrays of a ``datetime64[D]`` array."""
    return _civil(_days(d))


def np_attain(
    birth: np.ndarray, span: Span, ymd: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    if span.months:
        return np_attain_months(birth, span.months, ymd) + np.timedelta64(span.days, "D")
    return birth + np.timedelta64(span.days, "D")


def np_add_months(d: np.ndarray, months: int) -> np.ndarray:
    ty, tm, day, dim = _shift(d, months)
    return _from_civil(ty, tm, np.minimum(day, dim)).view("datetime64[D]")


def np_after_interval(d: np.ndarray, span: Span) -> np.ndarray:
    if span.months:
        return np_add_months(d, span.months) + np.timedelta64(span.days, "D")
    return d + np.timedelta64(span.days + 1, "D")


def np_fiscal_year(d: np.ndarray) -> np.ndarray:
    """Fiscal year of each date (int64)."""
    y, m, _ = _civil(_days(d))
    return y - (m < 4)


def np_fy_start(fy: np.ndarray | int) -> np.ndarray:
    """1 April of each fiscal year."""
    y = np.asarray(fy, np.int64)
    return _from_civil(y, np.full(y.shape, 4, np.int64), np.ones(y.shape, np.int64)).view("datetime64[D]")


def np_fy_end(fy: np.ndarray | int) -> np.ndarray:
    return np_fy_start(np.asarray(fy, dtype=np.int64) + 1) - DAY
