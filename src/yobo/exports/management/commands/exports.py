"""``yobo exports``: approved exports and the media log (外部出力申請・承認・出力・媒体管理簿・消去確認).

Acts as ``--as USER`` / ``YOBO_OPERATOR`` from ``YOBO_TERMINAL`` under purpose G03 (and A01 for the
permitted-terminal list). ``overdue`` exits 1 when any medium is past its deletion date unreported.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import date
from typing import Any

from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.errors import InputRejected, YoboError
from yobo.core.purposes import Purpose
from yobo.exports import registry, selectors, services
from yobo.exports.models import Medium


def _date(s: str | None) -> date | None:
    if not s:
        return None
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise InputRejected(f"日付は YYYY-MM-DD で入力してください: {s} / Date must be YYYY-MM-DD.") from None


class Overdue(YoboError):
    exit_code = 1


class Command(OperatorCommand):
    help = "外部出力申請・承認・出力・媒体管理簿 / approved exports and the media log"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        r = sub.add_parser("request", help="外部出力の申請 / request an export")
        r.add_argument("--kind", required=True, help="出力の種類 (yobo exports kinds)")
        r.add_argument("--purpose", required=True, help="業務の処理事由 (e.g. N03)")
        r.add_argument("--item", action="append", default=[], help="出力項目 (repeatable; default: all of the kind)")
        r.add_argument("--reason", required=True)
        r.add_argument("--destination", required=True, help="提供先")
        r.add_argument("--medium", required=True, choices=Medium.values)
        r.add_argument("--encoding", default="utf-8", choices=services.ENCODINGS)
        r.add_argument("--delete-within-days", type=int, default=30)
        a = sub.add_parser("approve", help="承認 (決裁者) / approve")
        a.add_argument("id", type=int)
        a.add_argument("--note", default="")
        j = sub.add_parser("reject", help="却下・取下げ / reject or withdraw")
        j.add_argument("id", type=int)
        j.add_argument("--note", default="")
        ls = sub.add_parser("list", help="申請一覧 / list requests")
        ls.add_argument("--state", default=None)
        s = sub.add_parser("show", help="申請の詳細 / show a request")
        s.add_argument("id", type=int)
        run = sub.add_parser("run", help="承認済みの申請を出力 (暗号化ZIP) / write an approved export")
        run.add_argument("id", type=int)
        run.add_argument("--out", default=None, help="出力先ディレクトリ (default var/exports)")
        c = sub.add_parser("confirm-deletion", help="提供先からの消去報告を記録 / record the deletion report")
        c.add_argument("serial", help="媒体管理番号")
        c.add_argument("--reported-by", required=True)
        c.add_argument("--reported-on", default=None)
        c.add_argument("--note", default="")
        sub.add_parser("overdue", help="消去報告の期限超過 / overdue deletion reports (exit 1 if any)")
        m = sub.add_parser("media", help="媒体管理簿 / the media log")
        m.add_argument("--from", dest="date_from", default=None)
        m.add_argument("--to", dest="date_to", default=None)
        sub.add_parser("kinds", help="出力の種類 / registered export kinds")
        t = sub.add_parser("terminals", help="外部出力許可端末 / permitted terminals")
        t.add_argument("--permit", default=None, metavar="TERMINAL")
        t.add_argument("--revoke", default=None, metavar="TERMINAL")
        t.add_argument("--note", default="")
        for p in sub.choices.values():
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力 / print JSON")
            p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")

    def handle(self, *args: Any, **o: Any) -> None:
        action = o["action"]
        if action == "kinds":
            kinds = [{"code": k.code, "label": k.label, "items": list(k.items), "purposes": sorted(k.purposes)}
                     for k in registry.all_kinds()]
            self.emit(o, kinds, "\n".join(f"{k['code']:<28} {k['label']}  [{', '.join(k['items'])}]" for k in kinds)
                      or "(登録された出力の種類はありません / no kinds registered)")
            return
        ctx = self.context(Purpose.EXPORT, o)
        if action == "request":
            items = o["item"]
            if not items:
                k = registry.get(o["kind"])
                items = list(k.items) if k else []
            rid = services.request_export(
                ctx.for_purpose(o["purpose"]), kind=o["kind"], purpose=o["purpose"], items=items,
                reason=o["reason"], destination=o["destination"], medium=o["medium"], encoding=o["encoding"],
                delete_within_days=o["delete_within_days"])
            self.emit(o, {"request_id": rid}, f"外部出力申請 {rid} を受け付けました（承認待ち）。 / Filed {rid}.")
        elif action == "approve":
            services.approve(ctx, o["id"], o["note"])
            self.emit(o, {"request_id": o["id"], "state": "approved"}, f"申請 {o['id']} を承認しました。 / Approved.")
        elif action == "reject":
            services.reject(ctx, o["id"], o["note"])
            self.emit(o, {"request_id": o["id"]}, f"申請 {o['id']} を却下・取下げしました。 / Rejected or withdrawn.")
        elif action in ("list", "show"):
            rows = selectors.list_requests(ctx, state=o["state"]) if action == "list" else [
                selectors.get_request(ctx, o["id"])]
            data = [asdict(r) for r in rows]
            self.emit(o, data if action == "list" else data[0], "\n".join(
                f"{r.id:>5} {r.state_label:<6} {r.kind:<24} {r.purpose} {r.destination} ({r.medium_label})"
                f" 申請 {r.requested_by}" + (f" 承認 {r.decided_by}" if r.decided_by else "")
                + (f" 媒体 {r.media_serial}" if r.media_serial else "") for r in rows) or "(なし / none)")
        elif action == "run":
            res = services.run_registered(ctx, o["id"], out_dir=o["out"])
            out: dict[str, Any] = {
                "request_id": res.request_id, "serial": res.serial, "path": str(res.path), "sha256": res.sha256,
                    "rows": res.rows, "persons": res.persons, "delete_due": res.delete_due.isoformat(),
                    "password": res.password}
            self.emit(o, out, "\n".join([
                f"出力しました / written: {res.path}",
                f"媒体管理番号 {res.serial}  {res.rows}行  SHA-256 {res.sha256}",
                f"消去期限 / delete by: {res.delete_due.isoformat()}",
                f"パスワード（一度だけ表示。ファイルとは別の経路で提供先へ） / password (shown once): {res.password}",
            ]))
        elif action == "confirm-deletion":
            services.confirm_deletion(ctx, o["serial"], reported_by=o["reported_by"],
                                      reported_on=_date(o["reported_on"]), note=o["note"])
            self.emit(o, {"serial": o["serial"], "confirmed": True}, f"媒体 {o['serial']} の消去を確認しました。")
        elif action in ("overdue", "media"):
            ms = selectors.overdue(ctx) if action == "overdue" else selectors.media_log(
                ctx, date_from=_date(o["date_from"]), date_to=_date(o["date_to"]))
            self.emit(o, [asdict(m) for m in ms], "\n".join(
                f"{m.serial} {m.written_at:%Y-%m-%d} {m.medium_label} {m.destination} {m.row_count}行 "
                f"消去期限 {m.delete_due}" + (" 消去確認済" if m.deletion_confirmed_at else "") for m in ms)
                or "(なし / none)")
            if action == "overdue" and ms:
                raise Overdue(f"消去報告の期限を過ぎた媒体が {len(ms)} 件あります。 / {len(ms)} overdue.")
        elif action == "terminals":
            if o["permit"]:
                services.permit_terminal(ctx, o["permit"], o["note"])
            if o["revoke"]:
                services.revoke_terminal(ctx, o["revoke"])
            ts = selectors.permitted_terminals(ctx)
            self.emit(o, [{"terminal": t, "note": n, "added_by": b} for t, n, b in ts],
                      "\n".join(f"{t:<20} {n} ({b})" for t, n, b in ts) or "(なし / none)")
