"""Fixtures for the audit tests: a filled log, and a way to tamper as a DB administrator would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from yobo.audit import signing
from yobo.audit.door import log_event
from yobo.audit.guards import drop_guards, enforced, install_guards
from yobo.core.purposes import Operation, Purpose


@pytest.fixture
def signing_key() -> None:
    signing.ensure_key()


@pytest.fixture
def fill_log(make_ctx: Callable[..., Any], settings: Any, signing_key: None) -> Callable[[int], list[int]]:
    """Append ``n`` entries (checkpoints every 5) and return their seqs."""
    settings.YOBO_AUDIT_CHECKPOINT_EVERY = 5

    def fill(n: int) -> list[int]:
        ctx = make_ctx(Purpose.PERSON_INQUIRY)
        for i in range(n):
            log_event(ctx, Operation.READ, resource="people.person", target=str(100000000 + i))
        from yobo.audit.models import AccessLogEntry

        return list(AccessLogEntry.objects.order_by("seq").values_list("seq", flat=True))

    return fill


@contextmanager
def as_db_admin() -> Iterator[Any]:
    """Tamper the way a person with DB owner rights would: switch the triggers off, then back on."""
    with enforced(connection):
        drop_guards(connection)
        try:
            with connection.cursor() as cur:
                yield cur
        finally:
            install_guards(connection)


@pytest.fixture
def tamper() -> Callable[[], Any]:
    return as_db_admin
