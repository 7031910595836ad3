"""``yobo requests``: residents' requests (開示・訂正・利用停止請求), purpose G01."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.purposes import Purpose
from yobo.governance import requests

from ._common import common, day


class Command(OperatorCommand):
    help = "開示・訂正・利用停止請求 / residents' requests"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        r = sub.add_parser("register", help="受付 / register")
        r.add_argument("--kind", required=True, choices=["disclosure", "correction", "suspension"])
        r.add_argument("--atena", required=True)
        r.add_argument("--identity-check", required=True, help="本人確認書類の種類")
        r.add_argument("--requester", default="本人")
        r.add_argument("--detail", default="")
        r.add_argument("--received-on", default=None)
        ls = sub.add_parser("list", help="一覧")
        ls.add_argument("--state", default=None)
        s = sub.add_parser("show", help="詳細")
        s.add_argument("id", type=int)
        d = sub.add_parser("decide", help="決定 / decide")
        d.add_argument("id", type=int)
        d.add_argument("decision", choices=["granted", "partial", "refused"])
        d.add_argument("--reason", default="")
        c = sub.add_parser("close", help="完了")
        c.add_argument("id", type=int)
        x = sub.add_parser("disclose", help="開示資料 (PDF + JSON) の作成 / write the disclosure set")
        x.add_argument("id", type=int)
        x.add_argument("--out", required=True)
        k = sub.add_parser("correct", help="訂正の記録 / record a correction")
        k.add_argument("id", type=int)
        k.add_argument("--item", required=True)
        k.add_argument("--before", required=True)
        k.add_argument("--after", required=True)
        k.add_argument("--decision", required=True, choices=["accepted", "refused"])
        k.add_argument("--reason", default="")
        u = sub.add_parser("suspend", help="利用停止の決定 / decide a suspension")
        u.add_argument("id", type=int)
        u.add_argument("--refuse", action="store_true")
        u.add_argument("--reason", required=True)
        u.add_argument("--scope", default="")
        f = sub.add_parser("lift", help="利用停止の解除 / lift a suspension")
        f.add_argument("--atena", required=True)
        common(sub)

    def handle(self, *args: Any, **o: Any) -> None:
        ctx = self.context(Purpose.DISCLOSURE_REQUEST, o)
        a = o["action"]
        if a == "register":
            rid = requests.register(ctx, kind=o["kind"], atena_no=o["atena"], identity_check=o["identity_check"],
                                    requester=o["requester"], detail=o["detail"], received_on=day(o["received_on"]))
            self.emit(o, {"request_id": rid}, f"請求 {rid} を受け付けました。 / Registered {rid}.")
        elif a in ("list", "show"):
            rows = requests.list_requests(ctx, state=o["state"]) if a == "list" else [requests.get(ctx, o["id"])]
            data = [asdict(r) for r in rows]
            self.emit(o, data if a == "list" else data[0], "\n".join(
                f"{r.id:>5} {r.kind_label} 宛名 {r.atena_no} 受付 {r.received_on} 期限 {r.due_on} {r.state_label} "
                f"{r.decision}" for r in rows) or "(なし / none)")
        elif a == "decide":
            requests.decide(ctx, o["id"], o["decision"], o["reason"])
            self.emit(o, {"request_id": o["id"], "decision": o["decision"]}, "決定を記録しました。 / Decided.")
        elif a == "close":
            requests.close(ctx, o["id"])
            self.emit(o, {"request_id": o["id"], "state": "closed"}, "完了しました。 / Closed.")
        elif a == "disclose":
            j, p, dset = requests.write_disclosure(ctx, o["id"], o["out"])
            self.emit(o, {"json": str(j), "pdf": str(p), "access_log_entries": len(dset["access_log"])},
                      f"開示資料を作成しました / written: {p} {j}")
        elif a == "correct":
            requests.record_correction(ctx, o["id"], item=o["item"], before=o["before"], after=o["after"],
                                       decision=o["decision"], reason=o["reason"])
            self.emit(o, {"request_id": o["id"]}, "訂正を記録しました。 / Recorded.")
        elif a == "suspend":
            requests.decide_suspension(ctx, o["id"], grant=not o["refuse"], reason=o["reason"], scope=o["scope"])
            self.emit(o, {"request_id": o["id"], "suspended": not o["refuse"]}, "決定を記録しました。 / Decided.")
        elif a == "lift":
            changed = requests.lift_suspension(ctx, o["atena"])
            self.emit(o, {"lifted": changed}, "利用停止を解除しました。" if changed else "利用停止中ではありません。")
