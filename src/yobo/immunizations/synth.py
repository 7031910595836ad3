"""Synthetic dose histories for the synthetic city (合成接種履歴), for demos, tests and benchmarks.

Pure (no Django). Reads a resident extract written by ``yobo synth residents`` (CONTRACTS.md §1) and
produces, per person, the routine doses a child or an older person of that age would have had by
``as_of``, following the standard ages of the 定期接種実施要領: most children complete and on time,
some late (some of those doses fall outside the rules and are kept with warnings), some stop
part-way, a few have none; older people take the B類 vaccines at realistic rates. Deterministic for
a seed: the same residents, seed and date give the same file.

    yobo synth doses --residents FILE --out FILE [--seed S] [--format clinic|vrs] [--as-of DATE]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from yobo.core.wareki import DateFormatError, parse_date
from yobo.schedule.ages import add_months, attain_years, fiscal_year

from . import demo
from .inputs import Category, DoseInput, Source

LEDGER_START = date(2013, 4, 1)  # doses before this are not in the synthetic ledger
ADULT_START = date(2022, 4, 1)  # B類 doses from FY2022 on


@dataclass(frozen=True, slots=True)
class Resident:
    atena_no: str
    birth: date
    sex: int
    status: int
    status_date: date | None


def read_residents(path: str | Path) -> Iterator[Resident]:
    """宛名番号, 生年月日, 性別, 住民区分, 異動日 of a resident extract (UTF-8 or CP932; 和暦 dates ok)."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp932")
    reader = csv.reader(text.splitlines())
    header = next(reader, [])
    col = {h.strip(): i for i, h in enumerate(header)}
    need = ("宛名番号", "生年月日", "性別", "住民区分")
    missing = [c for c in need if c not in col]
    if missing:
        raise ValueError(f"{path}: 列がありません / missing columns: {', '.join(missing)}")
    moved = col.get("異動日")
    cache: dict[str, date] = {}

    def day(s: str) -> date:
        d = cache.get(s)
        if d is None:
            d = cache[s] = parse_date(s)
        return d

    for row in reader:
        if not row:
            continue
        sex = 2 if row[col["性別"]].strip() in ("2", "女") else 1
        sd = row[moved].strip() if moved is not None and moved < len(row) else ""
        yield Resident(row[col["宛名番号"]].strip(), day(row[col["生年月日"]]), sex,
                       int(row[col["住民区分"]].strip() or 1), day(sd) if sd else None)


# (vaccine, age in months at the first dose, gaps in days before each later dose, first birth date)
_CHILD: tuple[tuple[str, int, tuple[int, ...], date], ...] = (
    ("PCV", 2, (28, 28, 240), date(2013, 2, 1)),
    ("HEPB", 2, (28, 140), date(2016, 8, 1)),  # routine from 2016-10-01
    ("BCG", 5, (), date(2012, 4, 1)),
    ("MR1", 12, (), date(2011, 4, 1)),
    ("VAR", 12, (180,), date(2013, 10, 1)),
    ("JE1", 36, (14, 365), date(2008, 4, 1)),
    ("JE2", 108, (), date(2003, 4, 1)),
    ("DT", 132, (), date(2001, 4, 1)),
)  # fmt: skip
_FIVE_IN_ONE_FROM = date(2024, 2, 1)  # first dose at 2 months falls on or after 2024-04-01
_ROTA_FROM = date(2020, 8, 1)
_DOCTORS = ("佐藤 健一", "鈴木 由美", "高橋 誠", "田中 直子", "伊藤 大輔", "渡辺 彩", "山本 剛", "中村 恵")


class _Maker:
    """Fills the items of a dose (clinic, doctor, product, lot, amount, claim month)."""

    def __init__(self) -> None:
        self.clinics = demo.clinics()[:-1]  # the last one's contract ended
        self.products = {p.code: p for p in demo.products()}
        self.lots = {p.code: demo.lot_numbers(p.code) for p in demo.products()}

    def lot(self, product: str, on: date, rng: random.Random) -> str:
        fit = [lot for lot, exp in self.lots[product] if exp >= on and int("20" + lot[2:4]) <= on.year]
        return rng.choice(fit) if fit else self.lots[product][-1][0]

    def dose(self, r: Resident, vaccine: str, n: int, on: date, clinic: int, product: str,
             rng: random.Random) -> DoseInput:
        p = self.products[product]
        c = self.clinics[clinic % len(self.clinics)]
        nxt = add_months(on, 1)
        return DoseInput(
            atena_no=r.atena_no, vaccine=vaccine, date=on, dose_number=n, clinic_code=c.code, venue=c.name,
            doctor=_DOCTORS[(clinic + n) % len(_DOCTORS)], product_code=product, manufacturer=p.manufacturer,
            lot_number=self.lot(product, on, rng), amount_ml=p.standard_amount_ml, category=Category.ROUTINE,
            claim_month=f"{nxt.year:04d}{nxt.month:02d}", source=Source.CLINIC_CSV,
        )


