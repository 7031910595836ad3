"""``yobo vouchers issue --list ID --out DIR [--json]`` (CONTRACTS.md §4) and the rest of the voucher
work: ``reprint BATCH --reason TEXT --out DIR``, ``reissue NUMBER --reason TEXT --out DIR``,
``returned NUMBER [--note TEXT]``, ``apply --atena N --vaccine CODE --history known|unknown --out DIR``
(転入者への申請による発行), ``letters --list ID --out DIR`` (勧奨通知), ``mailing --batch ID --request ID
--out DIR`` (the contractor's file through an approved export), ``show NUMBER``.

Purposes: N02 (vouchers), N03 (letters; mailing of a reminder batch). Exit 0 done, 2 rejected
(nothing issued), 3 not permitted.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.purposes import Purpose
from yobo.notices import selectors, services


class Command(OperatorCommand):
    help = "接種券・予診票の発行 / vouchers and print batches"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
            p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力")
            return p

        iss = common(sub.add_parser("issue", help="対象者リストに接種券を発行 / issue vouchers for a list"))
        iss.add_argument("--list", dest="list_id", type=int, required=True)
        iss.add_argument("--out", required=True)
        rp = common(sub.add_parser("reprint", help="再印刷 (理由必須) / reprint a batch"))
        rp.add_argument("batch_id", type=int)
        rp.add_argument("--reason", required=True)
        rp.add_argument("--out", required=True)
        ri = common(sub.add_parser("reissue", help="再発行 (旧券は無効) / reissue a voucher"))
        ri.add_argument("number")
        ri.add_argument("--reason", required=True)
        ri.add_argument("--out", required=True)
        rt = common(sub.add_parser("returned", help="宛先不明の返戻を記録 / record returned mail"))
        rt.add_argument("number")
        rt.add_argument("--note", default="宛先不明")
        ap = common(sub.add_parser("apply", help="転入者等への申請による発行 / issue on application"))
        ap.add_argument("--atena", required=True)
        ap.add_argument("--vaccine", required=True)
        ap.add_argument("--history", required=True, choices=["known", "unknown"],
                        help="前住所地の接種歴: known 確認済み / unknown 不明として記録")
        ap.add_argument("--out", required=True)
        lt = common(sub.add_parser("letters", help="勧奨通知の印刷 (N03) / print reminder letters"))
        lt.add_argument("--list", dest="list_id", type=int, required=True)
        lt.add_argument("--out", required=True)
        ml = common(sub.add_parser("mailing", help="発送委託ファイル (承認済み外部出力) / contractor mailing file"))
        ml.add_argument("--batch", dest="batch_id", type=int, required=True)
        ml.add_argument("--request", dest="request_id", type=int, required=True, help="承認済みの外部出力申請ID")
        ml.add_argument("--out", default=None)
        sh = common(sub.add_parser("show", help="券番号で照会 / look up a voucher"))
        sh.add_argument("number")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        purpose = Purpose.RECOMMENDATION if action == "letters" else Purpose.VOUCHER_ISSUANCE
        if action == "mailing":
            purpose = Purpose.VOUCHER_ISSUANCE
        ctx = self.context(purpose, options)
        if action in ("issue", "reprint", "reissue", "apply", "letters"):
            if action == "issue":
                r = services.issue_batch(ctx, options["list_id"], options["out"])
            elif action == "reprint":
                r = services.reprint(ctx, options["batch_id"], options["reason"], options["out"])
            elif action == "reissue":
                r = services.reissue(ctx, options["number"], options["reason"], options["out"])
            elif action == "apply":
                r = services.issue_on_application(ctx, options["atena"], options["vaccine"], options["out"],
                                                  history=options["history"])
            else:
                r = services.print_reminders(ctx, options["list_id"], options["out"])
            data = {"batch_id": r.batch_id, "count": r.count, "pdf": r.pdf, "numbers": r.numbers}
            if len(r.pdfs) > 1:
                data["pdfs"] = r.pdfs  # a large batch is split into volumes (分冊); "pdf" is the first
            if r.skipped:
                data["skipped"] = r.skipped
            self.emit(options, data, f"バッチ {r.batch_id}: {r.count} 件 {r.pages} 頁\nPDF: {r.pdf}\n"
                      + (f"番号一覧: {r.numbers}\n" if r.numbers else "")
                      + "".join(f"除外 {k}: {v}\n" for k, v in r.skipped.items() if v))
        elif action == "returned":
            services.record_returned(ctx, options["number"], options["note"])
            self.emit(options, {"returned": options["number"]}, "記録しました / recorded\n")
        elif action == "mailing":
            res = services.write_mailing(ctx, options["batch_id"], options["request_id"], options["out"])
            self.emit(options, {"path": str(res.path), "serial": res.serial, "rows": res.rows,
                                "delete_due": res.delete_due.isoformat()},
                      f"出力しました: {res.path}（媒体番号 {res.serial}、{res.rows} 行、消去期限 {res.delete_due}）\n")
            # The password is shown once, on the terminal only, to hand over out of band.
            sys.stderr.write(f"パスワード（別経路で伝達） / password (hand over separately): {res.password}\n")
        else:
            v = selectors.find_voucher(ctx, options["number"])
            self.emit(options, {"number": v.number, "ocr": v.ocr, "atena_no": v.atena_no, "vaccine": v.vaccine,
                                "dose": v.dose, "batch_id": v.batch_id, "state": v.state,
                                "replaced_by": v.replaced_by, "returned": bool(v.returned_at)},
                      f"{v.number}\t{v.vaccine} 第{v.dose}回\t{v.state}\t宛名 {v.atena_no}\n")
