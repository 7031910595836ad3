"""``yobo exports``: the whole procedure from the command line, exit codes per CONTRACTS.md."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from django.core.management import call_command
from django.core.management.base import CommandError

from yobo.access.models import Terminal
from yobo.core.purposes import Duty
from yobo.exports import registry

pytestmark = pytest.mark.django_db
ITEMS = ("宛名番号", "氏名")


@pytest.fixture(autouse=True)
def kind() -> Iterator[None]:
    registry.register(registry.ExportKind("test.list", "テスト一覧", ITEMS, frozenset({"N03"}),
                                          producer=lambda ctx, req: (list(ITEMS), [["1001", "山田 太郎"]])))
    yield
    registry.unregister("test.list")


def _run(*args: str, user: str) -> Any:
    out = StringIO()
    call_command("exports", *args, "--json", "--as", user, stdout=out)
    return json.loads(out.getvalue())


def test_request_approve_run_confirm(monkeypatch: pytest.MonkeyPatch, make_staff: Any, tmp_path: Path) -> None:
    Terminal.objects.create(name="ops-host", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "ops-host")
    make_staff("kanri", duties=[Duty.ADMIN])
    make_staff("tanto", duties=[Duty.CLERK])
    make_staff("kacho", duties=[Duty.SUPERVISOR])
    rid = _run("request", "--kind", "test.list", "--purpose", "N03", "--reason", "r", "--destination", "印刷所",
               "--medium", "usb", user="tanto")["request_id"]
    with pytest.raises(CommandError) as exc:
        _run("run", str(rid), "--out", str(tmp_path), user="tanto")
    assert exc.value.returncode == 3
    _run("approve", str(rid), user="kacho")
    with pytest.raises(CommandError) as exc:  # terminal not permitted yet
        _run("run", str(rid), "--out", str(tmp_path), user="tanto")
    assert exc.value.returncode == 3
    assert _run("terminals", "--permit", "ops-host", user="kanri")[0]["terminal"] == "ops-host"
    res = _run("run", str(rid), "--out", str(tmp_path), user="tanto")
    with pyzipper.AESZipFile(res["path"]) as z:
        z.setpassword(res["password"].encode())
        assert "山田 太郎" in z.read(z.namelist()[0]).decode("utf-8-sig")
    media = _run("media", user="tanto")
    assert [m["serial"] for m in media] == [res["serial"]] and "password" not in json.dumps(media)
    assert _run("overdue", user="tanto") == []
    _run("confirm-deletion", res["serial"], "--reported-by", "印刷所 佐藤", user="tanto")
    assert _run("media", user="tanto")[0]["deletion_reported_by"] == "印刷所 佐藤"
