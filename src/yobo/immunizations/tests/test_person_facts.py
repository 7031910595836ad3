"""``people.selectors.bulk_facts``: the register facts dose validation reads, through the people app."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test.utils import override_settings

from yobo.audit.models import AccessLogEntry
from yobo.core.purposes import Duty, Purpose
from yobo.people import selectors

pytestmark = pytest.mark.django_db


def test_facts_of_given_persons_and_of_the_city(city: Any, v02: Any) -> None:
    got = selectors.bulk_facts(v02, ["1000000004", "1000000003", "9999", "1000000004"])
    by = {f.atena_no: f for f in got}
    assert set(by) == {"1000000003", "1000000004"}  # unknown ones are simply absent
    dead, moved = by["1000000004"], by["1000000003"]
    assert (dead.birth_date, dead.sex, dead.status, dead.death_date) == (date(1950, 1, 2), 1, 3, date(2025, 1, 20))
    assert (moved.status, moved.status_date, moved.death_date) == (2, date(2025, 3, 1), None)
    assert dead.person_id == city["dead"].pk
    # Lived here up to the day of death / moving out, not after it; a resident on any day.
    assert dead.resident_on(date(2025, 1, 20)) and not dead.resident_on(date(2025, 1, 21))
    assert moved.resident_on(date(2025, 3, 1)) and not moved.resident_on(date(2025, 3, 2))
    assert by_all_resident(selectors.bulk_facts(v02, ["1000000001"]))
    every = selectors.bulk_facts(v02)
    assert {f.atena_no for f in every} == {p.atena_no for p in city.values()}
    assert all(isinstance(f.birth_date, date) for f in every)


@pytest.mark.parametrize("city_size, way", [(10**6, "_facts_joined"), (0, "scan")])
def test_long_lists_are_joined_or_scanned(city: Any, v02: Any, monkeypatch: pytest.MonkeyPatch, city_size: int,
                                          way: str) -> None:
    """A long list is staged and joined when it names a small part of the city, else the city is
    scanned once; both give the same facts."""
    monkeypatch.setattr(selectors, "_FACTS_IN_LISTS", 2)
    monkeypatch.setattr(selectors, "_city_size", lambda cur, table: city_size)
    joined = selectors._facts_joined
    calls: list[int] = []
    monkeypatch.setattr(selectors, "_facts_joined", lambda *a: calls.append(1) or joined(*a))
    got = selectors.bulk_facts(v02, ["1000000001", "1000000002", "1000000006", "nobody"])
    assert sorted(f.atena_no for f in got) == ["1000000001", "1000000002", "1000000006"]
    assert all(isinstance(f.birth_date, date) for f in got)
    # A second long read in the same transaction stages its own list.
    again = selectors.bulk_facts(v02, ["1000000003", "1000000004", "nobody"])
    assert sorted(f.atena_no for f in again) == ["1000000003", "1000000004"]
    with override_settings(MUNICIPALITY_CODE="999999"):
        assert selectors.bulk_facts(v02, ["1000000001", "1000000002", "1000000003"]) == []
    assert bool(calls) is (way == "_facts_joined")


def test_one_log_entry_batch_or_read(city: Any, v02: Any, make_ctx: Any) -> None:
    n = AccessLogEntry.objects.count()
    selectors.bulk_facts(v02, ["1000000001", "1000000002"])
    [e] = list(AccessLogEntry.objects.all()[n:])
    assert (e.operation, e.resource, e.purpose) == ("batch", "people.person", "V02")
    assert "asked=2 found=2" in e.detail
    v01 = make_ctx(Purpose.DOSE_ENTRY, duties=[Duty.CLERK])  # keyed entry may not run batches: a READ
    selectors.bulk_facts(v01, ["1000000001"])
    [e] = list(AccessLogEntry.objects.all()[n + 1:])
    assert (e.operation, e.target) == ("read", "1000000001")


def by_all_resident(facts: list[Any]) -> bool:
    return bool(facts) and all(f.resident_on(date(1900, 1, 1)) and f.resident_on(date(2100, 1, 1)) for f in facts)


@override_settings(MUNICIPALITY_CODE="999999")
def test_another_city_sees_nobody(city: Any, v02: Any) -> None:
    assert selectors.bulk_facts(v02) == []
