"""``yobo audit verify|review|checkpoint`` exit codes and output (CONTRACTS.md §3)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yobo.access.models import Terminal
from yobo.audit.models import AccessLogEntry, Checkpoint
from yobo.core.purposes import Duty

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(make_staff, monkeypatch, signing_key):
    Terminal.objects.create(name="ops-1", kind="cli")
    s = make_staff("auditor1", duties=[Duty.AUDITOR])
    monkeypatch.setenv("YOBO_OPERATOR", s.username)
    monkeypatch.setenv("YOBO_TERMINAL", "ops-1")
    return s


def test_verify_json_exit_0_and_the_run_is_logged_after(operator, fill_log, capsys):
    fill_log(7)
    call_command("audit", "verify", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and out["entries"] == 7
    last = AccessLogEntry.objects.order_by("-seq").first()
    assert (last.resource, last.staff, last.purpose, last.seq) == ("audit.verify", "auditor1", "A02", 8)


def test_verify_exit_1_names_the_broken_seq(operator, fill_log, tamper, capsys):
    fill_log(7)
    with tamper() as cur:
        cur.execute("UPDATE audit_access_log SET target = '1' WHERE seq = 4")
    with pytest.raises(CommandError) as ei:
        call_command("audit", "verify")
    assert ei.value.returncode == 1
    assert "#4" in capsys.readouterr().out


def test_verify_refused_without_the_audit_duty(make_staff, monkeypatch, capsys):
    Terminal.objects.create(name="ops-2", kind="cli")
    monkeypatch.setenv("YOBO_OPERATOR", make_staff("clerk9", duties=[Duty.CLERK]).username)
    monkeypatch.setenv("YOBO_TERMINAL", "ops-2")
    with pytest.raises(CommandError) as ei:
        call_command("audit", "verify")
    assert ei.value.returncode == 3
    assert AccessLogEntry.objects.get().result == "denied"


def test_checkpoint_and_review_commands(operator, fill_log, capsys, settings):
    fill_log(3)
    settings.YOBO_AUDIT_CHECKPOINT_EVERY = 0
    call_command("audit", "checkpoint", "--json")
    assert json.loads(capsys.readouterr().out)["seq"] == 3
    assert Checkpoint.objects.filter(seq=3).exists()
    call_command("audit", "review", "--from", "2020-01-01", "--to", "2099-12-31")
    assert "アクセスログ点検報告" in capsys.readouterr().out
    with pytest.raises(CommandError) as ei:
        call_command("audit", "review", "--from", "2020-13-01", "--to", "2021-01-01")
    assert ei.value.returncode == 2
