"""``yobo pia report``, ``yobo requests``, ``yobo retention`` from the command line."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from yobo.access.models import Terminal
from yobo.core.purposes import Duty
from yobo.people.models import Person

pytestmark = pytest.mark.django_db


def _run(cmd: str, *args: str, user: str) -> Any:
    out = StringIO()
    call_command(cmd, *args, "--json", "--as", user, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, make_staff: Any, settings: Any) -> None:
    settings.MUNICIPALITY_CODE = "141003"
    Terminal.objects.create(name="ops-host", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "ops-host")
    make_staff("kansa", duties=[Duty.AUDITOR])
    make_staff("madoguchi", duties=[Duty.CLERK])
    make_staff("kacho", duties=[Duty.SUPERVISOR])
    now = timezone.now()
    for i in range(5):
        Person.objects.create(municipality="141003", atena_no=f"6000{i}", household_no="1", name_kanji="港 一郎",
                              name_kana="ミナト イチロウ", kanji_key="港一郎", kana_key="ミナトイチロウ",
                              birth_date=date(1980, 1, 1), sex=1, address="港北区", row_hash="x", created_at=now,
                              updated_at=now)


def test_pia_report_json_and_pdf(env: None, tmp_path: Path) -> None:
    pdf = tmp_path / "pia.pdf"
    rep = _run("pia", "report", "--pdf", str(pdf), "--verify", user="kansa")
    assert rep["counts"]["persons"] == Person.objects.count() == 5
    assert rep["counts"]["staff_with_access"] == 3
    assert rep["access_log_verification"]["ok"] is True
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(fonts) > 2 and all(line.split()[-5] == "yes" for line in fonts[2:])
    with pytest.raises(CommandError) as exc:  # a clerk is not an auditor
        _run("pia", "report", user="madoguchi")
    assert exc.value.returncode == 3


def test_requests_and_retention_commands(env: None, tmp_path: Path) -> None:
    rid = _run("requests", "register", "--kind", "disclosure", "--atena", "60001", "--identity-check", "運転免許証",
               user="madoguchi")["request_id"]
    out = _run("requests", "disclose", str(rid), "--out", str(tmp_path), user="madoguchi")
    assert Path(out["pdf"]).exists() and json.loads(Path(out["json"]).read_text())["atena_no"] == "60001"
    with pytest.raises(CommandError) as exc:
        _run("requests", "register", "--kind", "disclosure", "--atena", "77777", "--identity-check", "x",
             user="madoguchi")
    assert exc.value.returncode == 2
    due = {d["record_type"]: d for d in _run("retention", "due", user="kacho")}
    assert due["audit.access_log"]["years"] == 7
