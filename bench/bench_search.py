"""Staff search at city scale (issue #3, decision 058): ``people.lookup.search`` on a register of
``size`` synthetic residents (default 1,000,000), loaded by the real import, on SQLite and
PostgreSQL (each in a fresh database and its own process).

Cases, each for 8 persons drawn from the file (seeded), the median of 3 runs per person (ms): a
kana full name, a kana surname, a kana given name, a kanji full name, a kanji surname (two
characters: too short for a trigram), a birth date, a kana surname with the birth date, an
address fragment as the register writes it and as forms write it (本町3-12-5), a 宛名番号. Each
search goes through the door and logs one access-log entry per person shown (up to 50), as the
staff screen does; that is part of the time.

Raw baseline, measured in the same run for each case: the same match as one plain read of every
person (``SELECT count(*)`` with the case's filter, no index: ``NOT INDEXED`` on SQLite, index and
bitmap scans off on PostgreSQL) — what a search costs when nothing serves it.
``baseline_vs_search`` = baseline ms ÷ search ms (above 1: the search beats a scan).

PostgreSQL database: ``YOBO_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/yobo_bench_search``),
dropped and re-created (its name must contain "bench"). ``YOBO_BENCH_ONLY=sqlite|postgresql``: one.
"""

from __future__ import annotations

import csv
import json
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench._common import batch_context, child_django, each_database, rss_mb

AS_OF = "2025-09-01"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/yobo_bench_search"
PEOPLE = 8
RUNS = 3
_KANJI_DIGITS = str.maketrans("一二三四五六七八九", "123456789")


def _samples(path: Path, n: int) -> list[dict[str, str]]:
    """``n`` residents of the file, drawn with a fixed seed (reservoir: one pass, flat memory)."""
    rnd = random.Random(9)
    picked: list[dict[str, str]] = []
    with path.open(encoding="utf-8", newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            if row["住民区分"] != "1":
                continue
            if len(picked) < n:
                picked.append(row)
            elif (j := rnd.randrange(i + 1)) < n:
                picked[j] = row
    return picked


def _cases(people: list[dict[str, str]]) -> dict[str, list[dict[str, Any]]]:
    """Search criteria per case, one per person (the keys of ``lookup.Criteria``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for p in people:
        sur_kana, _, given_kana = p["カナ氏名"].partition("　")
        sur_kanji = p["漢字氏名"].partition("　")[0]
        born = date.fromisoformat(p["生年月日"])
        # "…区白楽25番地" → "白楽25番地": what a clerk types of an address
        fragment = p["住所"].rpartition("区")[2] or p["住所"][-8:]
        # "日吉本町三丁目12番5号" → "日吉本町3-12-5": the same block as a form writes it
        chome = re.sub(r"[一二三四五六七八九]+(?=丁目)", lambda m: m[0].translate(_KANJI_DIGITS), fragment)
        form = re.sub(r"(丁目|番地の|番地|番|号)(?=\d|$)", "-", chome).rstrip("-")
        for case, crit in (
            ("kana_full", {"name": p["カナ氏名"]}),
            ("kana_surname", {"name": sur_kana}),
            ("kana_given", {"name": given_kana}),
            ("kanji_full", {"name": p["漢字氏名"]}),
            ("kanji_surname", {"name": sur_kanji}),
            ("birth_date", {"birth_date": born}),
            ("kana_surname_and_birth", {"name": sur_kana, "birth_date": born}),
            ("address", {"address": fragment}),
            ("address_as_forms_write_it", {"address": form}),
            ("atena_no", {"atena_no": p["宛名番号"]}),
        ):
            out.setdefault(case, []).append(crit)
    return out


def _baseline_ms(crit: dict[str, Any]) -> float:
    """One plain read of every person testing the same match (no index), in ms."""
    from django.conf import settings
    from django.db import connection, transaction

    from yobo.core.text import address_key, search_key
    from yobo.people import lookup

    where, params = ["municipality = %s"], [settings.MUNICIPALITY_CODE]
    if crit.get("name"):
        key = search_key(crit["name"])
        where.append(f"{'kana_key' if lookup._is_kana(key) else 'kanji_key'} LIKE %s")
        params.append(f"%{key}%")
    if crit.get("birth_date"):
        where.append("birth_date = %s")
        params.append(crit["birth_date"])
    if crit.get("address"):
        where.append("address_key LIKE %s")
        params.append(f"%{address_key(crit['address'])}%")
    if crit.get("atena_no"):
        where.append("atena_no = %s")
        params.append(crit["atena_no"])
    pg = connection.vendor == "postgresql"
    sql = f"SELECT count(*) FROM people_person{'' if pg else ' NOT INDEXED'} WHERE {' AND '.join(where)}"
    with transaction.atomic(), connection.cursor() as cur:
        if pg:
            cur.execute("SET LOCAL enable_indexscan = off")
            cur.execute("SET LOCAL enable_bitmapscan = off")
        t0 = time.perf_counter()
        cur.execute(sql, params)
        cur.fetchone()
        return (time.perf_counter() - t0) * 1000


def _child(url: str, path: Path, size: int) -> dict[str, Any]:
    child_django(url, "yobo-bench-search-")
    from django.db import connection

    from yobo.core.purposes import Purpose
    from yobo.people import lookup
    from yobo.people.services import import_residents

    ctx = batch_context("bench-search", str(Purpose.RESIDENT_SYNC))
    out: dict[str, Any] = {"vendor": connection.vendor, "rows": size}
    t0 = time.perf_counter()
    import_residents(ctx, path, as_of=date.fromisoformat(AS_OF), on_problem=lambda p: None)
    out["import_s"] = round(time.perf_counter() - t0, 1)
    search_ctx = ctx.for_purpose(str(Purpose.PERSON_INQUIRY))
    cases = _cases(_samples(path, PEOPLE))
    for case, crits in cases.items():
        times, bases, hits, more = [], [], 0, 0
        for c in crits:
            runs = []
            for _ in range(RUNS):
                t = time.perf_counter()
                r = lookup.search(search_ctx, lookup.Criteria(**c))
                runs.append((time.perf_counter() - t) * 1000)
            times.append(statistics.median(runs))
            bases.append(_baseline_ms(c))
            hits += len(r.persons)
            more += r.more
        med, base = statistics.median(times), statistics.median(bases)
        out[case] = {"search_ms": round(med, 1), "max_ms": round(max(times), 1), "baseline_scan_ms": round(base, 1),
                     "baseline_vs_search": round(base / med, 1), "hits_per_search": round(hits / len(crits), 1),
                     "over_limit": more}
    out["rss_mb"] = rss_mb()
    return out


def run(size: int | None = None) -> dict[str, Any]:
    size = size or 1_000_000
    work = Path(tempfile.mkdtemp(prefix="yobo-bench-search-files-"))
    from yobo.people import synth

    t0 = time.perf_counter()
    path = work / "residents.csv"
    synth.write_csv(path, size, seed=11, as_of=AS_OF)
    result: dict[str, Any] = {"size": size, "synth_s": round(time.perf_counter() - t0, 1)}
    result.update(each_database("bench.bench_search", PG_DEFAULT, [str(path), str(size)], then_remove=work))
    return result


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])), ensure_ascii=False))
    else:
        print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else None), ensure_ascii=False, indent=2))
