"""Two cities and the hub as separate processes on loopback (issue #8, decision 084).

Shared by ``yobo demo --cities 2`` and the end-to-end test (``tests/e2e``). Each party is its own
directory with its own database (SQLite file), key directory and municipality code; every step
is a ``yobo`` command run as a separate process with that party's environment, so nothing is
shared but the hub's HTTP port and the network linkage key file (decision 081).

``prepare_city`` is the one function that runs inside a city's process (``yobo exchange
demo-prepare``); the rest imports no Django.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, Protocol

CITY_A = "141003"  # 横浜市: where the person lived, with the synthetic demo city
CITY_B = "172014"  # 金沢市: where the person moved in
OPERATOR = {"YOBO_OPERATOR": "demo-admin", "YOBO_TERMINAL": "demo-terminal"}
# Variables of the calling process that must not leak into a party (each sets its own).
_OWN = ("YOBO_DATABASE_URL", "YOBO_VAR_DIR", "YOBO_KEY_DIR", "YOBO_MUNICIPALITY", "YOBO_HUB_URL", "YOBO_HUB_DB",
        "YOBO_HUB_KEY_DIR", "YOBO_TEST_SQLITE_NAME", "YOBO_TESTING", "YOBO_OPERATOR", "YOBO_TERMINAL",
        "YOBO_EXCHANGE_RETENTION_DAYS", "DJANGO_SETTINGS_MODULE")


class Writer(Protocol):
    def write(self, text: str, /) -> Any: ...

    def flush(self) -> Any: ...


class StepFailed(RuntimeError):
    """A ``yobo`` command of a party ended with an unexpected exit code (stderr attached)."""


@dataclass
class Party:
    """One process environment: a city (``code``) or the hub (``code == "hub"``)."""

    name: str
    code: str
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, expect: Iterable[int] = (0,), timeout: float = 300,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``yobo ARGS`` in this party's environment; refuses an exit code not in ``expect``."""
        env = {**self.env, **(extra_env or {})}
        p = subprocess.run(  # noqa: S603 - this interpreter's own yobo command, arguments from code
            [sys.executable, "-m", "yobo.cli", *args], env=env, capture_output=True, text=True, timeout=timeout,
            check=False, cwd=self.root)
        if p.returncode not in tuple(expect):
            raise StepFailed(f"{self.name}: yobo {' '.join(args)} -> exit {p.returncode}\n{p.stderr[-2000:]}")
        return p

    def json(self, *args: str, expect: Iterable[int] = (0,), **kw: Any) -> Any:
        out = self.run(*args, "--json", expect=expect, **kw).stdout.strip()
        return json.loads(out.splitlines()[-1]) if out else None

    def popen(self, *args: str, log: Path | None = None) -> subprocess.Popen[str]:
        """A long-running ``yobo ARGS`` (a server) in this party's environment."""
        out: IO[str] | int = log.open("a", encoding="utf-8") if log else subprocess.DEVNULL
        return subprocess.Popen(  # noqa: S603 - this interpreter's own yobo command, arguments from code
            [sys.executable, "-m", "yobo.cli", *args], env=self.env, cwd=self.root, stdout=subprocess.PIPE,
            stderr=out, text=True, start_new_session=True)


def write(path: Path, text: str) -> None:
    """The demo's working files, all under its own directory (synthetic data, public keys, lists)."""
    path.write_text(text, encoding="utf-8")


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _OWN}


def hub_party(base: Path) -> Party:
    root = base / "hub"
    root.mkdir(parents=True, exist_ok=True)
    env = {**_base_env(), "YOBO_HUB_DB": f"sqlite:///{root / 'hub.sqlite3'}", "YOBO_HUB_KEY_DIR": str(root / "keys"),
           "YOBO_VAR_DIR": str(root)}
    return Party("hub", "hub", root, env)


