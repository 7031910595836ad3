"""``yobo pia``: live PIA evidence (report as JSON/PDF), the change log and the self-inspection.

``report`` acts for A02 (監査); ``changes --detect``, ``assess`` and ``record-change`` for A01.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from yobo.access.cli import OperatorCommand
from yobo.core.purposes import Purpose
from yobo.governance import pia

from ._common import common, day


class Command(OperatorCommand):
    help = "PIAの実施状況報告・変更記録・自己点検 / live PIA evidence"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        r = sub.add_parser("report", help="実施状況報告 / the report (JSON, PDF)")
        r.add_argument("--from", dest="date_from", default=None, help="default: one year ago")
        r.add_argument("--to", dest="date_to", default=None, help="default: today")
        r.add_argument("--pdf", default=None, metavar="FILE")
        r.add_argument("--verify", action="store_true", help="アクセス記録を今検証する / verify the log now")
        c = sub.add_parser("changes", help="変更箇所の一覧 / the change log")
        c.add_argument("--detect", action="store_true", help="設定の変更を検出して記録 / detect and record")
        a = sub.add_parser("assess", help="重要な変更か・事前/事後 / assess a change")
        a.add_argument("id", type=int)
        a.add_argument("--important", action="store_true")
        a.add_argument("--submission", required=True, choices=["before", "after"])
        a.add_argument("--explanation", default="")
        m = sub.add_parser("record-change", help="変更の手動記録 / record a change")
        m.add_argument("--item", required=True)
        m.add_argument("--before", default="")
        m.add_argument("--after", default="")
        m.add_argument("--changed-on", default=None)
        i = sub.add_parser("inspect", help="自己点検の記録 (判定案を確認して) / record the self-inspection")
        i.add_argument("--fiscal-year", type=int, required=True)
        i.add_argument("--answer", action="append", default=[], metavar="CODE=yes|no|na[:note]")
        i.add_argument("--accept-suggested", action="store_true", help="判定案をそのまま確認する")
        i.add_argument("--summary", default="")
        common(sub)

    def handle(self, *args: Any, **o: Any) -> None:
        a = o["action"]
        if a in ("report", "inspect"):
            ctx = self.context(Purpose.AUDIT_REVIEW, o)
            today = timezone.localdate()
            if a == "inspect":
                fy = o["fiscal_year"]
                d_from, d_to = date(fy, 4, 1), min(date(fy + 1, 3, 31), today)
            else:
                d_from = day(o["date_from"]) or today - timedelta(days=365)
                d_to = day(o["date_to"]) or today
            if a == "report":
                rep = pia.build_report(ctx, d_from, d_to, verify=o["verify"])
                if o["pdf"]:
                    pia.write_pdf(rep, Path(o["pdf"]))
                c = rep["counts"]
                text = "\n".join([
                    f"対象となる本人の数: {c['persons']} ({c['persons_range']})",
                    f"取扱者数: {c['staff_with_access']} ({c['staff_with_access_range']}), 個人番号参照権限 "
                    f"{c['staff_with_mynumber_right']}, 委託先アカウント {c['contractor_accounts']}",
                    *(f"[{x['suggested']}] {x['question']} — {x['facts']}" for x in rep["self_inspection"]),
                    *(f"PDF: {o['pdf']}" for _ in [0] if o["pdf"]),
                ])
                self.emit(o, rep, text)
                return
            report = pia.build_report(ctx, d_from, d_to)
            answers: dict[str, tuple[str, str]] = {}
            if o["accept_suggested"]:
                answers = {x["code"]: (x["suggested"], "") for x in report["self_inspection"]}
            for spec in o["answer"]:
                code, _, rest = spec.partition("=")
                ans, _, note = rest.partition(":")
                answers[code.strip()] = (ans.strip(), note.strip())
            sid = pia.record_inspection(ctx, o["fiscal_year"], d_from, d_to, answers, o["summary"])
            self.emit(o, {"inspection_id": sid}, f"自己点検 {sid} を記録しました。 / Recorded.")
            return
        ctx = self.context(Purpose.ADMINISTRATION, o)
        if a == "changes":
            ids = pia.detect_changes(ctx) if o["detect"] else []
            rows = pia.changes(ctx)
            self.emit(o, {"detected": ids, "changes": rows}, "\n".join(
                f"{c['id']:>4} {c['changed_on']} {c['item']}: {c['before'][:40]} → {c['after'][:40]} "
                f"{c['warning']}" for c in rows) or "(変更なし / none)")
        elif a == "assess":
            warn = pia.assess_change(ctx, o["id"], important=o["important"], submission=o["submission"],
                                     explanation=o["explanation"])
            if warn:
                self.stderr.write(warn)
            self.emit(o, {"id": o["id"], "warning": warn}, "記録しました。 / Recorded.")
        elif a == "record-change":
            cid = pia.record_change(ctx, item=o["item"], before=o["before"], after=o["after"],
                                    changed_on=day(o["changed_on"]))
            self.emit(o, {"id": cid}, f"変更 {cid} を記録しました。重要な変更か・提出時期を assess で記録。")


__all__ = ["json"]
