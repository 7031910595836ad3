"""The PostgreSQL append function (migration 0004) hashes exactly as the Python chain does."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yobo.audit.chain import GENESIS, WIDTHS, PendingEntry, append, entry_hash, fields_of
from yobo.audit.models import AccessLogEntry, ChainHead
from yobo.audit.verify import verify

pytestmark = pytest.mark.django_db

needs_pg = pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side append is PostgreSQL only")

# Any text PostgreSQL can store: no NUL, no lone surrogates (the chain replaces control characters).
_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=80)


def _entry(values: list[str]) -> PendingEntry:
    return PendingEntry(*values)


def _python_chain(entries: list[tuple[int, int, tuple[str, ...]]], start: str) -> list[str]:
    out, prev = [], start
    for seq, at_us, fields in entries:
        prev = entry_hash(prev, seq, at_us, fields)
        out.append(prev)
    return out


@needs_pg
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.lists(_TEXT, min_size=10, max_size=10), min_size=1, max_size=4),
       at_us=st.integers(min_value=0, max_value=2**62))
def test_function_hash_equals_python(monkeypatch: pytest.MonkeyPatch, batch: list[list[str]], at_us: int) -> None:
    monkeypatch.setattr("yobo.audit.chain.now_micros", lambda: at_us)
    head = ChainHead.objects.filter(id=1).values_list("seq", "hash").first() or (0, GENESIS)
    with transaction.atomic():
        last = append([_entry(v) for v in batch])
    assert last == head[0] + len(batch)
    rows = list(AccessLogEntry.objects.filter(seq__gt=head[0]).order_by("seq"))
    expected = [(head[0] + i + 1, at_us, fields_of(_entry(v))) for i, v in enumerate(batch)]
    assert [(r.seq, r.at_us, tuple(getattr(r, c) for c in (
        "staff", "department", "terminal", "purpose", "operation", "resource", "target", "result", "request_id",
        "detail"))) for r in rows] == expected
    assert [r.hash for r in rows] == _python_chain(expected, head[1])
    assert ChainHead.objects.get(id=1).hash == rows[-1].hash


@needs_pg
def test_function_handles_wide_unicode_and_control_characters() -> None:
    tricky = ["𠮷野\u3000髙﨑", "部\x1f署", "端末\t1", "P02", "read", "people.person", "1" * 40, "ok", "r\n1",
              "🙂" * 300]
    with transaction.atomic():
        append([_entry(tricky), _entry(["x"] * 10)])
    row = AccessLogEntry.objects.order_by("seq").first()
    assert row is not None
    assert row.department == "部 署" and len(row.detail) == WIDTHS[-1]
    assert verify().ok
    with connection.cursor() as cur:  # the function is installed by the migration, not created on the fly
        cur.execute("SELECT count(*) FROM pg_proc WHERE proname = 'audit_append'")
        assert cur.fetchone()[0] == 1