def _child_doses(r: Resident, rng: random.Random, mk: _Maker, as_of: date) -> Iterator[DoseInput]:
    u = rng.random()
    late, stop_after = (0, 99) if u < 0.80 else (rng.randint(30, 150), 99) if u < 0.92 else \
        (0, rng.randint(1, 3)) if u < 0.97 else (0, 0)  # fmt: skip
    clinic = rng.randrange(len(mk.clinics))
    plans = list(_CHILD)
    if r.birth >= _FIVE_IN_ONE_FROM:
        plans.append(("DPT-IPV-HIB", 2, (28, 28, 240), _FIVE_IN_ONE_FROM))
    else:
        plans.append(("HIB", 2, (28, 28, 240), date(2012, 11, 1)))
        plans.append(("DPT-IPV", 3, (28, 28, 365), date(2012, 4, 1)))
    if r.birth >= _ROTA_FROM:
        rv5 = rng.random() < 0.15
        plans.append(("ROTA", 2, (28, 28) if rv5 else (28,), _ROTA_FROM))
    mr2 = date(fiscal_year(attain_years(r.birth, 6)), 5, 1) + timedelta(days=rng.randrange(200))
    for vaccine, months, gaps, born_from in plans:
        if r.birth < born_from:
            continue
        on = add_months(r.birth, months) + timedelta(days=rng.randrange(3, 25) + late)
        product = _product(vaccine, rng, r)
        if vaccine == "ROTA":
            product = "RV5" if len(gaps) == 2 else "RV1"
        if on < LEDGER_START:
            continue  # a series begun before the ledger's start is not in the synthetic ledger at all
        for n in range(1, len(gaps) + 2):
            if n > stop_after or on > as_of:
                break
            if on >= LEDGER_START and _alive_here(r, on):
                yield mk.dose(r, vaccine, n, on, clinic, product, rng)
            if n <= len(gaps):
                on += timedelta(days=gaps[n - 1] + rng.randrange(0, 10))
    if r.birth >= date(2011, 4, 1) and stop_after > 1 and mr2 <= as_of and mr2 >= LEDGER_START and \
            _alive_here(r, mr2) and rng.random() < 0.93:  # fmt: skip
        yield mk.dose(r, "MR2", 1, mr2, clinic, _product("MR2", rng, r), rng)
    if r.sex == 2 and r.birth >= date(2008, 4, 2) and rng.random() < 0.4:
        on = add_months(r.birth, 150) + timedelta(days=rng.randrange(0, 200))
        product = _product("HPV", rng, r)
        gaps3 = (60, 120) if product != "SILGARD9" else (180,)
        if on < LEDGER_START:
            return
        for n in range(1, len(gaps3) + 2):
            if on > as_of:
                break
            if on >= LEDGER_START and _alive_here(r, on):
                yield mk.dose(r, "HPV", n, on, clinic, product, rng)
            if n <= len(gaps3):
                on += timedelta(days=gaps3[n - 1] + rng.randrange(0, 30))


def _adult_doses(r: Resident, rng: random.Random, mk: _Maker, as_of: date) -> Iterator[DoseInput]:
    clinic = rng.randrange(len(mk.clinics))
    sixty_five = attain_years(r.birth, 65)
    for fy in range(ADULT_START.year, fiscal_year(as_of) + 1):
        season = date(fy, 10, 1) + timedelta(days=rng.randrange(0, 80))
        if season > as_of or season < sixty_five or not _alive_here(r, season):
            continue
        if rng.random() < 0.5:
            yield mk.dose(r, "FLU-B", 1, season, clinic, _product("FLU-B", rng, r), rng)
        covid = season + timedelta(days=7)
        if fy >= 2024 and covid <= as_of and _alive_here(r, covid) and rng.random() < 0.2:
            yield mk.dose(r, "COVID-B", 1, covid, clinic, _product("COVID-B", rng, r), rng)
    on = sixty_five + timedelta(days=rng.randrange(20, 300))
    if ADULT_START <= on <= as_of and _alive_here(r, on) and rng.random() < 0.3:
        yield mk.dose(r, "PPSV-B", 1, on, clinic, "PNEUMOVAX", rng)
    on = max(sixty_five, date(2025, 4, 1)) + timedelta(days=rng.randrange(30, 200))
    if on <= as_of and on < attain_years(r.birth, 66) and _alive_here(r, on) and rng.random() < 0.2:
        yield mk.dose(r, "HZ-B", 1, on, clinic, "SHINGRIX", rng)
        second = on + timedelta(days=70 + rng.randrange(0, 60))
        if second <= as_of and _alive_here(r, second):
            yield mk.dose(r, "HZ-B", 2, second, clinic, "SHINGRIX", rng)


