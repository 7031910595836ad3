"""``yobo hub serve|permissions load|keys init|keys show|records``: the local hub's command (no Django).

Settings from the environment: ``YOBO_HUB_DB`` (``sqlite:////abs/hub.sqlite3`` or
``postgresql://…``; default ``$YOBO_VAR_DIR/hub.sqlite3``), ``YOBO_HUB_KEY_DIR`` (default
``$YOBO_KEY_DIR/hub``). Exit codes as CONTRACTS.md: 0 ok, 2 input rejected.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .app import open_hub


def _var_dir() -> Path:
    return Path(os.environ.get("YOBO_VAR_DIR") or "var").resolve()


def default_db() -> str:
    return os.environ.get("YOBO_HUB_DB") or f"sqlite:///{_var_dir() / 'hub.sqlite3'}"


def default_key_dir() -> Path:
    if os.environ.get("YOBO_HUB_KEY_DIR"):
        return Path(os.environ["YOBO_HUB_KEY_DIR"]).resolve()
    base = Path(os.environ["YOBO_KEY_DIR"]) if os.environ.get("YOBO_KEY_DIR") else _var_dir() / "keys"
    return (base / "hub").resolve()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logging.getLogger("yobo.hub.http").info(format, *args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="yobo hub",
                                 description="中継サーバー (情報提供ネットワークの代役) / the local hub")
    ap.add_argument("--db", default=None, help="hub database URL (default $YOBO_HUB_DB)")
    ap.add_argument("--key-dir", default=None, help="hub key directory (default $YOBO_HUB_KEY_DIR)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sv = sub.add_parser("serve", help="起動 / serve on loopback")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8700, help="0 = a free port (printed)")
    pm = sub.add_parser("permissions", help="照会許可用照合リスト / permission list")
    pm_sub = pm.add_subparsers(dest="pcmd", required=True)
    ld = pm_sub.add_parser("load", help="JSON を読み込む (members + permissions) / load a list")
    ld.add_argument("file")
    ld.add_argument("--merge", action="store_true", help="既存の許可を残す / keep existing permissions")
    ky = sub.add_parser("keys", help="中継サーバーの鍵 / the hub's keys")
    ky.add_argument("kcmd", choices=["init", "show"])
    rc = sub.add_parser("records", help="情報提供等記録 / provision records")
    rc.add_argument("--party", default=None)
    rc.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    db = args.db or default_db()
    key_dir = Path(args.key_dir).resolve() if args.key_dir else default_key_dir()
    if db.startswith("sqlite:///"):
        Path(db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    hub = open_hub(db, key_dir)
    if args.cmd == "keys":
        print(json.dumps(hub.keys.public(), ensure_ascii=False))
        return 0
    if args.cmd == "permissions":
        try:
            doc = json.loads(Path(args.file).read_text(encoding="utf-8"))
            counts = hub.load_permissions(doc, replace=not args.merge)
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"{args.file}: 照会許可用照合リストを読み込めません / cannot load the list\n{exc}\n")
            return 2
        print(json.dumps(counts))
        return 0
    if args.cmd == "records":
        rows = hub.records(args.party)
        if args.json:
            print(json.dumps(rows, ensure_ascii=False))
        else:
            for r in rows:
                print(f"{r['at']}\t{r['event']}\t{r['asker']}→{r['provider']}\t{r['item_set']}\t{r['clause']}\t"
                      f"{r['outcome']}\t{r['detail']}")
        return 0
    logging.basicConfig(level=os.environ.get("YOBO_LOG_LEVEL", "WARNING"))
    server = make_server(args.host, args.port, hub, server_class=_ThreadingServer, handler_class=_QuietHandler)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"yobo hub listening on http://{host}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
