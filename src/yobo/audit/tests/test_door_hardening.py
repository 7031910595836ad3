"""The door never raises a second error over the first, and never logs exception messages."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError

from yobo.audit.door import door
from yobo.audit.models import AccessLogEntry
from yobo.audit.verify import verify
from yobo.core.purposes import Operation, Purpose

pytestmark = pytest.mark.django_db(transaction=True)


def test_error_entry_keeps_only_the_exception_class(make_ctx):
    ctx = make_ctx(Purpose.PERSON_INQUIRY)
    with pytest.raises(ValueError, match="100000001"), door(ctx, Operation.READ, resource="x", target="1"):
        raise ValueError("person 100000001 not found")
    e = AccessLogEntry.objects.get()
    assert (e.result, e.detail) == ("error", "ValueError")


def test_work_in_a_broken_outer_transaction_raises_only_its_own_error(make_ctx):
    ctx = make_ctx(Purpose.PERSON_INQUIRY)
    before = AccessLogEntry.objects.count()
    with pytest.raises(TransactionManagementError) as ei, transaction.atomic():
        transaction.set_rollback(True)  # as after a caught database error without a savepoint
        with door(ctx, Operation.READ, resource="x", target="2"):
            AccessLogEntry.objects.count()  # the work's query fails: the transaction is broken
    # The work's own error, not a second one raised while trying to log it.
    assert ei.value.__context__ is None
    assert AccessLogEntry.objects.count() == before
    assert verify().ok


def test_error_inside_an_outer_transaction_is_logged_in_it(make_ctx):
    ctx = make_ctx(Purpose.PERSON_INQUIRY)
    with transaction.atomic(), pytest.raises(KeyError), door(ctx, Operation.READ, resource="x", target="3"):
        raise KeyError("x")
        # The caller handled the error and goes on: the error entry commits with the outer transaction.
    assert list(AccessLogEntry.objects.values_list("result", "detail")) == [("error", "KeyError")]


def test_control_characters_and_long_values_are_made_safe(make_ctx):
    ctx = make_ctx(Purpose.PERSON_INQUIRY)
    with door(ctx, Operation.READ, resource="people.person\x1f" + "r" * 100, target="4") as rec:
        rec.detail = "a\x1fb\nc" + "d" * 300
    e = AccessLogEntry.objects.get()
    assert e.detail.startswith("a b c") and len(e.detail) == 200
    assert "\x1f" not in e.resource and len(e.resource) == 64
    assert verify().ok
