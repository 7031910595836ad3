"""``yobo retention``: retention rules and deletion runs (保存期間と削除処理), purpose G02."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.purposes import Purpose
from yobo.governance import retention

from ._common import common, day


class Command(OperatorCommand):
    help = "保存期間と削除処理 / retention rules and deletion runs"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("rules", help="保存期間の一覧 / list the rules")
        s = sub.add_parser("set", help="保存期間の変更 / change a rule")
        s.add_argument("record_type")
        s.add_argument("years", type=int)
        s.add_argument("--basis", default="")
        d = sub.add_parser("due", help="削除対象の件数 / what falls due")
        d.add_argument("--as-of", default=None)
        p = sub.add_parser("plan", help="削除計画の作成 / plan a deletion run")
        p.add_argument("--as-of", default=None)
        p.add_argument("--note", default="")
        for name in ("approve", "reject", "execute"):
            x = sub.add_parser(name, help={"approve": "承認 (決裁者)", "reject": "却下",
                                           "execute": "実行 (中断後の再実行で再開)"}[name])
            x.add_argument("run_id", type=int)
        sub.add_parser("runs", help="削除記録 / deletion records")
        common(sub)

    def handle(self, *args: Any, **o: Any) -> None:
        ctx = self.context(Purpose.RETENTION, o)
        a = o["action"]
        if a == "rules":
            rs = retention.rules(ctx)
            self.emit(o, [asdict(r) for r in rs], "\n".join(
                f"{r.record_type:<22} {r.label:<24} {r.years}年 ({r.action_label}) {r.basis}" for r in rs))
        elif a == "set":
            retention.set_rule(ctx, o["record_type"], o["years"], o["basis"])
            self.emit(o, {"record_type": o["record_type"], "years": o["years"]}, "保存期間を変更しました。 / Updated.")
        elif a == "due":
            ds = retention.due(ctx, day(o["as_of"]))
            self.emit(o, [asdict(x) for x in ds], "\n".join(
                f"{x.record_type:<22} {x.label:<24} {x.cutoff} より前: {x.count}件 ({x.action})" for x in ds))
        elif a == "plan":
            rid = retention.plan(ctx, day(o["as_of"]), o["note"])
            self.emit(o, {"run_id": rid}, f"削除計画 {rid} を作成しました（承認待ち）。 / Planned run {rid}.")
        elif a == "approve":
            retention.approve(ctx, o["run_id"])
            self.emit(o, {"run_id": o["run_id"], "state": "approved"}, "承認しました。 / Approved.")
        elif a == "reject":
            retention.reject(ctx, o["run_id"])
            self.emit(o, {"run_id": o["run_id"], "state": "rejected"}, "却下しました。 / Rejected.")
        elif a == "execute":
            items = retention.execute(ctx, o["run_id"])
            data = [{"record_type": i.record_type, "planned": i.planned_count, "done": i.done_count} for i in items]
            self.emit(o, data, "\n".join(f"{d['record_type']}: {d['planned']} → {d['done']}" for d in data)
                      or "(対象なし / nothing due)")
        elif a == "runs":
            runs = retention.runs(ctx)
            self.emit(o, [asdict(r) for r in runs], "\n".join(
                f"{r.id:>4} {r.as_of} {r.state_label} 計画 {r.planned_by} 承認 {r.approved_by or '-'} "
                + ", ".join(f"{i['label']} {i['planned']}→{i['done']}" for i in r.items) for r in runs)
                or "(なし / none)")
