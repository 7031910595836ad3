"""The bulk paths made faster for the resident import (decision 051, second push): pairs already
linked as given are counted, not staged; ``discard`` takes them back; deceased flags set-based;
integrated numbers for a range computed with table lookups."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from yobo.core.purposes import Purpose
from yobo.mynumber import selectors, services, vault
from yobo.mynumber.models import LinkStatus, MyNumberLink


def _staged() -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {services._STAGE}")
        return int(cur.fetchone()[0])


@pytest.mark.django_db
def test_distinct_rerun_stages_nothing_and_counts_unchanged(make_ctx, numbers) -> None:
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    nums = numbers(12)
    pairs = [(100 + i, str(500 + i), n) for i, n in enumerate(nums[:10])]
    services.bulk_register(ctx, [(a, n) for _, a, n in pairs])
    with services.bulk_registration(ctx, distinct=True) as reg:
        reg._chunk = 4
        reg.add_keyed(pairs)
        reg.add_keyed([(200, "600", nums[10])])  # new: staged and sealed
        reg._flush()
        assert _staged() == 1  # the ten unchanged pairs left no staging row
        r = reg.finish()
    assert (r.inserted, r.unchanged, r.conflicts) == (1, 10, [])
    assert MyNumberLink.objects.count() == 11


@pytest.mark.django_db
def test_distinct_discard_takes_back_an_unchanged_pair(make_ctx, numbers) -> None:
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    a, b, c = numbers(3)
    services.bulk_register(ctx, [("1", a), ("2", b)])
    with services.bulk_registration(ctx, distinct=True) as reg:
        reg.add("1", a, key=10)  # unchanged: counted
        reg.add("2", b, key=11)  # unchanged: counted …
        reg.add("2", c, key=12)  # … and the same 宛名番号 with another number (staged: differs)
        reg.discard([11, 12, 99])  # the caller refused both rows of 宛名番号 2; key 99 was never added
        r = reg.finish()
    assert (r.inserted, r.unchanged, r.conflicts) == (0, 1, [])
    # A key too large for the bitmap is staged as before, with the same outcome.
    with services.bulk_registration(ctx, distinct=True) as reg:
        reg.add("1", a, key=services._MAX_MARKED_KEY + 5)
        reg._flush()
        assert _staged() == 1
        r2 = reg.finish()
    assert (r2.inserted, r2.unchanged) == (0, 1)


@pytest.mark.django_db
def test_without_distinct_a_repeated_unchanged_pair_counts_once(make_ctx, numbers) -> None:
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    (a,) = numbers(1)
    services.bulk_register(ctx, [("1", a)])
    r = services.bulk_register(ctx, [("1", a), ("1", a)])
    assert (r.inserted, r.unchanged, r.conflicts) == (0, 1, [])


@pytest.mark.django_db
def test_bulk_set_deceased_many_dates_in_one_call(make_ctx, numbers) -> None:
    sync = make_ctx(Purpose.RESIDENT_SYNC)
    nums = numbers(30)
    services.bulk_register(sync, [(str(1000 + i), n) for i, n in enumerate(nums)])
    items = [(str(1000 + i), dt.date(2024, 1, 1) + dt.timedelta(days=i)) for i in range(20)]
    items += [("1020", None), ("9999", dt.date(2024, 2, 2))]  # no date; no link
    assert services.bulk_set_deceased(sync, items) == 21
    got = dict(MyNumberLink.objects.filter(status=LinkStatus.DECEASED).values_list("atena_no", "deceased_on"))
    assert got == {a: d for a, d in items if a != "9999"}
    assert services.bulk_set_deceased(sync, items) == 0  # idempotent
    # A corrected date changes that row only.
    assert services.bulk_set_deceased(sync, [("1003", dt.date(2023, 12, 31)), ("1004", items[4][1])]) == 1
    reader = make_ctx(Purpose.MYNUMBER_REGISTRATION, mynumber_right=True)
    assert selectors.status(reader, "1003").deceased_on == dt.date(2023, 12, 31)
    assert not selectors.status(reader, "1025").deceased


@given(st.sampled_from(["141003", "011002", "000000", "999999", "271004"]),
       st.integers(min_value=1, max_value=10**8 - 50), st.integers(min_value=0, max_value=40))
def test_integrated_range_matches_format_integrated(code: str, start: int, count: int) -> None:
    got = vault.integrated_range(code, start, count)
    assert got == [vault.format_integrated(code, s) for s in range(start, start + count)]
    assert all(vault.is_integrated_no(x) for x in got)


@pytest.mark.django_db
def test_reserve_integrated_counts_on_and_stops_at_the_last_serial() -> None:
    from yobo.core.errors import InputRejected
    from yobo.mynumber.models import IntegratedNumberCounter

    first = vault.reserve_integrated("141003", 3)
    assert [int(x[6:14]) for x in first] == [1, 2, 3]
    assert [int(x[6:14]) for x in vault.reserve_integrated("141003", 2)] == [4, 5]
    assert vault.reserve_integrated("271004", 1)[0].startswith("27100400000001")  # its own counter
    IntegratedNumberCounter.objects.filter(pk="141003").update(last=10**8 - 2)
    assert vault.reserve_integrated("141003", 1) == [vault.format_integrated("141003", 10**8 - 1)]
    with pytest.raises(InputRejected):
        vault.reserve_integrated("141003", 1)


@pytest.mark.django_db
@pytest.mark.parametrize("spread", [False, True])
def test_linked_lookup_by_key_range_or_probes_gives_the_same_answer(make_ctx, numbers, monkeypatch,
                                                                     spread: bool) -> None:
    """A chunk of neighbouring 宛名番号 is read as one key range; a chunk spread over the file
    (more links in its range than ``_RANGE_FACTOR`` per number) is probed row by row. Either
    way: linked as given → unchanged, another number → refused."""
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    nums = numbers(301)
    services.bulk_register(ctx, [(str(1000 + i), n) for i, n in enumerate(nums[:300])])
    probes: list[int] = []
    real = services.BulkRegistration._lookup

    def counting(self, cur, key, other, values):  # type: ignore[no-untyped-def]
        probes.append(len(values))
        return real(self, cur, key, other, values)

    monkeypatch.setattr(services.BulkRegistration, "_lookup", counting)
    picks = [0, 299, 150] if spread else [100, 101, 102]
    with services.bulk_registration(ctx, distinct=True) as reg:
        reg._chunk = 3
        reg.add(str(1000 + picks[0]), nums[picks[0]], key=1)
        reg.add(str(1000 + picks[1]), nums[picks[1]], key=2)
        reg.add(str(1000 + picks[2]), nums[300], key=3)  # linked to another number
        r = reg.finish()
    assert (r.inserted, r.unchanged) == (0, 2)
    assert [(c.atena_no, c.reason) for c in r.conflicts] == [(str(1000 + picks[2]), "number_differs")]
    assert (probes == [3]) is spread and (probes == []) is not spread
