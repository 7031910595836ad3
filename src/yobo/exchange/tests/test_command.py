"""``yobo exchange …`` (CONTRACTS.md §6): JSON output, exit codes, no My Number printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yobo.core.purposes import Purpose
from yobo.exchange import services
from yobo.exchange.hub.app import Hub
from yobo.exchange.ledger import OriginalDose

from .conftest import CITY_A, CITY_B

pytestmark = pytest.mark.django_db


def _run(*args: str) -> Any:
    out = StringIO()
    call_command("exchange", *args, "--as", "xadmin", "--json", stdout=out)
    return json.loads(out.getvalue())


def test_exchange_commands(hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any],
                           resident: Callable[..., str], new_number: Callable[[], str],
                           monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from yobo.access.models import Terminal

    Terminal.objects.create(name="t-exchange", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "t-exchange")
    number = new_number()
    city(CITY_A)
    resident("100001", number, admin_ctx())
    services.register_copies(admin_ctx(Purpose.COPY_REGISTRATION),
                             originals=[OriginalDose("100001", "MR1", 1, date(2021, 5, 1))])
    shown = _run("keys", "show")
    assert shown["code"] == CITY_A and "d" not in shown["sig"] and shown["hub_key_registered"]
    city(CITY_B)
    resident("900001", number, admin_ctx())
    q = _run("query", "--atena", "900001", "--from", CITY_A)
    assert q["state"] == "sent"
    city(CITY_A)
    assert _run("inbox")["answered"] == 1
    assert _run("answer", "--list") == []
    city(CITY_B)
    assert _run("inbox")["results"] == 1
    status = _run("status", "--atena", "900001")
    assert status[0]["result"] == [{"vaccine": "MR1", "dose": "1", "date": "2021-05-01"}]
    recs = _run("records")
    assert [r["event"] for r in recs] == ["answer", "query", "permit"]
    out = StringIO()
    call_command("exchange", "purge", "--days", "0", "--as", "xadmin", "--json", stdout=out)
    assert json.loads(out.getvalue())["purged"] == 1
    with pytest.raises(CommandError) as exc:
        call_command("exchange", "query", "--atena", "900001", "--from", "12", "--as", "xadmin")
    assert exc.value.returncode == 2
    for line in out.getvalue().splitlines():
        assert number not in line
