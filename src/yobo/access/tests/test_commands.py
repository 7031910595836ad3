"""``yobo staff`` and ``yobo init`` (exit codes per CONTRACTS.md)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from yobo.access.models import Staff, Terminal
from yobo.core.purposes import Duty

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_env(monkeypatch: pytest.MonkeyPatch, make_staff: Any) -> Any:
    Terminal.objects.create(name="ops-host", kind="cli")
    admin = make_staff("kanri.ops", duties=[Duty.ADMIN])
    monkeypatch.setenv("YOBO_OPERATOR", "kanri.ops")
    monkeypatch.setenv("YOBO_TERMINAL", "ops-host")
    return admin


def _run(*args: str) -> Any:
    out = StringIO()
    call_command("staff", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_staff_create_list_revoke_review(operator_env: Any) -> None:
    created = _run("create", "kobayashi", "--last-name", "小林", "--first-name", "誠", "--duty", "clerk",
                   "--mynumber-right")
    assert Staff.objects.get(username="kobayashi").check_password(created["password"])
    rows = {r["username"]: r for r in _run("list")}
    assert rows["kobayashi"]["mynumber_right"] and rows["kobayashi"]["duties"] == ["clerk"]
    assert _run("grant-mynumber", "kobayashi", "--withdraw")["mynumber_right"] is False
    _run("revoke", "kobayashi", "--reason", "退職")
    assert Staff.objects.get(username="kobayashi").inactive_reason() == "revoked"
    assert isinstance(_run("review"), list)
    reg = _run("terminal-register", "pc-77")
    assert "/terminal/enroll/" in reg["enroll_url"]
    assert {t["name"] for t in _run("terminal-list")} == {"ops-host", "pc-77"}


def test_bad_input_exits_2(operator_env: Any) -> None:
    with pytest.raises(CommandError) as e:
        _run("create", "guest", "--last-name", "x", "--first-name", "y", "--duty", "clerk")
    assert e.value.returncode == 2


def test_non_admin_operator_exits_3(operator_env: Any, make_staff: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    make_staff("clerk.ops", duties=[Duty.CLERK])
    monkeypatch.setenv("YOBO_OPERATOR", "clerk.ops")
    with pytest.raises(CommandError) as e:
        _run("list")
    assert e.value.returncode == 3


def test_init_rejects_a_bad_municipality_code(tmp_path: Path) -> None:
    with override_settings(VAR_DIR=tmp_path / "var"), pytest.raises(CommandError) as e:
        call_command("init", "--municipality", "141004", stdout=StringIO())
    assert e.value.returncode == 2


def test_init_demo_operator_prints_the_contract_lines_and_is_idempotent(tmp_path: Path) -> None:
    for _ in range(2):
        out = StringIO()
        with override_settings(VAR_DIR=tmp_path / "var"):
            call_command("init", "--demo-operator", stdout=out)
        lines = out.getvalue().splitlines()
        assert "YOBO_OPERATOR=demo-admin" in lines and "YOBO_TERMINAL=demo-terminal" in lines
        assert any("/terminal/enroll/" in ln for ln in lines)
    assert (tmp_path / "var" / "municipality").read_text().strip() == "141003"
    assert Staff.objects.filter(username="demo-admin").count() == 1