def _product(vaccine: str, rng: random.Random, r: Resident) -> str:
    choices = demo.PREFERRED[vaccine]
    # Mostly the first product; older cohorts of PCV and HPV had the older products.
    if vaccine == "PCV":
        return "PCV20" if r.birth >= date(2024, 8, 1) else "PCV13"
    return choices[0] if rng.random() < 0.7 else rng.choice(choices)


def _alive_here(r: Resident, on: date) -> bool:
    """Resident of the city on that day (doses after moving out or death are not ours)."""
    return r.status == 1 or r.status_date is None or on <= r.status_date


def generate(residents: Iterator[Resident] | list[Resident], seed: int, as_of: date) -> Iterator[DoseInput]:
    """Every synthetic dose of the residents, person by person, in date order per person."""
    mk = _Maker()
    for r in residents:
        if r.birth > as_of:
            continue
        rng = random.Random(f"{seed}:{r.atena_no}")  # noqa: S311 - synthetic data, reproducible by seed
        age = as_of.year - r.birth.year
        out: list[DoseInput] = []
        if age <= 16:
            out.extend(_child_doses(r, rng, mk, as_of))
        if age >= 65:
            out.extend(_adult_doses(r, rng, mk, as_of))
        out.sort(key=lambda d: (d.date, d.vaccine))
        yield from out


def write(residents_path: str | Path, out: str | Path, *, seed: int = 1, as_of: date | None = None,
          fmt: str = "clinic", encoding: str = "utf-8") -> int:
    """Write the synthetic doses as a clinic CSV (every vaccine) or a VRS CSV (COVID-B only, the
    vaccine VRS records). Returns the number of doses written."""
    on = as_of or date.today()
    doses = generate(read_residents(residents_path), seed, on)
    if fmt == "vrs":
        from .formats.vrs_csv import group_by_person, write_vrs_csv

        covid = [d for d in doses if d.vaccine == "COVID-B"]
        for d in covid:
            d.source = Source.VRS
        counts: dict[str, int] = {}
        for d in covid:
            counts[d.atena_no] = counts.get(d.atena_no, 0) + 1
            d.dose_number = counts[d.atena_no]
        write_vrs_csv(out, group_by_person(covid), max(counts.values(), default=1), encoding)
        return len(covid)
    from .formats.clinic_csv import write_clinic_csv

    return write_clinic_csv(out, doses, encoding)


def main(argv: list[str] | None = None) -> int:
    """``yobo synth doses --residents FILE --out FILE [--seed S] [--format clinic|vrs] [--as-of DATE]``."""
    ap = argparse.ArgumentParser(prog="yobo synth doses",
                                 description="合成住民の接種履歴を書き出します / write synthetic dose histories")
    ap.add_argument("--residents", required=True, help="合成住民ファイル / resident extract (yobo synth residents)")
    ap.add_argument("--out", required=True, help="出力ファイル / output CSV")
    ap.add_argument("--seed", type=int, default=1, help="乱数のシード / random seed (default 1)")
    ap.add_argument("--format", choices=("clinic", "vrs"), default="clinic",
                    help="clinic: 医療機関CSV (全ワクチン) / vrs: VRS CSV (新型コロナのみ)")
    ap.add_argument("--as-of", default=None, help="基準日 / reference date (default today)")
    ap.add_argument("--encoding", choices=("utf-8", "cp932"), default="utf-8")
    args = ap.parse_args(argv)
    try:
        as_of = parse_date(args.as_of) if args.as_of else date.today()
    except DateFormatError as exc:
        print(f"--as-of: {exc}", file=sys.stderr)
        return 2
    try:
        n = write(args.residents, args.out, seed=args.seed, as_of=as_of, fmt=args.format, encoding=args.encoding)
    except (OSError, ValueError, DateFormatError) as exc:
        print(f"合成接種履歴を書けません / cannot write synthetic doses: {exc}", file=sys.stderr)
        return 2
    print(f"{n}件の合成接種記録を書き出しました / wrote {n} synthetic doses to {args.out} "
          f"(seed {args.seed}, as of {as_of.isoformat()}, {args.format})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
