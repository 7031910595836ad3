"""Exchange benchmark: query round trips through a real hub process on loopback.

``size`` queries (default 1,000) from city B to city A, each the full protocol over HTTP to
``yobo hub serve`` (its own SQLite file): B gets a permit and sends the sealed query (JWS inside JWE,
outer JWS); A pulls it, verifies, opens, seals the answer and sends it; B pulls, verifies and opens
the answer; both acknowledge. Every message is checked; nothing may be lost (``lost`` must be 0).

Reported: round-trip p50/p95/max in ms (target p95 < 100 ms), sustained queries per minute (target
1,000/min without loss), and a raw baseline measured in the same run: the same number of HTTP
requests per query to the hub's health endpoint (no crypto, no storage), to show what the protocol
itself costs. The city side's database work (door, copy lookup) is not in these figures.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

A, B = "141003", "172014"
REQUESTS_PER_QUERY = 8  # permit, send query, A inbox, A ack, send answer, B inbox, B ack, (directory cached)


def _start_hub(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "YOBO_HUB_DB": f"sqlite:///{tmp / 'hub.sqlite3'}", "YOBO_HUB_KEY_DIR": str(tmp / "hub")}
    proc = subprocess.Popen([sys.executable, "-m", "yobo.cli", "hub", "serve", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if "listening on" not in line:
        raise SystemExit("the hub did not start")
    return proc, line.split("listening on ")[1].strip()


def run(size: int | None = None) -> dict[str, Any]:
    size = size or 1000
    from yobo.exchange import crypto
    from yobo.exchange.client import HubClient, http_transport
    from yobo.exchange.hub.app import open_hub

    tmp = Path(tempfile.mkdtemp(prefix="yobo-bench-exchange-"))
    hub = open_hub(f"sqlite:///{tmp / 'hub.sqlite3'}", tmp / "hub")
    a, _ = crypto.init_keys(tmp / "a", A)
    b, _ = crypto.init_keys(tmp / "b", B)
    hub.load_permissions({"members": [a.public(), b.public()], "permissions": [
        {"asker": B, "provider": A, "item_set": "immunization_history", "clause": "bench"}]})
    token = "ab" * 32
    codes = crypto.unseal(hub.issue_codes(crypto.sign(
        {"type": "codes", "sender": B, "msg_id": "c1", "sent_at": crypto.stamp(), "tokens": [token]}, b)),
        b, hub.keys.public())["codes"]
    hub.store.close()
    proc, url = _start_hub(tmp)
    try:
        client = HubClient(http_transport(url))
        hub_pub = hub.keys.public()
        entries = {A: a.public(), B: b.public()}

        def req(keys: crypto.PartyKeys, kind: str, **kw: Any) -> str:
            return crypto.sign({"type": kind, "sender": keys.party, "msg_id": crypto.new_message_id(),
                                "sent_at": crypto.stamp(), **kw}, keys)

        def envelope(keys: crypto.PartyKeys, to: str, permit_id: str, kind: str, content: dict[str, Any],
                     **kw: Any) -> str:
            mid = crypto.new_message_id()
            return crypto.sign({"type": "message", "sender": keys.party, "receiver": to, "permit_id": permit_id,
                                "msg_id": mid, "sent_at": crypto.stamp(), "kind": kind,
                                "content": crypto.seal({"type": kind, "msg_id": mid, **content}, keys, entries[to]),
                                **kw}, keys)

        def receive(keys: crypto.PartyKeys) -> list[dict[str, Any]]:
            got = client.inbox(req(keys, "inbox"))
            out = []
            for d in got:
                dv = crypto.verify(d["token"], hub_pub)
                env = crypto.verify(dv["envelope"], entries[crypto.signer_of(dv["envelope"])])
                out.append({"env": env, "delivery": dv,
                            "content": crypto.unseal(env["content"], keys, entries[env["sender"]])})
            if got:
                client.ack(req(keys, "ack", ids=[d["id"] for d in got]))
            return out

        times: list[float] = []
        answered = 0
        start = time.perf_counter()
        for i in range(size):
            t0 = time.perf_counter()
            permit = crypto.verify(client.permit(req(b, "permit", provider=A, item_set="immunization_history",
                                                     code=codes[0])), hub_pub)
            client.send(envelope(b, A, permit["permit_id"], "query", {"query_id": str(i), "provider": A}))
            for m in receive(a):
                client.send(envelope(a, B, m["env"]["permit_id"], "answer",
                                     {"query_id": m["content"]["query_id"], "outcome": "provided",
                                      "items": [{"vaccine": "MR1", "dose": "1", "date": "2021-04-01"}]},
                                     outcome="provided"))
            for m in receive(b):
                answered += m["content"]["query_id"] == str(i)
            times.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
        # Raw baseline: the same number of plain HTTP requests, no crypto, no storage.
        tr = http_transport(url)
        b0 = time.perf_counter()
        for _ in range(size * REQUESTS_PER_QUERY):
            tr("GET", "/v1/health", None)
        baseline = time.perf_counter() - b0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    times.sort()
    return {
        "queries": size,
        "answered": answered,
        "lost": size - answered,
        "p50_ms": round(statistics.median(times) * 1000, 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 2),
        "max_ms": round(times[-1] * 1000, 2),
        "queries_per_minute": round(size / elapsed * 60),
        "baseline_http_ms_per_query": round(baseline / size * 1000, 2),
        "ratio_to_raw_http": round(elapsed / baseline, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)))
