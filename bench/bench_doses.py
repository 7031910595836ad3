"""Dose-record import benchmark (issue #5): ``size`` synthetic dose rows (default 1,000,000).

A synthetic city (``yobo synth residents``) large enough for ``size`` doses, its dose histories
(``yobo synth doses``, clinic CSV). For SQLite and PostgreSQL, each in a fresh database and its own
process:

- ``baseline``: the raw floor — the clinic CSV read with ``csv.reader`` and its cells loaded into a
  bare table with no index (COPY on PostgreSQL, ``executemany`` in one transaction on SQLite);
- ``read``: the clinic-CSV reader (``immunizations.formats``) turning rows into ``DoseInput``;
- ``batch``: ``services.record_batch`` on those inputs into the empty ledger — bulk reads of the
  persons and masters, every validation rule, one schedule-engine evaluation of the batch's persons
  with their histories, COPY / executemany of the records, one access-log entry;
- ``rerun``: the same inputs again (everything ``unchanged``);
- ``ledger_tenth``: the active doses of a tenth of the file's persons, read each of the three ways
  a batch can: IN lists (``in_lists_s``, lists up to 20,000 persons), staged in a temporary table
  and joined (``joined_s``, longer lists), one streamed scan of the city's doses (``scan_s``, a
  list of half the persons with doses or more; before, every list above 20,000).

Target: read + batch at least 30% of the baseline's rows per second. Persons are inserted directly
(setup, not measured: the resident import has its own benchmark). PostgreSQL database:
``YOBO_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/yobo_bench_doses``), dropped and
re-created (its name must contain "bench").
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench._common import batch_context, child_django, each_database, raw_baseline, rss_mb

AS_OF = date(2026, 11, 1)
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/yobo_bench_doses"
DOSES_PER_RESIDENT = 3.3  # what the synthetic city yields (Japan-like age pyramid)


def _make_files(size: int, work: Path) -> tuple[Path, Path, int]:
    from yobo.immunizations import synth
    from yobo.people import synth as people_synth

    residents = work / "residents.csv"
    people_synth.write_csv(residents, int(size / DOSES_PER_RESIDENT) + 1000, seed=21, as_of=AS_OF)
    doses = work / "doses.csv"
    # Keep exactly ``size`` rows (the generator yields person by person).
    from itertools import islice

    from yobo.immunizations.formats.clinic_csv import write_clinic_csv

    gen = synth.generate(synth.read_residents(residents), 5, AS_OF)
    n = write_clinic_csv(doses, islice(gen, size))
    return residents, doses, n


def _baseline(path: Path) -> float:
    with path.open(encoding="utf-8", newline="") as f:
        width = len(next(csv.reader(f)))
    return raw_baseline(path, width)


def _persons(residents: Path) -> int:
    from django.conf import settings
    from django.utils import timezone

    from yobo.immunizations import synth
    from yobo.people.models import Person

    now = timezone.now()
    m = settings.MUNICIPALITY_CODE
    batch = [
        Person(municipality=m, atena_no=r.atena_no, household_no=r.atena_no, name_kanji="合成", name_kana="ゴウセイ",
               kanji_key="合成", kana_key="ゴウセイ", birth_date=r.birth, sex=r.sex, address="横浜市", status=r.status,
               status_date=r.status_date, row_hash="x", created_at=now, updated_at=now)
        for r in synth.read_residents(residents)
    ]
    Person.objects.bulk_create(batch, batch_size=5000)
    return len(batch)


def _child(url: str, residents: Path, doses: Path, size: int) -> dict[str, Any]:
    child_django(url, "yobo-bench-doses-")
    from django.db import connection

    from yobo.core.purposes import Purpose
    from yobo.immunizations import services, store
    from yobo.immunizations.formats.clinic_csv import read_clinic_csv

    store.today = lambda: AS_OF  # the synthetic histories end on AS_OF
    ctx = batch_context("bench-admin", str(Purpose.DOSE_IMPORT))
    services.load_demo_masters(ctx)
    out: dict[str, Any] = {"vendor": connection.vendor, "rows": size, "persons": _persons(residents)}
    base = _baseline(doses)
    out["baseline_s"] = round(base, 2)
    out["baseline_rows_per_s"] = round(size / base)
    t0 = time.perf_counter()
    f = read_clinic_csv(doses)
    inputs = list(f)
    out["read_s"] = round(time.perf_counter() - t0, 2)
    out["read_problems"] = len(f.problems)
    out["rss_mb_after_read"] = rss_mb()
    for phase in ("batch", "rerun"):
        t0 = time.perf_counter()
        try:
            r = services.record_batch(ctx, inputs, file_name=doses.name, skip_invalid=True)
        except services.DoseRejected as exc:
            out[f"{phase}_rejected_examples"] = [str(p) for p in exc.file_problems[:5]]
            raise
        out[f"{phase}_s"] = round(time.perf_counter() - t0, 2)
        out[f"{phase}_counts"] = {"inserted": r.inserted, "unchanged": r.unchanged, "rejected": r.rejected,
                                  "with_warnings": r.with_warnings}
        out[f"{phase}_rss_mb"] = rss_mb()
        if phase == "batch":
            out["problems_by_code"] = r.codes
    from django.db import transaction

    tenth = sorted({i.atena_no for i in inputs})[::10]
    in_lists = store._IN_LISTS
    for way, limit, whole in (("in_lists", 10**9, False), ("joined", 0, False), ("scan", 0, True)):
        store._IN_LISTS = limit  # force the way: the batch itself picks by the list's length
        t0 = time.perf_counter()
        with transaction.atomic():
            ledger = store.load_ledger(tenth, whole_city=whole)
        out[f"ledger_tenth_{way}_s"] = round(time.perf_counter() - t0, 2)
        out["ledger_tenth"] = {"persons": len(tenth), "doses": len(ledger.keys)}
    store._IN_LISTS = in_lists
    total = out["read_s"] + out["batch_s"]
    out["import_rows_per_s"] = round(size / total)
    out["import_vs_baseline"] = round(out["import_rows_per_s"] / out["baseline_rows_per_s"], 3)
    out["batch_only_vs_baseline"] = round(base / out["batch_s"], 3)
    out["target_30pct_met"] = out["import_vs_baseline"] >= 0.30
    return out


def run(size: int | None = None) -> dict[str, Any]:
    size = size or 1_000_000
    work = Path(tempfile.mkdtemp(prefix="yobo-bench-dose-files-"))
    t0 = time.perf_counter()
    residents, doses, n = _make_files(size, work)
    result: dict[str, Any] = {"size": n, "synth_s": round(time.perf_counter() - t0, 1)}
    result.update(each_database("bench.bench_doses", PG_DEFAULT, [str(residents), str(doses), str(n)],
                                then_remove=work))
    return result


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        res = _child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]))
        print(json.dumps(res, ensure_ascii=False))
    else:
        print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else None), ensure_ascii=False, indent=2))
