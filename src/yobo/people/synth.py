"""The synthetic city (合成住民データ): a deterministic resident-register extract for demos, tests
and benchmarks (``yobo synth residents``, CONTRACTS.md §1).

Households of 1-6 persons (single, couple, couple with children, single parent, three generations),
birth years drawn from a Japan-like 2024 age pyramid, generation-typical given names, surnames by
frequency (now and then in rare variant kanji such as 髙, 﨑, 𠮷), addresses in a Yokohama-like
city, some moved-out, deceased and removed persons, and valid, distinct My Numbers.

The same (count, seed, as_of, options) always give the same bytes. Pure Python, no Django; rows
are streamed, so memory stays flat however many are written. See docs/decisions/050.
"""

from __future__ import annotations

import argparse
import csv
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from itertools import accumulate
from pathlib import Path
from random import Random
from typing import Any, Generic, TypeVar

from yobo.core.text import kana_fullwidth
from yobo.core.wareki import DateFormatError, parse_date
from yobo.mynumber import checkdigit
from yobo.mynumber.checkdigit import check_digit
from yobo.people.extract import COLUMNS, format_date, kana_halfwidth

T = TypeVar("T")

PREFECTURE_CITY = "神奈川県横浜市"
CITY_PHONE_PREFIX = "045"
DATE_STYLES = ("iso", "wareki", "mixed")
KANA_STYLES = ("full", "half", "mixed")
ENCODINGS = ("utf-8", "utf-8-sig", "cp932")
_MIXED_DATE_STYLES = ("iso", "iso", "compact", "wareki", "wareki_short")
_KANJI_DIGITS = "〇一二三四五六七八九"

# Household types and their shares (roughly the 2020s census shape: many one-person households).
_HOUSEHOLD_TYPES = (("single", 38), ("couple", 23), ("couple_kids", 21), ("single_parent", 8), ("extended", 10))
_KIDS = ((1, 50), (2, 38), (3, 10), (4, 2))
_SINGLE_PARENT_KIDS = ((1, 55), (2, 35), (3, 10))
FOREIGN_SHARE = 0.025
MY_NUMBER_MISSING = 0.005
MOVED_OUT_HOUSEHOLDS = 0.03
REMOVED = 0.001
APARTMENT_SHARE = 0.4


def _lines(name: str) -> Iterator[list[str]]:
    text = resources.files("yobo.people").joinpath("synth_data", name).read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.split("\t")


def _encodable(s: str) -> bool:
    try:
        s.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


