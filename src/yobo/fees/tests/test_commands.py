"""``yobo fees`` and ``yobo relief`` from the command line: exit codes and JSON."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from yobo.core.purposes import Duty

from .conftest import write_csv
from .helpers import add_dose


@pytest.fixture
def terminal(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from yobo.access.models import Terminal

    Terminal.objects.create(name="batch-1", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "batch-1")


def test_fees_cli(city: Any, terminal: None, make_staff: Any, tmp_path: Path) -> None:
    clerk = make_staff(duties=[Duty.PAYMENT])
    bad = write_csv(tmp_path / "bad.csv", "宛名番号,種別,年度,課税区分\n1000000006,1,2026,7\n")
    err = io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("fees", "import-status", str(bad), "--as", clerk.username, stdout=io.StringIO(), stderr=err)
    assert exc.value.returncode == 2
    good = write_csv(tmp_path / "good.csv", "宛名番号,種別,年度,課税区分\n1000000006,1,2026,2\n")
    out = io.StringIO()
    call_command("fees", "import-status", str(good), "--as", clerk.username, "--json", stdout=out)
    assert json.loads(out.getvalue())["inserted"] == 1
    out = io.StringIO()
    call_command("fees", "check", "--atena", "1000000006", "--vaccine", "FLU-B", "--date", "2026-10-01",
                 "--as", clerk.username, "--json", stdout=out)
    d = json.loads(out.getvalue())
    assert d["result"] == "exempt"
    out = io.StringIO()
    call_command("fees", "certificate", str(d["id"]), "--out", str(tmp_path), "--as", clerk.username, "--json",
                 stdout=out)
    assert Path(json.loads(out.getvalue())["pdf"]).is_file()
    relief_staff = make_staff(duties=[Duty.RELIEF])
    with pytest.raises(CommandError) as exc:
        call_command("fees", "check", "--atena", "1000000006", "--vaccine", "FLU-B", "--as", relief_staff.username,
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert exc.value.returncode == 3


def test_relief_cli(city: Any, terminal: None, make_staff: Any) -> None:
    staff = make_staff(duties=[Duty.RELIEF])
    add_dose(city["sato_child"], "MR1", date(2021, 6, 1))
    out = io.StringIO()
    call_command("relief", "receive", "--atena", "1000000005", "--benefit", "medical", "--applicant", "佐藤　一郎",
                 "--relation", "父", "--vaccination", "MR1:2021-06-01", "--as", staff.username, "--json", stdout=out)
    cid = json.loads(out.getvalue())["claim_id"]
    call_command("relief", "move", str(cid), "committee", "--note", "付議", "--as", staff.username,
                 stdout=io.StringIO())
    out = io.StringIO()
    call_command("relief", "list", "--as", staff.username, "--json", stdout=out)
    assert [r["state"] for r in json.loads(out.getvalue())] == ["committee"]
    with pytest.raises(CommandError) as exc:
        call_command("relief", "move", str(cid), "paid", "--as", staff.username, stdout=io.StringIO(),
                     stderr=io.StringIO())
    assert exc.value.returncode == 2