def city_party(base: Path, name: str, code: str, hub_url: str) -> Party:
    root = base / code
    root.mkdir(parents=True, exist_ok=True)
    env = {**_base_env(), "YOBO_VAR_DIR": str(root / "var"), "YOBO_KEY_DIR": str(root / "keys"),
           "YOBO_DATABASE_URL": f"sqlite:///{root / 'yobo.sqlite3'}", "YOBO_MUNICIPALITY": code,
           "YOBO_HUB_URL": hub_url, **OPERATOR}
    return Party(name, code, root, env)


@dataclass
class HubProcess:
    party: Party
    proc: subprocess.Popen[str]
    url: str

    def stop(self) -> None:
        stop(self.proc)


def start_hub(hub: Party, port: int = 0) -> HubProcess:
    """``yobo hub serve --port PORT`` (0: a free one); returns when it prints its URL."""
    hub.run("hub", "keys", "init")
    proc = hub.popen("hub", "serve", "--port", str(port), log=hub.root / "hub.log")
    line = proc.stdout.readline() if proc.stdout is not None else ""
    if "listening on" not in line:
        stop(proc)
        raise StepFailed(f"hub did not start: {line!r} (see {hub.root / 'hub.log'})")
    return HubProcess(hub, proc, line.split("listening on ")[1].strip().rstrip("/"))


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and nothing else
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def init_city(city: Party, hub: Party, *, first: Party | None = None, base_url: str = "") -> dict[str, Any]:
    """``yobo init --demo-operator`` and the city's exchange keys (the linkage key copied from
    ``first``, the hub's public key registered). Returns the city's public member entry."""
    out = city.json("init", "--municipality", city.code, "--demo-operator",
                    *(("--base-url", base_url) if base_url else ()))
    write(city.root / "init.json", json.dumps(out, ensure_ascii=False))
    hub_pub = hub.root / "hub.pub.json"
    if not hub_pub.exists():
        write(hub_pub, hub.run("hub", "keys", "show").stdout)
    args = ["exchange", "keys", "init", "--hub-key", str(hub_pub)]
    if first is not None:
        args += ["--linkage-key", str(first.root / "keys" / "exchange" / "linkage.key")]
    city.run(*args)
    entry = city.json("exchange", "keys", "show")
    return {"code": entry["code"], "name": city.name, "sig": entry["sig"], "enc": entry["enc"]}


def load_permissions(hub: Party, members: Sequence[dict[str, Any]], permissions: Sequence[dict[str, str]]) -> None:
    doc = hub.root / "permissions.json"
    write(doc, json.dumps({"members": list(members), "permissions": list(permissions)}, ensure_ascii=False))
    hub.run("hub", "permissions", "load", str(doc))


