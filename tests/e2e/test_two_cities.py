"""Issue #8 "Done when": the hub and two yobo cities as separate processes on loopback, each city
with its own SQLite database, key directory and municipality code, driven only through the
``yobo`` command (``--json``) and the hub's HTTP port.

Proves: a permitted query is answered; an unlisted one is refused by the hub; a protected person's
answer waits for release; a tampered message is rejected (by the hub when the sender's signature
is wrong, by the city when a delivery was altered after the hub signed it); provision records
exist for each; query results disappear after the retention period (and not before).

The cities use SQLite files whatever database the suite runs on, so this test runs the same in the
SQLite and the PostgreSQL run of ``./dev test``.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from yobo.exchange import crypto
from yobo.exchange.demo import (
    CITY_A,
    CITY_B,
    HubProcess,
    Party,
    city_party,
    hub_party,
    init_city,
    load_permissions,
    start_hub,
)
from yobo.exchange.items import DEFAULT_CLAUSE
from yobo.immunizations.demo import clinic_code
from yobo.mynumber import checkdigit
from yobo.people.extract import COLUMNS

CLAUSE = "番号法第19条第8号 主務省令第2条の表 (e2e)"
A_CHILD, A_PROTECTED, A_PARENT = "1000000001", "1000000002", "1000000003"
B_CHILD, B_PROTECTED, B_STRANGER = "2000000001", "2000000002", "2000000003"


def _residents(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    """A resident extract (CONTRACTS §1 columns): (宛名番号, 世帯番号, 個人番号, 氏名, 生年月日)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for atena, household, number, name, born in rows:
            cells = {"宛名番号": atena, "世帯番号": household, "個人番号": number, "漢字氏名": name,
                     "カナ氏名": "ヨボウ タロウ", "生年月日": born, "性別": "1", "続柄": "子", "郵便番号": "",
                     "住所": "市内一丁目1番1号", "方書": "", "住民区分": "1", "異動事由": "", "異動日": "",
                     "電話番号": ""}
            w.writerow([cells.get(c, "") for c in COLUMNS])
    return path


def _doses(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["宛名番号", "接種コード", "接種回数", "接種日", "実施医療機関コード", "ロット番号"])
        w.writerow([A_CHILD, "BCG", "1", "2023-09-01", clinic_code(0), "BCG001"])
        w.writerow([A_CHILD, "HIB", "1", "2023-06-10", clinic_code(0), "HIB001"])
        w.writerow([A_PROTECTED, "BCG", "1", "2023-10-02", clinic_code(0), "BCG001"])
    return path


pytestmark = pytest.mark.slow  # ~40 separate yobo processes: about 75 s on the shared 2-core machine


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Party, Party]]:
    base = tmp_path_factory.mktemp("two-cities")
    hub = start_hub(hub_party(base))
    try:
        a = city_party(base, "A", CITY_A, hub.url)
        b = city_party(base, "B", CITY_B, hub.url)
        members = [init_city(a, hub.party), init_city(b, hub.party, first=a)]
        # Only B may ask A, and only for immunization history.
        load_permissions(hub.party, members, [
            {"asker": CITY_B, "provider": CITY_A, "item_set": "immunization_history", "clause": CLAUSE}])
        rng = random.Random(84)
        n_child, n_protected, n_parent, n_stranger = (checkdigit.generate(rng) for _ in range(4))
        a.run("residents", "import", str(_residents(a.root / "a.csv", [
            (A_CHILD, A_PARENT, n_child, "予防 一郎", "2023-04-01"),
            (A_PROTECTED, A_PROTECTED, n_protected, "予防 二郎", "2023-05-01"),
            (A_PARENT, A_PARENT, n_parent, "予防 花子", "1990-01-01")])), "--no-progress")
        assert a.json("exchange", "demo-prepare", "--protect", A_PROTECTED)["protection_requests"] == 1
        a.run("doses", "import", str(_doses(a.root / "doses.csv")), "--format", "clinic")
        b.run("residents", "import", str(_residents(b.root / "b.csv", [
            (B_CHILD, B_CHILD, n_child, "予防 一郎", "2023-04-01"),
            (B_PROTECTED, B_PROTECTED, n_protected, "予防 二郎", "2023-05-01"),
            (B_STRANGER, B_STRANGER, n_stranger, "金沢 三郎", "2022-01-01")])), "--no-progress")
        yield hub, a, b
    finally:
        hub.stop()


