"""``yobo audit verify|review|checkpoint|archive`` — the access log for operators (CONTRACTS.md §3)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.audit.archive import archive_before
from yobo.audit.review import parse_day, render_text, review
from yobo.audit.services import make_checkpoint, run_verify
from yobo.core.errors import InputRejected, IntegrityBroken
from yobo.core.purposes import Purpose


class Command(OperatorCommand):
    help = (
        "アクセスログの検証・点検報告・チェックポイント・退避 / verify, review, checkpoint and archive the access log"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        common: Any = argparse.ArgumentParser(add_help=False)
        # Also accepted after the subcommand (`yobo audit verify --json`); SUPPRESS keeps the top-level value.
        common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力 / print JSON")
        common.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員 / operator")
        v = sub.add_parser("verify", parents=[common], help="ハッシュチェーンと署名の検証 / verify the chain")
        v.add_argument("--workers", type=int, default=None, help="並列プロセス数 / parallel processes")
        r = sub.add_parser("review", parents=[common], help="点検報告 / review report")
        r.add_argument("--from", dest="date_from", required=True, help="YYYY-MM-DD")
        r.add_argument("--to", dest="date_to", required=True, help="YYYY-MM-DD")
        sub.add_parser("checkpoint", parents=[common], help="署名付きチェックポイント / signed checkpoint now")
        a = sub.add_parser("archive", parents=[common], help="保存期間を過ぎた記録の退避 / archive an old period")
        a.add_argument("--before", required=True, help="この日付より前の記録を退避 (YYYY-MM-DD)")
        a.add_argument("--out", required=True, help="出力先ディレクトリ / output directory")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "verify":
            ctx = self.context(Purpose.AUDIT_REVIEW, options)
            res = run_verify(ctx, workers=options.get("workers"))
            text = res.message + f"\n({res.entries:,} entries, {res.seconds:.2f} s, {res.workers} process(es))"
            if not res.guards:
                text += (
                    "\n警告: 追記専用トリガーがありません。yobo init を実行してください。"
                    " / warning: the append-only triggers are missing."
                )
            self.emit(options, res.as_dict(), text)
            if not res.ok:
                raise IntegrityBroken(res.message)
        elif action == "review":
            ctx = self.context(Purpose.AUDIT_REVIEW, options)
            try:
                d0, d1 = parse_day(options["date_from"]), parse_day(options["date_to"])
            except ValueError as exc:
                raise InputRejected("日付は YYYY-MM-DD で指定してください。 / Dates must be YYYY-MM-DD.") from exc
            if d1 < d0:
                raise InputRejected("--to は --from 以降の日付にしてください。 / --to must not precede --from.")
            rep = review(ctx, d0, d1)
            self.emit(options, rep.as_dict(), render_text(rep))
        elif action == "checkpoint":
            ctx = self.context(Purpose.AUDIT_REVIEW, options)
            cp = make_checkpoint(ctx)
            data = {"seq": cp[0], "hash": cp[1]} if cp else {"seq": None}
            text = (f"チェックポイントを作成しました (#{cp[0]})。 / Checkpoint written at #{cp[0]}." if cp
                    else "新しい記録がないため作成しませんでした。 / Nothing new to checkpoint.")
            self.emit(options, data, text)
        elif action == "archive":
            ctx = self.context(Purpose.RETENTION, options)
            try:
                before = parse_day(options["before"])
            except ValueError as exc:
                raise InputRejected("日付は YYYY-MM-DD で指定してください。 / Dates must be YYYY-MM-DD.") from exc
            arc = archive_before(ctx, before, Path(options["out"]))
            if arc is None:
                self.emit(options, {"entries": 0}, "退避する記録はありません。 / Nothing to archive.")
            else:
                self.emit(options, arc.as_dict(),
                          f"#{arc.first_seq}〜#{arc.last_seq} ({arc.entries:,}件) を {arc.file} に退避しました。"
                          f" / Archived {arc.entries} entries to {arc.file}.")
