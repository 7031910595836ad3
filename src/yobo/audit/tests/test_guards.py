"""The database refuses UPDATE, DELETE and TRUNCATE on the log; only archived rows may be deleted."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from yobo.audit.guards import enforced

pytestmark = pytest.mark.django_db


def _refused(sql: str, params: list | None = None) -> bool:
    try:
        with enforced(connection), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, params or [])
    except DatabaseError as exc:
        return "append-only" in str(exc)
    return False


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_access_log SET target = 'x' WHERE seq = 1",
        "UPDATE audit_access_log SET hash = hash",
        "DELETE FROM audit_access_log WHERE seq = 2",
        "DELETE FROM audit_access_log",
        "UPDATE audit_checkpoint SET hash = 'x'",
        "DELETE FROM audit_checkpoint",
        "UPDATE audit_chain_head SET seq = 1",
        "DELETE FROM audit_chain_head",
    ],
)
def test_changing_the_log_fails_at_the_database(fill_log, sql):
    fill_log(6)
    assert _refused(sql)
    from yobo.audit.verify import verify

    assert verify().ok


def test_truncate_fails_on_postgresql(fill_log):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (DELETE without WHERE is covered above)")
    fill_log(2)
    for table in ("audit_access_log", "audit_checkpoint", "audit_chain_head", "audit_archive"):
        assert _refused(f"TRUNCATE {table}")


def test_the_head_may_move_forward(fill_log):
    fill_log(2)
    with enforced(connection), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE audit_chain_head SET seq = seq + 1")
        transaction.set_rollback(True)


def test_appending_still_works_with_the_guards_enforced(fill_log, make_ctx):
    from yobo.audit.door import log_event
    from yobo.audit.verify import verify
    from yobo.core.purposes import Operation

    with enforced(connection):
        fill_log(3)
        log_event(make_ctx(), Operation.READ, resource="x")
    assert verify().entries == 4
