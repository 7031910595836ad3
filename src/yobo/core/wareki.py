"""Japanese era dates (和暦) and the date forms municipal files use.

Parses what staff type and what resident-register extracts contain — ``令和7年9月5日``, ``R7.9.5``,
``H30/1/2``, ``S45.11.3``, ``令和元年5月1日``, with the era in one kanji or two (``昭45.11.3``,
``平成30/1/2``, ``R元.5.1``), the 7-digit system form ``5070905`` (era digit 1=明治
2=大正 3=昭和 4=平成 5=令和 + YYMMDD), and Western ``2025-09-05``/``20250905``/``2025/9/5`` — with
full-width digits accepted. A date outside its era (``平成31年5月1日``) is rejected, not shifted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Era:
    name: str  # 令和
    letter: str  # R
    digit: str  # 5 (the 7-digit system form)
    start: date  # first day
    end: date | None  # last day


ERAS: tuple[Era, ...] = (
    Era("令和", "R", "5", date(2019, 5, 1), None),
    Era("平成", "H", "4", date(1989, 1, 8), date(2019, 4, 30)),
    Era("昭和", "S", "3", date(1926, 12, 25), date(1989, 1, 7)),
    Era("大正", "T", "2", date(1912, 7, 30), date(1926, 12, 24)),
    Era("明治", "M", "1", date(1868, 10, 23), date(1912, 7, 29)),
)
# 令和/R/5, and the one-kanji abbreviation forms and lists use (令, 平, 昭, 大, 明: 昭45.11.3)
_BY_KEY = ({e.name: e for e in ERAS} | {e.letter: e for e in ERAS} | {e.digit: e for e in ERAS}
           | {e.name[0]: e for e in ERAS})


class DateFormatError(ValueError):
    """The text is not a date in any accepted form (日付の形式が正しくありません)."""


def era_of(d: date) -> Era:
    for e in ERAS:
        if d >= e.start:
            return e
    raise DateFormatError(f"明治より前の日付は扱えません / dates before Meiji are not supported: {d.isoformat()}")


def to_wareki(d: date, *, short: bool = False) -> str:
    """``令和7年9月5日`` (or ``R7.9.5`` with ``short``); year 1 is written 元年 in the long form."""
    e = era_of(d)
    y = d.year - e.start.year + 1
    if short:
        return f"{e.letter}{y}.{d.month}.{d.day}"
    ys = "元" if y == 1 else str(y)
    return f"{e.name}{ys}年{d.month}月{d.day}日"


def from_era(era: Era, year: int, month: int, day: int) -> date:
    try:
        d = date(era.start.year + year - 1, month, day)
    except ValueError as exc:
        raise DateFormatError(f"存在しない日付です / no such date: {era.name}{year}年{month}月{day}日") from exc
    if year < 1 or d < era.start or (era.end is not None and d > era.end):
        raise DateFormatError(f"{era.name}{year}年{month}月{day}日 は{era.name}の期間外です / outside the era")
    return d


_ERA = r"(令和|平成|昭和|大正|明治|[RHSTM令平昭大明])"
_ERA_LONG = re.compile(rf"^{_ERA}(元|\d{{1,2}})年(\d{{1,2}})月(\d{{1,2}})日?$")
_ERA_SHORT = re.compile(rf"^{_ERA}(元|\d{{1,2}})[./\-](\d{{1,2}})[./\-](\d{{1,2}})$")
_ERA_PACKED = re.compile(r"^([RHSTM])(\d{2})(\d{2})(\d{2})$")
_SYSTEM7 = re.compile(r"^([1-5])(\d{2})(\d{2})(\d{2})$")
_WEST_SEP = re.compile(r"^(\d{4})[./\-年](\d{1,2})[./\-月](\d{1,2})日?$")
_WEST8 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_date(text: str) -> date:
    """Parse a date in any accepted form; raises ``DateFormatError`` with a bilingual message."""
    s = unicodedata.normalize("NFKC", text or "").strip().replace(" ", "").upper()
    if not s:
        raise DateFormatError("日付が空です / the date is empty")
    for rx in (_ERA_LONG, _ERA_SHORT):
        if m := rx.match(s):
            y = 1 if m.group(2) == "元" else int(m.group(2))
            return from_era(_BY_KEY[m.group(1)], y, int(m.group(3)), int(m.group(4)))
    for rx in (_ERA_PACKED, _SYSTEM7):
        if m := rx.match(s):
            return from_era(_BY_KEY[m.group(1)], int(m.group(2)), int(m.group(3)), int(m.group(4)))
    for rx in (_WEST_SEP, _WEST8):
        if m := rx.match(s):
            try:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError as exc:
                raise DateFormatError(f"存在しない日付です / no such date: {text}") from exc
    raise DateFormatError(
        f"日付の形式が正しくありません（例: 2025-09-05, 令和7年9月5日, R7.9.5） / unrecognised date: {text[:40]}"
    )


def fiscal_year(d: date) -> int:
    """The fiscal year (年度) a date falls in: April to March, named by the April's year."""
    return d.year if d.month >= 4 else d.year - 1