def demo_permissions() -> list[dict[str, str]]:
    """B may ask A for immunization history and tax status (the move A → B); nothing else."""
    from .items import DEFAULT_CLAUSE, IMMUNIZATION_HISTORY, RESIDENT_TAX, TAX_CLAUSE

    return [
        {"asker": CITY_B, "provider": CITY_A, "item_set": IMMUNIZATION_HISTORY.code, "clause": DEFAULT_CLAUSE},
        {"asker": CITY_B, "provider": CITY_A, "item_set": RESIDENT_TAX.code, "clause": TAX_CLAUSE},
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- inside a city's process -----------------------------------------------------------------------


def prepare_city(ctx: Any, *, protect: Sequence[str] = ()) -> dict[str, int]:
    """The demo masters (clinics, products, lots) a dose file needs, and protection requests
    (支援措置, set request pending: never answered automatically). ``ctx``: purpose V02."""
    from yobo.core.purposes import Purpose
    from yobo.immunizations.services import load_demo_masters
    from yobo.people import protection

    masters = load_demo_masters(ctx)
    pctx = ctx.for_purpose(Purpose.PROTECTION_MEASURE)
    requests = 0
    for a in protect:
        protection.request_change(pctx, a, "set", note="two-city demo")
        requests += 1
    return {"masters": sum(int(v) for v in masters.values()), "protection_requests": requests}


# --- the two-city demo (yobo demo --cities 2) --------------------------------------------------------


def pick_mover(residents_csv: Path, today: date) -> list[dict[str, str]]:
    """A household of A with a young child (born within the last six years) and My Numbers: the
    family that moves to B. Rows of A's resident file, child first."""
    from yobo.people.extract import BIRTH, HOUSEHOLD, MY_NUMBER, STATUS

    households: dict[str, list[dict[str, str]]] = {}
    with residents_csv.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            if row[STATUS].strip() == "1":
                households.setdefault(row[HOUSEHOLD], []).append(row)
    from yobo.core.wareki import parse_date

    for rows in households.values():
        if len(rows) < 2 or not all(r[MY_NUMBER].strip() for r in rows):
            continue
        try:
            births = [parse_date(r[BIRTH]) for r in rows]
        except ValueError:
            continue
        kids = [r for r, b in zip(rows, births, strict=True) if 1 <= (today - b).days // 365 <= 5]
        if kids:
            return [kids[0], *(r for r in rows if r is not kids[0])]
    raise StepFailed(f"{residents_csv}: no household with a young child")


def moved_in_file(rows: Sequence[dict[str, str]], out: Path, moved_on: date) -> list[str]:
    """B's resident extract: the family with new 宛名番号/世帯番号 and an address in B (転入)."""
    from yobo.people.extract import (
        ADDRESS,
        ADDRESS_EXTRA,
        ATENA,
        CHANGE_DATE,
        CHANGE_REASON,
        COLUMNS,
        HOUSEHOLD,
        PHONE,
        POSTAL,
    )

    atenas = [f"{2000000001 + i}" for i in range(len(rows))]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for a, r in zip(atenas, rows, strict=True):
        w.writerow({**r, ATENA: a, HOUSEHOLD: "2000000001", POSTAL: "9200962",
                    ADDRESS: "石川県金沢市広坂一丁目1番1号", ADDRESS_EXTRA: "", PHONE: "",
                    CHANGE_REASON: "転入", CHANGE_DATE: moved_on.isoformat()})
    write(out, buf.getvalue())
    return atenas


def run_two_cities(base: Path, *, port: int, serve: bool, out: Writer) -> int:
    """Start the hub and cities A and B (own databases, keys, codes) on loopback, move a family of
    A's synthetic city to B, have B query A and A answer, and serve both cities' staff pages."""
    base.mkdir(parents=True, exist_ok=True)
    say = out.write
    hub = hub_party(base)
    hub_port = port + 100
    hub_proc = start_hub(hub, hub_port if _port_free(hub_port) else 0)
    servers: list[subprocess.Popen[str]] = []
    try:
        say(f"中継サーバー / hub: {hub_proc.url}/ ({hub.root})\n")
        port_a, port_b = port, port + 1
        a = city_party(base, "A", CITY_A, hub_proc.url)
        b = city_party(base, "B", CITY_B, hub_proc.url)
        url_a, url_b = f"http://localhost:{port_a}", f"http://127.0.0.1:{port_b}"
        members = [init_city(a, hub, base_url=url_a), init_city(b, hub, first=a, base_url=url_b)]
        load_permissions(hub, members, demo_permissions())
        say(f"A {CITY_A}: 合成住民と接種記録を準備中 / loading A's synthetic city ({a.root}) …\n")
        out.flush()
        a.run("demo", "--no-serve", "--port", str(port_a), timeout=1800)
        residents = a.root / "var" / "demo-residents-2025.csv"
        family = pick_mover(residents, date.today())
        child_a = family[0]["宛名番号"]
        family_a = [r["宛名番号"] for r in family]
        copies = a.json("exchange", "register-copies", *(x for f in family_a for x in ("--atena", f)))
        a.json("exchange", "codes", *(x for f in family_a for x in ("--atena", f)))  # parents have no copy
        say(f"A: 副本登録 / copies of {child_a}: {copies['inserted']} 件, 符号 {copies['codes_acquired']}\n")
        atenas_b = moved_in_file(family, b.root / "moved-in.csv", date.today())
        b.run("residents", "import", str(b.root / "moved-in.csv"), "--no-progress")
        child_b = atenas_b[0]
        say(f"B {CITY_B}: 転入 {len(family)} 人 (A {child_a} → B {child_b})\n")
        done = [q for q in b.json("exchange", "status", "--atena", child_b) or [] if q["state"] == "answered"]
        if not done:
            q = b.json("exchange", "query", "--atena", child_b, "--from", CITY_A)
            say(f"B: 照会 / query {q['query_id']}: {q['state']}\n")
            answered = a.json("exchange", "inbox")
            got = b.json("exchange", "inbox")
            say(f"A: 自動回答 / answered {answered['answered']} (held {answered['held']}); "
                f"B: 結果 / results {got['results']}\n")
        hist = next(q for q in b.json("exchange", "status", "--atena", child_b)
                    if q["state"] == "answered" and q.get("item_set", "immunization_history") == "immunization_history")
        say(f"B: {child_b} の接種歴 (A から) / history received: {len(hist['result'] or [])} 件\n")
        _tax_step(a, b, family_a, child_b, say)
        if not serve:
            return 0
        for party, host, p in ((a, "localhost", port_a), (b, "127.0.0.1", port_b)):
            servers.append(party.popen("manage", "runserver", f"{host}:{p}", "--noreload", "--insecure",
                                       log=party.root / "server.log"))
        demo_a = json.loads((a.root / "init.json").read_text(encoding="utf-8"))["demo"]
        demo_b = json.loads((b.root / "init.json").read_text(encoding="utf-8"))["demo"]
        say("\n== 2市のデモ / two cities ==\n")
        for label, party, url, d in (("A (転出元)", a, url_a, demo_a), ("B (転入先)", b, url_b, demo_b)):
            say(f"{label} {party.code}: {url}/  端末登録 / enrol: {d['enroll_url']}\n"
                f"   ログイン demo-admin / {d['password']}  TOTP鍵 {d['totp_secret']}\n"
                f"   現在のコード / current code: YOBO_VAR_DIR={party.root / 'var'} "
                f"YOBO_DATABASE_URL={party.env['YOBO_DATABASE_URL']} yobo demo --code\n")
        say(f"B の対象者ページ / B's person page: {url_b}/people/{child_b}/  "
            f"(受信した接種歴 / received history: {url_b}/exchange/person/{child_b}/)\n"
            "A と B はホスト名を変えています (localhost / 127.0.0.1): ログインのクッキーが混ざらないように。"
            " / Different host names keep the two logins apart.\n終了は Ctrl+C / Ctrl+C stops all.\n")
        out.flush()
        signal.signal(signal.SIGTERM, _interrupt)  # stopped by a service manager: still stop the children
        while all(s.poll() is None for s in servers) and hub_proc.proc.poll() is None:
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for s in servers:
            stop(s)
        hub_proc.stop()


def _tax_step(a: Party, b: Party, family_a: Sequence[str], child_b: str, say: Any) -> None:
    """Fee exemption at B needs the family's resident tax of this 年度, assessed by A (decision 083):
    A's tax system reported them 非課税; B's check sends the tax queries, A answers, B decides."""
    if b.json("fees", "decisions", "--atena", child_b):
        return
    year = date.today().year if date.today().month >= 6 else date.today().year - 1
    status = a.root / "tax-status.csv"
    write(status, "宛名番号,種別,年度,課税区分,開始日,終了日\n" + "".join(f"{x},1,{year},2,,\n" for x in family_a))
    a.run("fees", "import-status", str(status))
    first = b.json("fees", "check", "--atena", child_b, "--vaccine", "JE1")
    a.json("exchange", "inbox")
    b.json("exchange", "inbox")
    [d] = b.json("fees", "decisions", "--atena", child_b)
    say(f"B: 実費徴収の免除 / fee exemption of {child_b}: {first.get('result', '?')} → {d.get('result')} "
        f"(A への税情報照会 {year}年度 / tax status queried from A)\n")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
