"""Certificates benchmark: (a) search + sign, (b) the PDF, (c) the API read path.

``size`` persons (default 2,000), each with 4–8 doses, are bulk-loaded; then

(a) ``search_sign``: for 200 random persons, the window flow as staff run it through the door —
    search by the three basic items (address, name in half-width kana, birth date), identify the
    person picked, issue (read person and doses, sign the SMART Health Card, record the
    certificate). p50/p95 in ms (target p95 < 50 ms); ``with_application_*`` adds the receipt of
    the application that precedes the search. Raw baseline in the same run: the same
    person and dose rows fetched by plain ORM queries and one ``shc.build_cards`` (no door, no
    log, no records) — the irreducible cost of signing.
(b) ``pdf``: ``certificate_document`` + ``pdf.render`` of issued certificates, p50/p95 in ms.
(c) ``api``: ``GET /fhir/Patient/<宛名番号>`` with a system client's bearer credential, through the
    whole Django stack (middleware, client authentication, door, FHIR), in-process, sequentially
    and from 4 threads: requests/s (target 200). Raw baseline: the same Person row read by the ORM
    and serialised with ``fhir.patient`` without the stack.

Database: ``YOBO_DATABASE_URL`` (a PostgreSQL database whose name contains "bench" is dropped and
re-created), unset: a fresh SQLite file under /tmp. Keys go to a temporary directory.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.bench_audit import _prepare_database

KANA = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"
SERIES = ("HIB", "PCV", "HEPB", "BCG", "MR1", "VAR", "DPT-IPV-HIB", "ROTA")


def _setup() -> str:
    vendor = _prepare_database()
    os.environ["YOBO_KEY_DIR"] = tempfile.mkdtemp(prefix="yobo-bench-keys-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yobo.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.KEY_DIR = Path(os.environ["YOBO_KEY_DIR"])
    call_command("migrate", verbosity=0)
    from yobo.audit.signing import ensure_key
    from yobo.certificates import issuer_keys
    from yobo.mynumber import keys

    ensure_key()
    keys.ensure_keys()
    issuer_keys.ensure_keys()
    return vendor


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(p * len(s)))] * 1000, 2)


def _load(n: int, rng: random.Random) -> list[tuple[str, str, str, date]]:
    """n persons with doses; returns (atena, address, kana name, birth) per person."""
    from django.conf import settings
    from django.utils import timezone

    from yobo.access.models import Staff
    from yobo.core.text import address_key, search_key
    from yobo.immunizations.models import Dose
    from yobo.people.models import Person

    m = settings.MUNICIPALITY_CODE
    now = timezone.now()
    today = date.today()
    persons, doses, out = [], [], []
    entry = Staff.objects.create_user(username="bench.entry", password=None)
    for i in range(n):
        atena = f"{1000000000 + i}"
        fam = "".join(rng.choice(KANA) for _ in range(3))
        giv = "".join(rng.choice(KANA) for _ in range(3))
        kana = f"{fam}　{giv}"
        born = date(2015, 1, 1) + timedelta(days=rng.randrange(3000))
        address = f"横浜市中区本町{rng.randrange(1, 9)}丁目{i % 50 + 1}番{i % 9 + 1}号"
        persons.append(Person(municipality=m, atena_no=atena, household_no=atena, name_kanji=f"試験　{kana}",
                              name_kana=kana, kanji_key=search_key(f"試験{kana}"), kana_key=search_key(kana),
                              birth_date=born, sex=rng.choice((1, 2)), address=address,
                              address_key=address_key(address), postal_code="2310005",
                              status=1, row_hash="x", created_at=now, updated_at=now))
        out.append((atena, address, f"{fam} {giv}", born))
    Person.objects.bulk_create(persons, batch_size=2000)
    ids = dict(Person.objects.filter(municipality=m).values_list("atena_no", "id"))
    for atena, _addr, _name, born in out:
        for k, vac in enumerate(rng.sample(SERIES, rng.randrange(4, 9))):
            on = min(born + timedelta(days=60 + 90 * k), today - timedelta(days=1))
            doses.append(Dose(municipality=m, atena_no=atena, person_id=ids[atena], vaccine=vac, date=on,
                              fiscal_year=on.year, age_years=0, age_months=0, age_fy_end=0,
                              lot_number=f"L{k}{atena[-4:]}", source="keyed", entered_on=today, entered_by=entry))
    Dose.objects.bulk_create(doses, batch_size=5000)
    return out


def _to_half(s: str) -> str:
    """Full-width katakana as staff type it in half width (ﾔﾏﾀﾞ): NFKC maps only the other way, so the
    table is the reverse of the half-width block."""
    import unicodedata

    rev = {unicodedata.normalize("NFKC", chr(h)): chr(h) for h in range(0xFF66, 0xFF9E)}
    return "".join(rev.get(c, c) for c in s)


def run(size: int | None = None) -> dict[str, Any]:
    n = size or 2000
    vendor = _setup()
    from django.test import Client

    from yobo.access import clients
    from yobo.access.models import Terminal
    from yobo.api import fhir
    from yobo.certificates import issuer_keys, pdf, selectors, services, shc
    from yobo.certificates.services import ApplicationInput
    from yobo.core.context import AccessContext
    from yobo.core.purposes import Duty, Purpose
    from yobo.immunizations.models import Dose
    from yobo.people import lookup
    from yobo.people.models import Person

    rng = random.Random(7)
    t0 = time.perf_counter()
    people = _load(n, rng)
    load_s = time.perf_counter() - t0
    Terminal.objects.create(name="bench-term", kind="web")
    from django.contrib.auth import get_user_model

    from yobo.access.models import DutyRole

    role = DutyRole.objects.create(code="bench", name="bench", duties=[Duty.CERTIFICATE.value, Duty.ADMIN.value])
    staff = get_user_model().objects.create_user(username="bench.shomei", password=None)
    staff.roles.add(role)
    ctx = AccessContext(staff.pk, staff.username, "", staff.duties(), "bench-term", Purpose.CERTIFICATE_ISSUANCE.value)

    # (a) search + sign through the door, and the raw baseline
    sample = rng.sample(people, min(200, n))
    flow_t: list[float] = []
    door_t: list[float] = []
    issued: list[str] = []
    ambiguous = 0
    for atena, address, name, born in sample:
        t = time.perf_counter()
        app = services.receive_application(ctx, ApplicationInput("self", "申請者", ("driver_license",)))
        t1 = time.perf_counter()
        found = selectors.search_three_items(ctx, address=address, name=_to_half(name), birth_date=born)
        ambiguous += found.ambiguous
        pick = next(p.atena_no for p in found.persons if p.atena_no == atena)
        services.identify(ctx, app, pick, "three_items")
        issued.append(services.issue(ctx, app).certificate_id)
        t2 = time.perf_counter()
        door_t.append(t2 - t1)
        flow_t.append(t2 - t)
    key = issuer_keys.require().signing_key()
    raw_t: list[float] = []
    for atena, _address, _name, _born in sample:
        t = time.perf_counter()
        p = Person.objects.filter(atena_no=atena).values("name_kanji", "birth_date").first()
        if p is None:
            raise SystemExit(f"missing person {atena}")
        rows = list(Dose.objects.filter(atena_no=atena, state="active").order_by("date")
                    .values_list("vaccine", "date", "lot_number"))
        fam, _, giv = p["name_kanji"].replace("\u3000", " ").partition(" ")
        subject = shc.CardSubject((shc.CardName(fam, giv),), p["birth_date"],
                                  tuple(shc.CardDose(v, d, lot) for v, d, lot in rows))
        shc.build_cards(subject, key, iss="https://bench.example")
        raw_t.append(time.perf_counter() - t)

    # (b) PDF
    pdf_t: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for cid in issued[:50]:
            t = time.perf_counter()
            doc = selectors.certificate_document(ctx, cid)
            pdf.render(doc, Path(tmp) / f"{cid}.pdf", "141003")
            pdf_t.append(time.perf_counter() - t)

    # (c) API read path
    admin = AccessContext(staff.pk, staff.username, "", staff.duties(), "bench-term", Purpose.ADMINISTRATION.value)
    _info, token = clients.register(admin, "bench", duties=[Duty.CLERK], purposes=["P02"])
    client = Client(HTTP_HOST="localhost")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    targets = [rng.choice(people)[0] for _ in range(1000)]
    for a in targets[:20]:  # warm up
        client.get(f"/fhir/Patient/{a}", **headers)
    t = time.perf_counter()
    for a in targets:
        r = client.get(f"/fhir/Patient/{a}", **headers)
        if r.status_code != 200:
            raise SystemExit(f"API answered {r.status_code}")
    api_s = time.perf_counter() - t
    # The same requests from 4 threads (a threaded WSGI server's shape): the database round trips of
    # one request overlap another's Python work.
    import threading

    from django.db import connection

    def worker(chunk: list[str], errors: list[int]) -> None:
        c = Client(HTTP_HOST="localhost")
        try:
            for a in chunk:
                if c.get(f"/fhir/Patient/{a}", **headers).status_code != 200:
                    errors.append(1)
        finally:
            connection.close()

    errs: list[int] = []
    threads = [threading.Thread(target=worker, args=(targets[i::4], errs)) for i in range(4)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    api_threads_s = time.perf_counter() - t
    if errs:
        raise SystemExit(f"{len(errs)} threaded API calls failed")
    t = time.perf_counter()
    for a in targets:
        row = Person.objects.filter(atena_no=a).values(*lookup.PERSON_FIELDS).first()
        if row is None:
            raise SystemExit(f"missing person {a}")
        fhir.patient(lookup._card(row, False, False))
    raw_api_s = time.perf_counter() - t

    search_sign = {"n": len(door_t), "p50_ms": _pct(door_t, 0.5), "p95_ms": _pct(door_t, 0.95),
                   "raw_p50_ms": _pct(raw_t, 0.5), "raw_p95_ms": _pct(raw_t, 0.95),
                   "ratio_p95": round(_pct(door_t, 0.95) / max(_pct(raw_t, 0.95), 0.001), 2),
                   "target_p95_ms": 50, "ambiguous_searches": ambiguous,
                   "with_application_p50_ms": _pct(flow_t, 0.5), "with_application_p95_ms": _pct(flow_t, 0.95)}
    return {
        "database": vendor, "persons": n, "load_seconds": round(load_s, 1),
        "search_sign": search_sign,
        "pdf": {"n": len(pdf_t), "p50_ms": _pct(pdf_t, 0.5), "p95_ms": _pct(pdf_t, 0.95)},
        "api_read": {"requests": len(targets), "req_per_s": round(len(targets) / api_s, 1),
                     "raw_req_per_s": round(len(targets) / raw_api_s, 1),
                     "ratio": round(raw_api_s / api_s, 3), "target_req_per_s": 200,
                     "mean_ms": round(api_s / len(targets) * 1000, 2),
                     "threads_4_req_per_s": round(len(targets) / api_threads_s, 1)},
        "cards_per_certificate_mean": round(statistics.mean(len(selectors.certificate(ctx, i).cards)
                                                            for i in issued[:50]), 2),
    }
