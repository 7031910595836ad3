"""Schedule engine over a synthetic city: every series, one date, persons per second.

Population: birth dates spread like Japan's 2024 age pyramid (5-year bands), half male / half female.
Histories: children get the standard schedule (定期接種実施要領 standard ages) with jitter, ~93% uptake
per dose and some drop-out; a few early (invalid) doses; older adults get this season's flu (50%),
COVID-19 (20%), PPSV23 once at 65-66 (40%) and zoster (10%).
Raw baseline, measured in the same run: a plain Python loop that only computes each person's age.
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np

from yobo.schedule.ages import age_in_years
from yobo.schedule.engine import CODE_INDEX, STATUS_NAMES, Engine, History

AS_OF = date(2025, 11, 1)
# Population in millions by 5-year band 0-4 .. 95-99, 100+ (rounded national estimates).
PYRAMID = [4.1, 4.8, 5.2, 5.5, 6.3, 6.4, 6.4, 7.1, 7.9, 9.3, 9.5, 8.2, 7.4, 7.4, 9.0, 7.3, 6.0, 4.0, 1.9, 0.5, 0.09]
# (code, [(standard age in days, jitter days)] per dose)
CHILD = [
    ("HIB", [(61, 20), (95, 20), (125, 25), (380, 40)]),
    ("PCV", [(61, 20), (95, 20), (125, 25), (380, 40)]),
    ("HEPB", [(61, 20), (95, 20), (240, 40)]),
    ("ROTA", [(61, 10), (95, 10)]),
    ("DPT-IPV-HIB", [(61, 20), (95, 20), (125, 25), (480, 60)]),
    ("DPT-IPV", [(61, 20), (95, 20), (125, 25), (480, 60)]),
    ("BCG", [(160, 40)]),
    ("MR1", [(370, 30)]),
    ("VAR", [(370, 30), (560, 60)]),
    ("MR2", [(2100, 100)]),
    ("JE1", [(1100, 60), (1130, 60), (1480, 60)]),
    ("JE2", [(3300, 100)]),
    ("DT", [(4050, 100)]),
]


def population(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    w = np.array(PYRAMID) / sum(PYRAMID)
    band = rng.choice(len(PYRAMID), size=n, p=w)
    age_days = (band * 5 * 365.25 + rng.uniform(0, 5 * 365.25, n)).astype(np.int64)
    birth = np.datetime64(AS_OF, "D") - age_days.astype("timedelta64[D]")
    sex = rng.integers(1, 3, n, dtype=np.int8)
    return birth, sex


def histories(birth: np.ndarray, sex: np.ndarray, rng: np.random.Generator) -> History:
    a = np.datetime64(AS_OF, "D")
    age = (a - birth).astype(np.int64)
    persons, codes, dates = [], [], []
    kids = np.nonzero(age < 16 * 366)[0]
    penta = birth[kids] >= np.datetime64("2024-02-01")  # pentavalent replaces DPT-IPV + Hib
    for code, doses in CHILD:
        alive = np.ones(len(kids), bool)
        if code == "DPT-IPV-HIB":
            alive &= penta
        elif code in ("DPT-IPV", "HIB"):
            alive &= ~penta
        shift = rng.integers(-doses[0][1] // 3, doses[0][1], len(kids))  # late or early starter
        for std, _jit in doses:
            alive &= rng.random(len(kids)) < 0.93
            offs = std + shift + rng.integers(0, 10, len(kids))
            d = birth[kids] + offs.astype("timedelta64[D]")
            m = alive & (d <= a)
            persons.append(kids[m])
            codes.append(np.full(m.sum(), CODE_INDEX[code], np.int16))
            dates.append(d[m])
    girls = kids[(sex[kids] == 2) & (age[kids] > 12 * 365)]
    for k, off in enumerate((4600, 4780)):
        m = rng.random(len(girls)) < (0.4 if k == 0 else 0.35)
        d = birth[girls] + (off + rng.integers(0, 200, len(girls))).astype("timedelta64[D]")
        m &= d <= a
        persons.append(girls[m])
        codes.append(np.full(m.sum(), CODE_INDEX["HPV"], np.int16))
        dates.append(d[m])
    old = np.nonzero(age >= 65 * 365)[0]
    season_start = np.datetime64("2025-10-01")
    for code, p in (("FLU-B", 0.5), ("COVID-B", 0.2)):
        m = rng.random(len(old)) < p
        d = season_start + rng.integers(0, 31, len(old)).astype("timedelta64[D]")
        persons.append(old[m])
        codes.append(np.full(m.sum(), CODE_INDEX[code], np.int16))
        dates.append(d[m])
    for code, p in (("PPSV-B", 0.4), ("HZ-B", 0.1)):
        m = rng.random(len(old)) < p
        d = birth[old] + (65 * 365 + rng.integers(0, 365, len(old))).astype("timedelta64[D]")
        m &= d <= a
        persons.append(old[m])
        codes.append(np.full(m.sum(), CODE_INDEX[code], np.int16))
        dates.append(d[m])
    person = np.concatenate(persons)
    return History(
        person=person,
        code=np.concatenate(codes),
        date=np.concatenate(dates),
        product=np.full(len(person), -1, np.int16),
    )


def run(size: int | None = None) -> dict[str, object]:
    n = size or 1_000_000
    rng = np.random.default_rng(20251101)
    birth, sex = population(n, rng)
    hist = histories(birth, sex, rng)

    t0 = time.perf_counter()
    births = birth.tolist()  # datetime.date objects
    ages = [age_in_years(b, AS_OF) for b in births]
    baseline = time.perf_counter() - t0
    if len(ages) != n:
        raise RuntimeError("baseline lost persons")

    t0 = time.perf_counter()
    engine = Engine()  # rule compilation, once
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = engine.evaluate_population(birth, sex, hist, AS_OF)
    seconds = time.perf_counter() - t0

    counts = {
        code: {STATUS_NAMES[k]: int(v) for k, v in zip(*np.unique(sr.status, return_counts=True), strict=True) if k}
        for code, sr in res.series.items()
    }
    return {
        "persons": n,
        "history_rows": len(hist),
        "series": len(res.series),
        "seconds": round(seconds, 3),
        "persons_per_second": round(n / seconds),
        "compile_seconds": round(compile_s, 4),
        "baseline_age_loop_seconds": round(baseline, 3),
        "ratio_to_baseline": round(seconds / baseline, 2),
        "status_counts": counts,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), ensure_ascii=False, indent=2))