class _Table(Generic[T]):
    """Items with cumulative weights, sampled with one random() and a bisect."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        self.items = [p[0] for p in pairs]
        self.cum = list(accumulate(p[1] for p in pairs))
        self.total = self.cum[-1]

    def pick(self, rnd: Callable[[], float]) -> T:
        return self.items[bisect_right(self.cum, rnd() * self.total)]


Name = tuple[str, str]  # (kanji or as registered, katakana)
Town = tuple[str, int, str]  # (町名, number of 丁目, 郵便番号)


@dataclass(frozen=True)
class _Data:
    surnames: _Table[Name]
    given: dict[tuple[int, str], _Table[Name]]
    foreign: dict[int, _Table[Name]]
    wards: _Table[tuple[str, tuple[Town, ...]]]
    prefixes: list[str]
    suffixes: list[str]
    age_2024: dict[int, float]


@cache
def _data(cp932_only: bool) -> _Data:
    ok = _encodable if cp932_only else (lambda s: True)
    surnames = [((k, r), float(w)) for k, r, w in _lines("surnames.txt") if ok(k)]
    given: dict[tuple[int, str], list[tuple[Name, float]]] = {}
    for k, r, sex, era, w in _lines("given_names.txt"):
        if ok(k):
            given.setdefault((int(sex), era), []).append(((k, r), float(w)))
    foreign: dict[int, list[tuple[Name, float]]] = {}
    for k, r, sex, w in _lines("foreign_names.txt"):
        if ok(k):
            foreign.setdefault(int(sex), []).append(((k, r), float(w)))
    wards: list[tuple[tuple[str, tuple[Town, ...]], float]] = []
    for ward, postal3, weight, towns in _lines("wards.txt"):
        town_list: list[Town] = []
        for i, t in enumerate(towns.split(",")):
            tname, chome = t.split(":")
            town_list.append((tname, int(chome), f"{postal3}{(int(postal3) * 13 + i * 37) % 900 + 11:04d}"))
        wards.append(((ward, tuple(town_list)), float(weight)))
    prefixes = [v for kind, v in _lines("buildings.txt") if kind == "prefix"]
    suffixes = [v for kind, v in _lines("buildings.txt") if kind == "suffix"]
    ages = {int(a): float(n) for a, n in _lines("age_2024.txt")}
    return _Data(
        _Table(surnames), {k: _Table(v) for k, v in given.items()}, {k: _Table(v) for k, v in foreign.items()},
        _Table(wards), prefixes, suffixes, ages,
    )


def _era(birth_year: int) -> str:
    return "A" if birth_year < 1956 else "B" if birth_year < 1986 else "C" if birth_year < 2006 else "D"


class _Births:
    """Birth-year weights from the 2024 pyramid, sampled within a window of years."""

    def __init__(self, ages: dict[int, float], as_of: date) -> None:
        self.last = as_of.year
        self.first = as_of.year - max(ages)
        newest = ages[0]
        weights = []
        for y in range(self.first, self.last + 1):
            age_2024 = 2024 - y
            # Born after 2024: births keep falling, ~3% a year.
            weights.append(newest * 0.97 ** (-age_2024) if age_2024 < 0 else ages.get(age_2024, 0.0))
        # The current year is only partly over.
        weights[-1] *= (as_of.timetuple().tm_yday) / 365.0
        self.cum = [0.0, *accumulate(weights)]
        self.jan1 = {y: date(y, 1, 1).toordinal() for y in range(self.first, self.last + 1)}
        self.as_of = as_of

    def year(self, rnd: Callable[[], float], lo: int, hi: int) -> int | None:
        lo, hi = max(lo, self.first), min(hi, self.last)
        if lo > hi:
            return None
        a, b = self.cum[lo - self.first], self.cum[hi - self.first + 1]
        if b <= a:
            return None
        k = bisect_right(self.cum, a + rnd() * (b - a)) - 1
        return self.first + min(max(k, lo - self.first), hi - self.first)

    def day(self, rnd: Callable[[], float], y: int) -> date:
        if y == self.last:
            span = self.as_of.toordinal() - self.jan1[y] + 1
        else:
            span = 366 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 365
        return date.fromordinal(self.jan1[y] + int(rnd() * span))


class _Permutation:
    """A keyed bijection on 0..10**11-1, so generated My Number bodies are distinct without
    remembering them and do not look sequential: a 4-round Feistel network on 38 bits with cycle
    walking (re-apply until the value falls below 10**11)."""

    __slots__ = ("keys",)
    LIMIT = 10**11
    HALF_BITS = 19
    MASK = (1 << 19) - 1

    def __init__(self, rng: Random) -> None:
        self.keys = tuple(rng.getrandbits(32) for _ in range(4))

    def __call__(self, i: int) -> int:
        x = i
        mask, half = self.MASK, self.HALF_BITS
        while True:
            left, right = x >> half, x & mask
            for k in self.keys:
                f = ((right * 0x9E3779B1) ^ k) & 0xFFFFFFFF
                f = ((f ^ (f >> 15)) * 0x85EBCA77) & 0xFFFFFFFF
                left, right = right, left ^ (f & mask)
            x = (left << half) | right
            if x < self.LIMIT:
                return x


def _parse_as_of(as_of: date | str | None) -> date:
    if as_of is None:
        return date.today()
    if isinstance(as_of, date):
        return as_of
    return parse_date(as_of)


def generate(
    count: int,
    seed: int = 1,
    as_of: date | str | None = None,
    *,
    date_style: str = "iso",
    kana: str = "full",
    cp932_only: bool = False,
) -> Iterator[dict[str, str]]:
    """Rows of the synthetic extract as dicts keyed by the §1 Japanese headers."""
    for cells in generate_cells(count, seed, as_of, date_style=date_style, kana=kana, cp932_only=cp932_only):
        yield dict(zip(COLUMNS, cells, strict=True))


def generate_cells(
    count: int,
    seed: int = 1,
    as_of: date | str | None = None,
    *,
    date_style: str = "iso",
    kana: str = "full",
    cp932_only: bool = False,
) -> Iterator[list[str]]:
    """Rows as lists of cells in ``COLUMNS`` order (what ``write_csv`` writes)."""
    if date_style not in DATE_STYLES or kana not in KANA_STYLES:
        raise ValueError("date_style must be iso|wareki|mixed and kana full|half|mixed")
    ref = _parse_as_of(as_of)
    data = _data(cp932_only)
    rng = Random(seed)  # noqa: S311 - synthetic data must be reproducible, not secret
    rnd = rng.random
    # Presentation (date and kana styles) draws from its own stream, so the same seed gives the
    # same people whatever the styles.
    style_rnd = Random(seed + 1).random  # noqa: S311 - as above
    births = _Births(data.age_2024, ref)
    Y = ref.year
    ref_ord = ref.toordinal()

    permute = _Permutation(rng)
    atena = 1_000_000_000 + rng.randrange(100_000)
    household_no = 2_000_000_000 + rng.randrange(100_000)

    surnames, given, foreign = data.surnames, data.given, data.foreign
    prefixes, suffixes = data.prefixes, data.suffixes

    def given_name(sex: int, by: int) -> tuple[str, str]:
        return given[(sex, _era(by))].pick(rnd)

    def birth(by: int) -> date:
        return births.day(rnd, by)

    def date_between(lo: date, days_back: int) -> date:
        start = max(lo.toordinal(), ref_ord - days_back)
        return date.fromordinal(start + int(rnd() * (ref_ord - start + 1)))

    def pick_n(options: tuple[tuple[int, int], ...]) -> int:
        total = sum(w for _, w in options)
        u = rnd() * total
        for n, w in options:
            u -= w
            if u < 0:
                return n
        return options[-1][0]

    def spouse_year(head_sex: int, hy: int) -> int | None:
        # Wives are mostly 0-8 years younger than husbands, sometimes up to 3 older.
        lo, hi = (hy - 3, hy + 8) if head_sex == 1 else (hy - 8, hy + 3)
        return births.year(rnd, lo, min(hi, Y - 18))

    def kids(mother_year: int, n: int, rel: str = "子") -> list[tuple[str, int, int]]:
        out = []
        for _ in range(n):
            ky = births.year(rnd, mother_year + 20, mother_year + 45)
            if ky is not None:
                out.append((rel, 1 if rnd() < 0.512 else 2, ky))
        return out

    htypes = _Table([(t, float(w)) for t, w in _HOUSEHOLD_TYPES])
    written = 0
    index = 0
    while written < count:
        # --- members: (relationship, sex, birth year) ---
        htype = htypes.pick(rnd)
        is_foreign = rnd() < FOREIGN_SHARE
        members: list[tuple[str, int, int]] = []
        if is_foreign:
            hy = births.year(rnd, Y - 70, Y - 20) or Y - 30
            hs = 1 if rnd() < 0.5 else 2
            members.append(("世帯主", hs, hy))
            if rnd() < 0.4 and (sy := spouse_year(hs, hy)) is not None:
                members.append(("妻" if hs == 1 else "夫", 3 - hs, sy))
        elif htype == "single":
            # Many one-person households are elderly people living alone.
            lo, hi = (Y - 105, Y - 65) if rnd() < 0.45 else (Y - 64, Y - 18)
            hy = births.year(rnd, lo, hi) or Y - 40
            members.append(("世帯主", 1 if rnd() < 0.5 else 2, hy))
        elif htype in ("couple", "couple_kids"):
            if htype == "couple":  # couples living alone are mostly older (empty nest, retired)
                lo, hi = (Y - 95, Y - 62) if rnd() < 0.8 else (Y - 61, Y - 22)
            else:
                lo, hi = Y - 65, Y - 25
            hy = births.year(rnd, lo, hi) or Y - 40
            hs = 1 if rnd() < 0.85 else 2
            members.append(("世帯主", hs, hy))
            sy = spouse_year(hs, hy)
            if sy is not None:
                members.append(("妻" if hs == 1 else "夫", 3 - hs, sy))
                if htype == "couple_kids":
                    mother = hy if hs == 2 else sy
                    members += kids(mother, pick_n(_KIDS))
        elif htype == "single_parent":
            hs = 2 if rnd() < 0.85 else 1
            hy = births.year(rnd, Y - 60, Y - 25) or Y - 40
            members.append(("世帯主", hs, hy))
            members += kids(hy if hs == 2 else hy + 2, pick_n(_SINGLE_PARENT_KIDS))
        elif rnd() < 0.6:  # extended: three generations under one roof
            hy = births.year(rnd, Y - 90, Y - 55) or Y - 65
            hs = 1 if rnd() < 0.85 else 2
            members.append(("世帯主", hs, hy))
            sy = spouse_year(hs, hy)
            if sy is not None:
                members.append(("妻" if hs == 1 else "夫", 3 - hs, sy))
            mother = hy if hs == 2 or sy is None else sy
            son = births.year(rnd, mother + 22, mother + 42)
            if son is not None:
                members.append(("子", 1, son))
                dil = births.year(rnd, son - 3, min(son + 6, Y - 18))
                if dil is not None:
                    members.append(("子の妻", 2, dil))
                    members += kids(dil, pick_n(_SINGLE_PARENT_KIDS), "孫")
        else:
            hy = births.year(rnd, Y - 60, Y - 35) or Y - 45
            hs = 1 if rnd() < 0.8 else 2
            members.append(("世帯主", hs, hy))
            sy = spouse_year(hs, hy) if rnd() < 0.7 else None
            if sy is not None:
                members.append(("妻" if hs == 1 else "夫", 3 - hs, sy))
                members += kids(hy if hs == 2 else sy, pick_n(_KIDS) - 1)
            my = births.year(rnd, hy - 45, hy - 20)
            if my is not None:
                members.append(("母", 2, my))
                if rnd() < 0.4 and (fy := births.year(rnd, my - 6, my + 3)) is not None:
                    members.append(("父", 1, fy))
        members = members[:6]

        # --- the household's address, phone and fate ---
        ward, towns = data.wards.pick(rnd)
        town, chome, postal = towns[int(rnd() * len(towns))]
        if chome:
            c = _KANJI_DIGITS[1 + int(rnd() * chome)]
            address = f"{PREFECTURE_CITY}{ward}{town}{c}丁目{1 + int(rnd() ** 1.5 * 40)}番{1 + int(rnd() * 30)}号"
        else:
            address = f"{PREFECTURE_CITY}{ward}{town}{1 + int(rnd() ** 2 * 3000)}番地"
            if rnd() < 0.3:
                address += f"の{1 + int(rnd() * 20)}"
        extra = ""
        if rnd() < APARTMENT_SHARE:
            word = town if rnd() < 0.6 else ward[:-1]
            building = f"{prefixes[int(rnd() * len(prefixes))]}{word}{suffixes[int(rnd() * len(suffixes))]}"
            room = (1 + int(rnd() ** 2 * 14)) * 100 + 1 + int(rnd() * 12)
            extra = f"{building}{room}号室" if rnd() < 0.7 else f"{building}　{room}"
        postal_cell = f"{postal[:3]}-{postal[3:]}"
        landline = f"{CITY_PHONE_PREFIX}-{100 + int(rnd() * 900)}-{int(rnd() * 10000):04d}" if rnd() < 0.35 else ""
        moved_out = rnd() < MOVED_OUT_HOUSEHOLDS
        move_date: date | None = None
        household_no += 1 + (rnd() < 0.1)
        surname = surnames.pick(rnd)

        for rel, sex, by in members:
            if written >= count:
                break
            bd = birth(by)
            age = Y - by
            if is_foreign:
                kanji, kana_name = foreign[sex].pick(rnd)
            else:
                g = given_name(sex, by)
                kanji, kana_name = f"{surname[0]}\u3000{g[0]}", f"{surname[1]}\u3000{g[1]}"
            # 住民区分 and the last change (異動)
            status, reason, cdate = "1", "", None
            if moved_out:
                if move_date is None:
                    move_date = date_between(bd, 3 * 365)
                status, reason, cdate = "2", "転出", max(move_date, bd)
            else:
                u = rnd()
                death_p = 0.002 if age < 60 else 0.015 if age < 75 else 0.05 if age < 85 else 0.15
                if u < death_p:
                    status, reason, cdate = "3", "死亡", date_between(bd, 3 * 365)
                elif u < death_p + REMOVED:
                    status, reason, cdate = "4", "職権消除", date_between(bd, 5 * 365)
                elif age < 6 and u < 0.5:
                    reason, cdate = "出生", bd
                elif u < 0.3:
                    reason, cdate = "転入", date_between(bd, 10 * 365)
                elif u < 0.4:
                    reason, cdate = "転居", date_between(bd, 10 * 365)
            # 個人番号
            body = permute(index)
            index += 1
            if body == 0 or rnd() < MY_NUMBER_MISSING:
                mn = ""
            else:
                b = f"{body:011d}"
                mn = f"{b}{check_digit(b)}"
            atena += 1 + (rnd() < 0.15)
            phone = ""
            if age >= 18 and rnd() < 0.55:
                if landline and rnd() < 0.5:
                    phone = landline
                else:
                    phone = f"0{7 + int(rnd() * 3)}0-{int(rnd() * 10000):04d}-{int(rnd() * 10000):04d}"
            ds = date_style if date_style != "mixed" else _MIXED_DATE_STYLES[int(style_rnd() * 5)]
            if ds == "wareki" and date_style == "wareki" and style_rnd() < 0.3:
                ds = "wareki_short"
            if kana == "half" or (kana == "mixed" and style_rnd() < 0.3):
                kana_name = kana_halfwidth(kana_name)
            yield [
                str(atena), str(household_no), mn, kanji, kana_name, format_date(bd, ds), str(sex), rel,
                postal_cell, address, extra, status, reason, format_date(cdate, ds) if cdate else "", phone,
            ]
            written += 1


def write_csv(
    path: str | Path,
    count: int,
    seed: int = 1,
    encoding: str = "utf-8",
    as_of: date | str | None = None,
    *,
    date_style: str = "iso",
    kana: str = "full",
    progress: bool = False,
    leave_out: int = 0,
) -> int:
    """Write ``count`` rows (plus the header) to ``path``; returns the number of rows written.

    ``encoding`` is ``utf-8``, ``utf-8-sig`` (with BOM) or ``cp932``; for CP932 only names it can
    encode are used (𠮷 and 𡈽 are left out; 髙 and 﨑 are in CP932 and stay). ``leave_out``: the
    same file without that many residents (住民区分 1), spread through it — a later complete
    snapshot in which they are missing.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")
    rows = _leaving_out(generate_cells(
        count, seed, as_of, date_style=date_style, kana=kana, cp932_only=encoding == "cp932"
    ), count, leave_out)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=count, unit="行", file=sys.stderr, mininterval=0.5)
    n = _write_rows(path, rows, encoding, bar)
    if bar is not None:
        bar.update(n % 10_000)
        bar.close()
    return n


