"""``yobo apiclient register|rotate|revoke|list`` — systems of the city that call the API."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from django.core.management.base import CommandParser

from yobo.access import clients
from yobo.access.cli import OperatorCommand
from yobo.core.errors import InputRejected
from yobo.core.purposes import Purpose


def _row(c: clients.ClientInfo) -> dict[str, Any]:
    return {"name": c.name, "terminal": c.terminal, "account": c.account, "duties": list(c.duties),
            "purposes": list(c.purposes), "token_hint": c.token_hint,
            "expires_on": c.expires_on.isoformat() if c.expires_on else None,
            "revoked": c.revoked_at is not None,
            "last_used_at": c.last_used_at.isoformat() if c.last_used_at else None}


class Command(OperatorCommand):
    help = "外部システム (API) の登録・鍵更新・失効 / register, rotate and revoke API clients"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        common: Any = argparse.ArgumentParser(add_help=False)
        common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力 / print JSON")
        common.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員 / operator")
        r = sub.add_parser("register", parents=[common], help="登録 (認証情報は一度だけ表示) / register")
        r.add_argument("name")
        r.add_argument("--duty", action="append", required=True, help="職責 (e.g. clerk, certificate)")
        r.add_argument("--purpose", action="append", required=True, help="処理事由 (e.g. P02); 最初が既定")
        r.add_argument("--expires", default=None, help="有効期限 YYYY-MM-DD")
        r.add_argument("--department", default="", help="所属コード")
        o = sub.add_parser("rotate", parents=[common], help="認証情報の更新 / new credential")
        o.add_argument("name")
        v = sub.add_parser("revoke", parents=[common], help="失効 / revoke")
        v.add_argument("name")
        v.add_argument("--reason", required=True)
        sub.add_parser("list", parents=[common], help="一覧 / list")

    def handle(self, *args: Any, **options: Any) -> None:
        ctx = self.context(Purpose.ADMINISTRATION, options)
        action = options["action"]
        if action == "register":
            try:
                expires = date.fromisoformat(options["expires"]) if options["expires"] else None
            except ValueError:
                raise InputRejected("有効期限は YYYY-MM-DD です。 / --expires is YYYY-MM-DD.") from None
            info, token = clients.register(ctx, options["name"], duties=options["duty"], purposes=options["purpose"],
                                           expires_on=expires, department=options["department"])
            self.emit(options, {**_row(info), "token": token},
                      f"外部システム {info.name} を登録しました（端末 {info.terminal}、アカウント {info.account}）。\n"
                      f"認証情報（この一度だけ表示します）/ credential, shown once:\n{token}")
        elif action == "rotate":
            token = clients.rotate(ctx, options["name"])
            self.emit(options, {"name": options["name"], "token": token},
                      f"新しい認証情報（この一度だけ表示します）/ new credential, shown once:\n{token}")
        elif action == "revoke":
            clients.revoke(ctx, options["name"], options["reason"])
            self.emit(options, {"name": options["name"], "revoked": True}, f"{options['name']} を失効させました。")
        else:
            rows = [_row(c) for c in clients.clients(ctx)]
            self.emit(options, rows, "\n".join(f"{r['name']}\t{r['account']}\t{','.join(r['purposes'])}\t"
                                               f"{'revoked' if r['revoked'] else 'active'}" for r in rows) or "(none)")
