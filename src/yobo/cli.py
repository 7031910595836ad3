"""The ``yobo`` command: a thin front over the Django management commands of each app.

``yobo audit verify`` runs the ``audit`` command with ``verify``; ``yobo schedule ...`` runs the pure
schedule engine without starting Django.
"""

from __future__ import annotations

import os
import sys

PURE_COMMANDS = {"schedule": "yobo.schedule.cli", "synth": "yobo.people.synth", "hub": "yobo.exchange.hub.cli"}
# `yobo synth doses` lives with the dose records (people may not import a higher layer).
PURE_SUBCOMMANDS = {("synth", "doses"): "yobo.immunizations.synth"}

HELP = """yobo — 予防接種台帳 (immunization registry)

usage: yobo COMMAND [ARGS...]   (every command takes --help)

  init              データベースの作成・更新 / create or migrate the database (--demo-operator)
  demo              デモ市を起動 / set up and serve the demo city (--cities 2: 中継サーバーと2市)
  audit             アクセスログ: verify, review, checkpoint, archive
  mynumber          個人番号: rotate-keys, reindex
  staff             職員アカウント・端末の管理 / staff accounts and terminals
  schedule          定期接種スケジュール: due, rules
  residents         住民記録の取込・住登外者の住基ネット確認: import, batches, absent, jukinet-check, jukinet-findings
  synth             合成データ: residents, doses / synthetic residents and dose histories
  doses             接種記録の取込: import --format clinic|vrs|hl7 / import dose records
  vrs               VRS照合・VRS登録用ファイル: match, runs, lines, export
  certificates      接種証明書: issue, verify, jwks, revoke, keys rotate
  apiclient         外部システム (API) の登録 / API clients of the city's systems
  targets           対象者抽出・勧奨リスト: extract, remind, lists, diff, follow-up
  vouchers          接種券・予診票: issue, reprint, reissue, returned, apply, letters, mailing, show
  exports           外部出力の申請・承認・出力・媒体管理簿 / approved exports and the media log
  retention         保存期間と削除 / retention rules and deletion runs
  requests          開示・訂正・利用停止請求 / residents' requests
  fees              実費徴収の免除・委託料: import-status, check, certificate, claims, pay
  relief            健康被害救済給付: receive, move, attach, pay, year, list
  stats             接種記録統計 (秘匿処理済み): doses, coverage / suppressed dose statistics
  pia               PIAの実施状況報告・自己点検・変更記録 / live PIA evidence
  exchange          情報連携: keys, register-copies, query, inbox, answer, purge, reconcile, records
  hub               中継サーバー (情報提供ネットワークの代役): serve, permissions load, keys, records
  serve             Web画面を起動 / run the staff web UI
  manage            Django management commands (for operators)
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(HELP)
        return 0
    cmd = args[0]
    sub = PURE_SUBCOMMANDS.get((cmd, args[1] if len(args) > 1 else ""))
    if sub is not None:
        import importlib

        return int(importlib.import_module(sub).main(args[2:]) or 0)
    if cmd in PURE_COMMANDS:
        import importlib

        mod = importlib.import_module(PURE_COMMANDS[cmd])
        return int(mod.main(args[1:]) or 0)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yobo.settings")
    from django.core.management import execute_from_command_line

    if cmd == "manage":
        args = args[1:]
    elif cmd == "serve":
        args = ["runserver", *args[1:]]
    try:
        execute_from_command_line(["yobo", *args])
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