def _write_rows(path: str | Path, rows: Iterable[list[str]], encoding: str, bar: Any = None) -> int:
    n = 0
    with Path(path).open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(COLUMNS)
        for cells in rows:
            w.writerow(cells)
            n += 1
            if bar is not None and n % 10_000 == 0:
                bar.update(10_000)
    return n


def demo_changes(snapshot: str | Path, on: date, seed: int = 1) -> list[list[str]]:
    """A day's 異動 after the complete extract ``snapshot`` (日次の差分ファイル), for the demo:
    a household's move within the city (転居), a move out (転出), a death (死亡), a surname change
    (氏の変更) and a birth (出生), each dated ``on`` (the birth the day before). Deterministic; rows
    are picked by fixed rules from the file, so a person's other items stay as they were."""
    with Path(snapshot).open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:]
    col = {c: i for i, c in enumerate(COLUMNS)}
    rng = Random(seed)  # noqa: S311 - as above: reproducible, not secret

    def get(r: list[str], c: str) -> str:
        return r[col[c]]

    def age(r: list[str]) -> int:
        try:
            b = parse_date(get(r, "生年月日"))
        except DateFormatError:
            return -1
        return on.year - b.year - ((on.month, on.day) < (b.month, b.day))

    def changed(r: list[str], reason: str, **items: str) -> list[str]:
        out = list(r)
        for c, v in {"異動事由": reason, "異動日": format_date(on, "iso"), **items}.items():
            out[col[c]] = v
        return out

    residents = [r for r in rows if get(r, "住民区分") == "1"]
    households: dict[str, list[list[str]]] = {}
    for r in residents:
        households.setdefault(get(r, "世帯番号"), []).append(r)
    picked: set[str] = set()

    def first(ok: Callable[[list[str]], bool]) -> list[str]:
        r = next(r for r in residents[len(residents) // 3:] if get(r, "宛名番号") not in picked and ok(r))
        picked.add(get(r, "宛名番号"))
        return r

    out: list[list[str]] = []
    # 転居: a family of three or more, all of them, to a new address in the city
    family = next(m for m in households.values() if len(m) >= 3 and not picked & {get(x, "宛名番号") for x in m})
    picked.update(get(x, "宛名番号") for x in family)
    address = f"{PREFECTURE_CITY}港北区日吉本町{rng.randint(1, 6)}丁目{rng.randint(1, 40)}番{rng.randint(1, 20)}号"
    out += [changed(x, "転居", 住所=address, 方書="", 郵便番号="223-0062") for x in family]
    out.append(changed(first(lambda r: 20 <= age(r) < 60), "転出", 住民区分="2"))
    out.append(changed(first(lambda r: age(r) >= 85), "死亡", 住民区分="3"))
    # 氏の変更 (婚姻): a woman living alone takes a new surname; the given name stays
    bride = first(lambda r: get(r, "性別") == "2" and 25 <= age(r) < 40 and len(households[get(r, "世帯番号")]) == 1)
    out.append(changed(bride, "氏の変更", 漢字氏名=f"高橋\u3000{_name_parts(get(bride, '漢字氏名'))[1]}",
                       カナ氏名=f"タカハシ\u3000{_name_parts(get(bride, 'カナ氏名'), kana=True)[1]}"))
    # 出生: a baby in a household whose head is 25-40, named unlike the siblings
    parent = first(lambda r: get(r, "続柄") == "世帯主" and 25 <= age(r) < 40)
    taken = {_name_parts(get(x, "漢字氏名"))[1] for x in households[get(parent, "世帯番号")]}
    given = next(g for g in _BABY_NAMES if g[0] not in taken)
    born = date.fromordinal(on.toordinal() - 1)
    baby = list(parent)
    top = max(int(get(r, "宛名番号")) for r in rows)
    for c, v in {
        "宛名番号": str(top + 1), "個人番号": checkdigit.generate(rng),
        "漢字氏名": f"{_name_parts(get(parent, '漢字氏名'))[0]}\u3000{given[0]}",
        "カナ氏名": f"{_name_parts(get(parent, 'カナ氏名'), kana=True)[0]}\u3000{given[1]}",
        "生年月日": format_date(born, "iso"), "性別": "2", "続柄": "子",
        "住民区分": "1", "異動事由": "出生", "異動日": format_date(born, "iso"),
    }.items():
        baby[col[c]] = v
    out.append(baby)
    return out


_BABY_NAMES = (("陽葵", "ヒマリ"), ("結菜", "ユイナ"), ("芽依", "メイ"), ("紬", "ツムギ"))


def _name_parts(name: str, *, kana: bool = False) -> tuple[str, str]:
    """(surname, given name) of a name as the extract writes it, a space of either width between.
    A reading comes back as the import stores it (``kana_fullwidth``); kanji are left as they are."""
    s = kana_fullwidth(name) if kana else name.replace(" ", "\u3000").strip()
    surname, _, given = s.partition("\u3000")
    return surname, given.strip("\u3000")


def write_demo_changes(snapshot: str | Path, out: str | Path, on: date, seed: int = 1) -> int:
    """:func:`demo_changes` written as an extract file (UTF-8); returns the number of rows."""
    return _write_rows(out, demo_changes(snapshot, on, seed), "utf-8")


def _leaving_out(rows: Iterable[list[str]], count: int, n: int) -> Iterator[list[str]]:
    status = COLUMNS.index("住民区分")
    step = max(1, count // n) if n > 0 else count + 1
    left, due = 0, step // 2
    for k, cells in enumerate(rows):
        if left < n and k >= due and cells[status] == "1":
            left += 1
            due = k + step
            continue
        yield cells


def main(argv: list[str] | None = None) -> int:
    """``yobo synth residents --count N --seed S --out FILE [...]``."""
    ap = argparse.ArgumentParser(prog="yobo synth", description="合成データの作成 / write synthetic data")
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser(
        "residents",
        help="住民基本台帳の連携ファイル(合成) / a synthetic resident-register extract",
        description="決まったシードから同じ合成住民ファイルを書き出します。 / Writes a deterministic synthetic "
        "resident-register extract (CONTRACTS.md §1).",
    )
    r.add_argument("--count", type=int, default=1000, help="行数 / number of persons (default 1000)")
    r.add_argument("--seed", type=int, default=1, help="乱数のシード / random seed (default 1)")
    r.add_argument("--out", required=True, help="出力ファイル / output CSV file")
    r.add_argument("--encoding", choices=ENCODINGS, default="utf-8", help="文字コード / encoding (default utf-8)")
    r.add_argument("--bom", action="store_true", help="UTF-8 に BOM を付ける / write a UTF-8 BOM")
    r.add_argument("--as-of", default=None, help="基準日 / reference date (default today); no one is born after it")
    r.add_argument("--date-style", choices=DATE_STYLES, default="iso", help="日付の書式 / date format")
    r.add_argument("--kana", choices=KANA_STYLES, default="full", help="カナの幅 / katakana width")
    r.add_argument("--leave-out", type=int, default=0, metavar="N",
                   help="同じファイルから住民N人を除く（全件ファイルの不在確認用） / the same file without N residents "
                   "(a later complete snapshot with persons missing)")
    args = ap.parse_args(argv)
    try:
        as_of = _parse_as_of(args.as_of)
    except DateFormatError as exc:
        print(f"--as-of: {exc}", file=sys.stderr)
        return 2
    if args.count < 0 or args.leave_out < 0:
        print("--count と --leave-out は0以上です / --count and --leave-out must be 0 or more", file=sys.stderr)
        return 2
    encoding = "utf-8-sig" if args.bom and args.encoding == "utf-8" else args.encoding
    try:
        n = write_csv(
            args.out, args.count, args.seed, encoding, as_of,
            date_style=args.date_style, kana=args.kana, progress=sys.stderr.isatty(), leave_out=args.leave_out,
        )
    except OSError as exc:
        print(f"{args.out}: 書き込めません / cannot write: {exc.strerror}", file=sys.stderr)
        return 2
    print(
        f"{n}行の合成住民データを書き出しました / wrote {n} synthetic residents to {args.out} "
        f"(seed {args.seed}, as of {as_of.isoformat()}, {encoding}, dates {args.date_style}, kana {args.kana})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
