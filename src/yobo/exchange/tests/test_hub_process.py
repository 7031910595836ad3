"""The hub as a separate process on loopback (``yobo hub serve --port 0``), loaded with
``yobo hub permissions load``; the two cities talk to it over HTTP. Also the ``yobo exchange``
command's contract (exit codes, JSON)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yobo.core.purposes import Purpose
from yobo.exchange import conf, keys, services
from yobo.exchange.client import http_transport
from yobo.exchange.ledger import OriginalDose

from .conftest import CITY_A, CITY_B

pytestmark = pytest.mark.django_db


def _hub_cmd(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YOBO_HUB_DB": f"sqlite:///{tmp / 'hub.sqlite3'}", "YOBO_HUB_KEY_DIR": str(tmp / "hub-keys")}
    return subprocess.run([sys.executable, "-m", "yobo.cli", "hub", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.fixture
def hub_process(tmp_path: Path, settings: Any) -> Iterator[str]:
    settings.KEY_DIR = tmp_path / "keys"
    hub_pub = json.loads(_hub_cmd(tmp_path, "keys", "show").stdout)
    members = []
    for code in (CITY_A, CITY_B):
        settings.MUNICIPALITY_CODE = code
        keys.init()
        keys.trust_hub(hub_pub)
        members.append({**keys.show(), "name": code})
    doc = tmp_path / "permissions.json"
    doc.write_text(json.dumps({"members": members, "permissions": [
        {"asker": CITY_B, "provider": CITY_A, "item_set": "immunization_history", "clause": "別表第二 主務省令25の項"},
    ]}), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"permissions": [{"asker": CITY_B, "provider": CITY_A, "item_set": "x", "clause": "c"}]}))
    assert _hub_cmd(tmp_path, "permissions", "load", str(bad)).returncode == 2
    loaded = _hub_cmd(tmp_path, "permissions", "load", str(doc))
    assert loaded.returncode == 0, loaded.stderr
    env = {**os.environ, "YOBO_HUB_DB": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
           "YOBO_HUB_KEY_DIR": str(tmp_path / "hub-keys")}
    proc = subprocess.Popen([sys.executable, "-m", "yobo.cli", "hub", "serve", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, proc.stderr.read() if proc.stderr else line
        url = line.split("listening on ")[1].strip()
        conf.set_transport(http_transport(url))
        yield url
    finally:
        conf.set_transport(None)
        proc.terminate()
        proc.wait(timeout=10)


def test_two_cities_through_a_hub_process(hub_process: str, tmp_path: Path, city: Callable[[str], None],
                                          admin_ctx: Callable[..., Any], resident: Callable[..., str],
                                          new_number: Callable[[], str], capsys: Any) -> None:
    number = new_number()
    city(CITY_A)
    resident("100001", number, admin_ctx())
    services.register_copies(admin_ctx(Purpose.COPY_REGISTRATION),
                             originals=[OriginalDose("100001", "BCG", 1, date(2020, 9, 1))])
    city(CITY_B)
    resident("900001", number, admin_ctx())
    qid = services.send_query(admin_ctx(), "900001", CITY_A)
    city(CITY_A)
    assert services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION)).answered == 1
    city(CITY_B)
    assert services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION)).results == 1
    from yobo.exchange.models import Query

    q = Query.objects.get(query_id=qid)
    assert q.state == "answered" and q.result == [{"vaccine": "BCG", "dose": "1", "date": "2020-09-01"}]
    records = json.loads(_hub_cmd(tmp_path, "records", "--json").stdout)
    assert [r["outcome"] for r in records] == ["provided", "routed", "issued"]
    assert {r["clause"] for r in records} == {"別表第二 主務省令25の項"}
    # Not on the list: A may not ask B.
    city(CITY_A)
    qid2 = services.send_query(admin_ctx(), "100001", CITY_B)
    assert Query.objects.get(query_id=qid2).state == "refused"
    assert json.loads(_hub_cmd(tmp_path, "records", "--json").stdout)[0]["outcome"] == "refused"