def test_two_cities_and_the_hub_as_processes(world: tuple[HubProcess, Party, Party]) -> None:
    hub, a, b = world
    copies = a.json("exchange", "register-copies")
    assert (copies["inserted"], copies["codes_acquired"]) == (3, 2)
    assert a.json("exchange", "register-copies")["inserted"] == 0  # idempotent

    # A permitted query is answered (B asks A about the moved-in child).
    q1 = b.json("exchange", "query", "--atena", B_CHILD, "--from", CITY_A)
    q2 = b.json("exchange", "query", "--atena", B_PROTECTED, "--from", CITY_A)
    q3 = b.json("exchange", "query", "--atena", B_STRANGER, "--from", CITY_A)
    assert [q["state"] for q in (q1, q2, q3)] == ["sent", "sent", "sent"]
    got = a.json("exchange", "inbox")
    assert (got["received"], got["answered"], got["held"], got["rejected"]) == (3, 2, 1, 0)
    got = b.json("exchange", "inbox")
    assert (got["results"], got["rejected"]) == (2, 0)
    status = {q["atena_no"]: q for q in b.json("exchange", "status")}
    assert status[B_CHILD]["state"] == "answered"
    assert status[B_CHILD]["result"] == [{"vaccine": "BCG", "dose": "1", "date": "2023-09-01"},
                                         {"vaccine": "HIB", "dose": "1", "date": "2023-06-10"}]
    # A person A never had: nobody found, nothing released.
    assert (status[B_STRANGER]["state"], status[B_STRANGER]["result"]) == ("not_found", [])

    # The protected person's answer waits for a staff member at A.
    assert status[B_PROTECTED]["state"] == "sent" and status[B_PROTECTED]["result"] is None
    [held] = a.json("exchange", "answer", "--list")
    assert held["atena_no"] == A_PROTECTED and held["items"] == [{"vaccine": "BCG", "dose": "1",
                                                                   "date": "2023-10-02"}]
    assert b.json("exchange", "inbox")["results"] == 0  # still waiting
    assert a.json("exchange", "answer", "--release", str(held["id"]))["released"] is True
    assert b.json("exchange", "inbox")["results"] == 1
    [p] = b.json("exchange", "status", "--atena", B_PROTECTED)
    assert p["state"] == "answered" and p["result"] == [{"vaccine": "BCG", "dose": "1", "date": "2023-10-02"}]

    # Not on the list: A may not ask B; the hub refuses the permit (exit 2).
    refused = a.run("exchange", "query", "--atena", A_CHILD, "--from", CITY_B, "--json", expect=(2,))
    assert json.loads(refused.stdout)["state"] == "refused"
    # An item set on no list: refused by the hub too (the city knows the set, the list does not).
    refused = b.run("exchange", "query", "--atena", B_CHILD, "--from", CITY_A, "--items", "resident_tax_status",
                    "--tax-year", "2026", "--json", expect=(2,))
    assert json.loads(refused.stdout)["state"] == "refused"

    # Tampered, 1: a message signed with a key that is not A's is refused by the hub.
    forged_keys, _ = crypto.init_keys(hub.party.root.parent / "forger", CITY_A)
    forged = crypto.sign({"type": "message", "sender": CITY_A, "receiver": CITY_B, "permit_id": "x" * 32,
                          "msg_id": crypto.new_message_id(), "sent_at": crypto.stamp(), "kind": "answer",
                          "outcome": "provided", "content": "e30"}, forged_keys)
    req = urllib.request.Request(  # noqa: S310 - the loopback URL of the test's own hub
        f"{hub.url}/v1/messages", data=json.dumps({"envelope": forged}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=10)  # noqa: S310
    assert exc.value.code == 401 and json.loads(exc.value.read())["error"] == "bad_signature"
    # Tampered, 2: an answer altered while it waits at the hub is rejected by B and listed.
    q4 = b.json("exchange", "query", "--atena", B_CHILD, "--from", CITY_A)
    assert a.json("exchange", "inbox")["answered"] == 1
    db = sqlite3.connect(hub.party.root / "hub.sqlite3")
    with db:
        (mid, token), = db.execute("SELECT delivery_id, token FROM hub_message WHERE receiver = ? AND "
                                   "delivered_at IS NULL", (CITY_B,)).fetchall()
        head, payload, sig = token.split(".")
        flipped = payload[:40] + ("A" if payload[40] != "A" else "B") + payload[41:]
        db.execute("UPDATE hub_message SET token = ? WHERE delivery_id = ?", (f"{head}.{flipped}.{sig}", mid))
    db.close()
    got = b.json("exchange", "inbox")
    assert (got["rejected"], got["results"]) == (1, 0)
    [q4_status] = [q for q in b.json("exchange", "status", "--atena", B_CHILD) if q["query_id"] == q4["query_id"]]
    assert q4_status["state"] == "sent"  # the altered answer was not taken

    # Provision records (情報提供等記録) at the hub for each case, and each city sees its own.
    records = hub.party.json("hub", "records")
    outcomes = [(r["event"], r["outcome"]) for r in records]
    assert outcomes.count(("permit", "issued")) == 4 and outcomes.count(("query", "routed")) == 4
    assert ("answer", "provided") in outcomes and ("answer", "not_found") in outcomes
    assert outcomes.count(("permit", "refused")) == 2
    refusals = {(r["asker"], r["provider"], r["item_set"], r["detail"]) for r in records if r["outcome"] == "refused"}
    assert refusals == {(CITY_A, CITY_B, "immunization_history", "not_on_list"),
                        (CITY_B, CITY_A, "resident_tax_status", "not_on_list")}
    assert {r["clause"] for r in records if r["outcome"] != "refused"} == {CLAUSE}
    assert not any(n in json.dumps(records) for n in (A_CHILD, B_CHILD, A_PROTECTED))  # nobody named
    mine_a = a.json("exchange", "records")
    assert mine_a and all(CITY_A in (r["asker"], r["provider"]) for r in mine_a)
    assert DEFAULT_CLAUSE not in json.dumps(mine_a)  # the clause is the list's, not a default

    # Retention: results stay within the period; a result older than it is emptied, the query row stays.
    assert b.json("exchange", "purge")["purged"] == 0
    old = (datetime.now(UTC) - timedelta(days=31)).strftime("%Y-%m-%d %H:%M:%S")
    bdb = sqlite3.connect(b.root / "yobo.sqlite3")
    with bdb:
        bdb.execute("UPDATE exchange_query SET completed_at = ? WHERE query_id = ?", (old, q1["query_id"]))
    bdb.close()
    assert b.json("exchange", "purge")["purged"] == 1
    after = {q["query_id"]: q for q in b.json("exchange", "status")}
    assert after[q1["query_id"]]["state"] == "answered" and after[q1["query_id"]]["result"] is None
    assert after[q2["query_id"]]["result"] == [{"vaccine": "BCG", "dose": "1", "date": "2023-10-02"}]
    # With the period set to 0 days every completed result goes at once (q2, q3, the refused tax
    # query) and the query still waiting (q4, its answer was tampered with) is abandoned and emptied.
    purged = b.json("exchange", "purge", extra_env={"YOBO_EXCHANGE_RETENTION_DAYS": "0"})
    assert (purged["purged"], purged["abandoned"]) == (4, 1)
    final = b.json("exchange", "status")
    assert all(q["result"] is None for q in final)
    assert {q["query_id"]: q["state"] for q in final}[q4["query_id"]] == "abandoned"
