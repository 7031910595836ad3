"""``yobo mynumber rotate-keys | reindex | keys``: maintenance of the My Number vault's keys.

Acts as the operator (``--as`` / ``YOBO_OPERATOR``) from ``YOBO_TERMINAL`` under purpose M02
(個人番号の鍵更新・索引再作成); refused with exit 3 otherwise. Never prints a My Number.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.purposes import Purpose
from yobo.mynumber import services


class Command(OperatorCommand):
    help = "個人番号の鍵更新・索引再作成 / rotate the My Number data key, rebuild the blind index"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
            # Accept --as/--json after the subcommand too; SUPPRESS keeps a value given before it.
            p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力")
            return p

        rot = common(sub.add_parser(
            "rotate-keys",
            help="新しいデータ鍵を有効にし全件を再暗号化 / new active data key, re-encrypt every row",
        ))
        rot.add_argument("--batch-size", type=int, default=5000)
        rot.add_argument(
            "--prune", action="store_true",
            help="どの行も使わない旧鍵を削除 (バックアップに注意) / drop old keys no row uses (mind backups)",
        )
        ri = common(sub.add_parser(
            "reindex",
            help="新しい索引鍵で検索索引を再作成 / new index key, recompute blind indexes",
        ))
        ri.add_argument("--batch-size", type=int, default=5000)
        common(sub.add_parser("keys", help="鍵IDごとの件数 / rows per data key id"))

    def handle(self, *args: Any, **options: Any) -> None:
        ctx = self.context(Purpose.MYNUMBER_MAINTENANCE, options)
        action = options["action"]
        if action == "rotate-keys":
            s = services.rotate_data_key(ctx, batch_size=options["batch_size"], prune=options["prune"])
            text = (
                f"データ鍵を {s['active_key']} に更新し、{s['resealed']} 件を再暗号化しました。"
                f" / Data key rotated to {s['active_key']}; {s['resealed']} rows re-encrypted."
            )
            if s["pruned"]:
                text += f"\n削除した旧鍵 / removed old keys: {', '.join(s['pruned'])}"
            self.emit(options, s, text)
        elif action == "reindex":
            s = services.reindex(ctx, batch_size=options["batch_size"])
            self.emit(
                options, s,
                f"索引鍵 {s['active_index_key']} で {s['reindexed']} 件の索引を再作成しました。"
                f" / Blind index rebuilt under {s['active_index_key']} for {s['reindexed']} rows.",
            )
        else:
            counts = services.keys_in_use(ctx)
            self.emit(options, counts, "\n".join(f"{k}\t{n}" for k, n in counts.items()) or "(no rows)")
