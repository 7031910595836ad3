"""``yobo vrs match FILE [--out ERRORS.csv --request ID] [--full] [--json]``, ``yobo vrs runs``,
``yobo vrs lines RUN``, ``yobo vrs export --out DIR --request ID [--since DATE]`` (CONTRACTS.md §5).

Purpose V03 (VRSデータとの照合). ``match`` compares the VRS file with the ledger and saves the run
and its error list (resolved line by line on the staff screen ``/doses/vrs/``); ``--json`` prints
the counts of §5 (plus ``run_id``). The error-list CSV (``--out``) and the upload file (``export``)
carry personal data out of the registry, so they are written only for an export request approved
by a second person (``yobo exports request --kind immunizations.vrs_errors|immunizations.vrs``),
as the encrypted ZIP of ``yobo.exports`` in the directory of ``--out``; without an approved request
they are refused (exit 3) and nothing is written. Exit 2: the VRS file was malformed (nothing saved).
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.immunizations import matching, vrs_export
from yobo.immunizations.formats import vrs_csv


def _out_dir(value: str) -> Path:
    p = Path(value)
    return p.parent if p.suffix.lower() in (".csv", ".zip") else p


class Command(OperatorCommand):
    help = "VRSデータとの照合・VRS登録用ファイル / VRS matching and the VRS upload file"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
            p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力")
            return p

        m = common(sub.add_parser("match", help="VRS CSV と台帳の照合 / match a VRS CSV against the ledger"))
        m.add_argument("file")
        m.add_argument("--out", help="エラーデータ一覧の出力先 (承認済みの出力申請が必要)"
                                     " / error list (an approved export)")
        m.add_argument("--request", type=int, help="承認済みの出力申請の番号 / approved export request id")
        m.add_argument("--full", action="store_true",
                       help="全市分のファイル: ファイルにない人の台帳記録も一覧にする / whole-city file")
        m.add_argument("--vaccine", default=vrs_csv.DEFAULT_VACCINE)
        m.add_argument("--encoding", default="auto", choices=["auto", "utf-8", "cp932"])
        common(sub.add_parser("runs", help="照合の履歴 / recent match runs"))
        ln = common(sub.add_parser("lines", help="エラーデータ一覧 / the error list of a run"))
        ln.add_argument("run_id", type=int)
        ln.add_argument("--open", action="store_true", help="未処理の行だけ / open lines only")
        ex = common(sub.add_parser("export", help="VRS登録用ファイル (承認済みの出力) / VRS upload file"))
        ex.add_argument("--out", required=True, help="出力先ディレクトリ / output directory")
        ex.add_argument("--request", type=int, help="承認済みの出力申請の番号 / approved export request id")
        ex.add_argument("--since", type=date.fromisoformat, default=None, help="この日以降に登録した記録 / since")
        ex.add_argument("--vaccine", default=vrs_csv.DEFAULT_VACCINE)

    def handle(self, *args: Any, **options: Any) -> None:
        ctx = self.context(Purpose.VRS_MATCHING, options)
        action = options["action"]
        if action == "match":
            self._match(ctx, options)
        elif action == "runs":
            rs = matching.runs(ctx)
            data = [{"run_id": r.id, "file": r.file_name, "vaccine": r.vaccine, "run_at": r.run_at,
                     "run_by": r.run_by, "open": r.open_lines, **r.counts} for r in rs]
            text = "\n".join(f"{r.id}\t{r.run_at:%Y-%m-%d %H:%M}\t{r.file_name}\t未処理 {r.open_lines}\t"
                             + " ".join(f"{k}={v}" for k, v in r.counts.items()) for r in rs)
            self.emit(options, data, (text or "(照合履歴なし / no runs)") + "\n")
        elif action == "lines":
            _, lines = matching.run_lines(ctx, options["run_id"], only_open=options["open"])
            data = [dict(zip(matching.ERROR_COLUMNS, cells, strict=True)) for cells in matching.error_rows(lines)]
            text = "\n".join("\t".join(c) for c in matching.error_rows(lines))
            self.emit(options, data, (text or "(行なし / no lines)") + "\n")
        else:
            self._export(ctx, options)

    def _match(self, ctx: Any, options: dict[str, Any]) -> None:
        if options.get("out") and not options.get("request"):
            raise AccessDenied("not_permitted", _NEEDS_APPROVAL.format(kind=vrs_export.ERRORS_KIND))
        try:
            run = matching.match_file(ctx, options["file"], vaccine=options["vaccine"], full=options["full"],
                                      encoding=options["encoding"])
        except matching.MatchRejected as exc:
            for p in exc.problems:
                self.stderr.write(str(p))
            self.stderr.write(str(exc))
            raise InputRejected("照合を中止しました / match refused") from None
        data: dict[str, Any] = {**run.counts, "run_id": run.id, "vrs_doses": run.vrs_doses}
        text = (f"照合結果 {run.id}: 一致 {run.counts['matched']} / 台帳になし {run.counts['missing_in_ledger']}"
                f" / VRSになし {run.counts['missing_in_vrs']} / 不一致 {run.counts['conflicts']}"
                f" / 宛名番号不明 {run.counts['unknown_person']}\n"
                f"match run {run.id}: " + ", ".join(f"{k} {v}" for k, v in run.counts.items()) + "\n"
                f"画面で処理してください / resolve on screen: /doses/vrs/{run.id}/\n")
        if options.get("out"):
            _, lines = matching.run_lines(ctx, run.id)
            res = vrs_export.write_errors(ctx, options["request"], _out_dir(options["out"]), matching.error_rows(lines))
            data["error_list"] = {"path": str(res.path), "serial": res.serial, "rows": res.rows}
            text += _written(res)
            self.stderr.write(_password(res))
        self.emit(options, data, text)

    def _export(self, ctx: Any, options: dict[str, Any]) -> None:
        if not options.get("request"):
            raise AccessDenied("not_permitted", _NEEDS_APPROVAL.format(kind=vrs_export.KIND))
        sel = vrs_export.Selection(vaccine=options["vaccine"].strip().upper(), since=options["since"])
        res = vrs_export.write(ctx, options["request"], _out_dir(options["out"]), sel)
        data = {"path": str(res.path), "serial": res.serial, "rows": res.rows, "persons": res.persons,
                "sha256": res.sha256, "delete_due": res.delete_due}
        self.stderr.write(_password(res))
        self.emit(options, data, _written(res))


_NEEDS_APPROVAL = (
    "個人データのファイル出力には、決裁者が承認した出力申請が必要です（--request 番号）。"
    "申請: yobo exports request --kind {kind} --purpose V03 ... / writing personal data out needs an export "
    "request approved by a supervisor (--request ID); file one with: yobo exports request --kind {kind}"
)


def _written(res: Any) -> str:
    return (f"出力しました（媒体番号 {res.serial}、{res.rows} 行、暗号化ZIP）: {res.path}\n"
            f"written (media {res.serial}, {res.rows} rows, encrypted ZIP): {res.path}\n")


def _password(res: Any) -> str:
    # Shown once, on the operator's terminal only; hand it over out of band (exports README).
    return f"パスワード（一度だけ表示・別経路で伝達） / password (shown once, hand over separately): {res.password}"
