"""The door: permitted calls are logged with their work; refused ones are logged and raise."""

from __future__ import annotations

import pytest
from django.db import transaction

from yobo.audit.door import door
from yobo.audit.models import AccessLogEntry
from yobo.core.errors import AccessDenied
from yobo.core.purposes import Duty, Operation, Purpose, Result

pytestmark = pytest.mark.django_db(transaction=True)


def test_permitted_read_is_logged_with_purpose_and_target(make_ctx):
    ctx = make_ctx(Purpose.PERSON_INQUIRY)
    with door(ctx, Operation.READ, resource="people.person", target="100000001"):
        pass
    e = AccessLogEntry.objects.get()
    assert (e.staff, e.purpose, e.operation, e.target, e.result) == (
        ctx.username, "P02", "read", "100000001", Result.OK,
    )
    assert e.terminal == "test-terminal" and e.request_id == ctx.request_id


def test_missing_purpose_is_refused_and_logged(make_ctx):
    ctx = make_ctx("")
    with pytest.raises(AccessDenied), door(ctx, Operation.READ, resource="people.person", target="1"):
        pytest.fail("the work must not run")
    e = AccessLogEntry.objects.get()
    assert (e.result, e.detail) == ("denied", "no_purpose")


def test_purpose_outside_duty_is_refused(make_ctx):
    ctx = make_ctx(Purpose.RELIEF, duties=[Duty.ENTRY])
    with pytest.raises(AccessDenied), door(ctx, Operation.READ, resource="relief.claim"):
        pass
    assert AccessLogEntry.objects.get().detail == "purpose_not_permitted"


def test_crash_in_the_work_leaves_neither_work_nor_ok_entry(make_ctx):
    from yobo.access.models import Department

    ctx = make_ctx(Purpose.PERSON_INQUIRY)
    before = Department.objects.count()
    with pytest.raises(ZeroDivisionError), door(ctx, Operation.READ, resource="x", target="5"):
        Department.objects.create(code="tmp", name="tmp")
        _ = 1 / 0
    assert Department.objects.count() == before
    results = list(AccessLogEntry.objects.values_list("result", flat=True))
    assert results == ["error"]


def test_rolled_back_outer_transaction_takes_the_entry_with_it(make_ctx):
    ctx = make_ctx(Purpose.PERSON_INQUIRY)
    with pytest.raises(RuntimeError), transaction.atomic():
        with door(ctx, Operation.READ, resource="x", target="7"):
            pass
        raise RuntimeError("later failure")
    assert not AccessLogEntry.objects.filter(result="ok").exists()
