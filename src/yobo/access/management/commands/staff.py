"""``yobo staff``: staff accounts and terminals for IT staff (職員アカウント・端末の管理).

Acts as ``--as USER`` / ``YOBO_OPERATOR`` from ``YOBO_TERMINAL`` under purpose A01; every change
goes through the access services, so it is permitted only to administrators and logged.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import date
from typing import Any

from django.core.management.base import CommandParser

from yobo.access import selectors, services
from yobo.access.cli import OperatorCommand
from yobo.core.errors import InputRejected
from yobo.core.purposes import Purpose


def _date(s: str | None) -> date | None:
    if not s:
        return None
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise InputRejected(f"日付は YYYY-MM-DD で入力してください: {s} / Date must be YYYY-MM-DD.") from None


class Command(OperatorCommand):
    help = "職員アカウント・端末の管理 / staff accounts and terminals"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="職員一覧 / list staff")
        c = sub.add_parser("create", help="職員アカウントの発行 / create an account")
        c.add_argument("username")
        c.add_argument("--last-name", required=True, help="姓")
        c.add_argument("--first-name", required=True, help="名")
        c.add_argument("--department", default=None, help="所属コード")
        c.add_argument("--duty", action="append", default=[], help="職責 (repeatable): admin, clerk, entry, ...")
        c.add_argument("--expires", default=None, help="有効期限 YYYY-MM-DD")
        c.add_argument("--mynumber-right", action="store_true", help="個人番号参照権限を付与")
        c.add_argument("--contractor", default="", metavar="COMPANY", help="委託先事業者名 (委託先アカウント)")
        r = sub.add_parser("revoke", help="アカウントの失効 / revoke")
        r.add_argument("username")
        r.add_argument("--reason", required=True)
        g = sub.add_parser("grant-mynumber", help="個人番号参照権限の付与 / grant the My Number right")
        g.add_argument("username")
        g.add_argument("--withdraw", action="store_true", help="取り消す / withdraw instead")
        u = sub.add_parser("unlock", help="ロック解除 / unlock")
        u.add_argument("username")
        v = sub.add_parser("review", help="IDの棚卸し / unused and expiring accounts")
        v.add_argument("--unused-days", type=int, default=90)
        v.add_argument("--expiring-days", type=int, default=30)
        t = sub.add_parser("terminal-register", help="端末の登録 / register a terminal")
        t.add_argument("name")
        t.add_argument("--kind", choices=["web", "cli", "system"], default="web")
        t.add_argument("--department", default=None)
        t.add_argument("--location", default="")
        t.add_argument("--cert-fingerprint", default="", help="SHA-256 of the client certificate")
        t.add_argument("--base-url", default="http://localhost:8000")
        sub.add_parser("terminal-list", help="端末一覧 / list terminals")
        for p in sub.choices.values():
            # `yobo staff list --json` as well as `yobo staff --json list`.
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力 / print JSON")
            p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")

    def handle(self, *args: Any, **o: Any) -> None:
        ctx = self.context(Purpose.ADMINISTRATION, o)
        action = o["action"]
        if action == "list":
            rows: list[dict[str, Any]] = [{"username": s.username, "name": f"{s.last_name} {s.first_name}",
                     "department": s.department.code if s.department else "", "duties": sorted(s.duties()),
                     "mynumber_right": s.mynumber_right, "contractor": s.is_contractor,
                     "expires_on": s.expires_on.isoformat() if s.expires_on else None,
                     "status": s.inactive_reason() or "active"} for s in selectors.list_staff(ctx)]
            self.emit(o, rows, "\n".join(
                f"{r['username']:<20} {r['name']:<16} {r['department']:<10} {','.join(r['duties']):<30} "
                f"{'M' if r['mynumber_right'] else '-'} {r['status']}" for r in rows))
        elif action == "create":
            if o["contractor"]:
                acc = services.create_contractor(
                    ctx, username=o["username"], last_name=o["last_name"], first_name=o["first_name"],
                    company=o["contractor"], expires_on=_date(o["expires"]), department=o["department"])
            else:
                acc = services.create_staff(
                    ctx, username=o["username"], last_name=o["last_name"], first_name=o["first_name"],
                    department=o["department"], duties=o["duty"], expires_on=_date(o["expires"]),
                    mynumber_right=o["mynumber_right"])
            self.emit(o, {"username": acc.staff.username, "password": acc.password},
                      f"発行しました / created: {acc.staff.username}\n"
                      f"初期パスワード / initial password: {acc.password}")
        elif action == "revoke":
            s = services.revoke_staff(ctx, o["username"], o["reason"])
            self.emit(o, {"username": s.username, "revoked": True}, f"失効しました / revoked: {s.username}")
        elif action == "grant-mynumber":
            s = services.set_mynumber_right(ctx, o["username"], not o["withdraw"])
            self.emit(o, {"username": s.username, "mynumber_right": s.mynumber_right},
                      f"{s.username}: 個人番号参照権限 / My Number right = {s.mynumber_right}")
        elif action == "unlock":
            s = services.unlock_staff(ctx, o["username"])
            self.emit(o, {"username": s.username, "unlocked": True}, f"ロック解除 / unlocked: {s.username}")
        elif action == "review":
            found = selectors.review_accounts(ctx, unused_days=o["unused_days"], expiring_days=o["expiring_days"])
            self.emit(o, [asdict(r) for r in found], "\n".join(
                f"{r.username:<20} {r.name:<16} {selectors.REVIEW_LABELS[r.finding]:<20} "
                f"last={r.last_login or '-'} expires={r.expires_on or '-'}" for r in found)
                or "該当なし / nothing to review")
        elif action == "terminal-register":
            nt = services.register_terminal(ctx, name=o["name"], kind=o["kind"], department=o["department"],
                                            location=o["location"], cert_fingerprint=o["cert_fingerprint"])
            url = f"{o['base_url'].rstrip('/')}/terminal/enroll/{nt.enroll_code}/" if nt.enroll_code else ""
            self.emit(o, {"terminal": nt.terminal.name, "enroll_url": url},
                      f"登録しました / registered: {nt.terminal.name}" + (f"\n登録用リンク / enrolment link: {url}"
                                                                       if url else ""))
        elif action == "terminal-list":
            ts = selectors.list_terminals(ctx)
            rows = [{"name": t.name, "kind": t.kind, "active": t.active, "certificate": bool(t.cert_fingerprint),
                     "enrolled": bool(t.token_hash)} for t in ts]
            self.emit(o, rows, "\n".join(
                f"{r['name']:<24} {r['kind']:<7} {'active' if r['active'] else 'disabled'}" for r in rows))
