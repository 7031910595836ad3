"""``yobo fees ...``: fee exemption (purpose F01) and clinic payments (purpose F02).

Exemption: ``import-status FILE``, ``set-fee``, ``check``, ``queries``, ``answer``, ``certificate``.
Payments: ``unit-price``, ``account``, ``claims build|list|approve``, ``pay``, ``statement``.
Exit 0 done, 2 input rejected (nothing changed; problems on stderr with file, row and column),
3 not permitted. Never prints a My Number.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from django.core.management.base import CommandError, CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.purposes import Purpose
from yobo.core.wareki import parse_date
from yobo.fees import payments, selectors, services
from yobo.fees.models import FeeCategory

F01_ACTIONS = {"import-status", "set-fee", "check", "queries", "answer", "certificate", "decisions"}


def _date(text: str) -> date:
    return parse_date(text)


class Command(OperatorCommand):
    help = "実費徴収の免除・接種委託料の支払 / fee exemption and clinic payments"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
            p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力")
            return p

        p = common(sub.add_parser("import-status", help="税・福祉情報の取込 (docs/formats/tax-welfare.md)"))
        p.add_argument("file")
        p.add_argument("--encoding", default="auto", choices=["auto", "utf-8", "cp932"])
        p = common(sub.add_parser("set-fee", help="実費徴収額の設定 / set a fee"))
        p.add_argument("--fiscal-year", type=int, required=True)
        p.add_argument("--vaccine", required=True)
        p.add_argument("--category", required=True, choices=FeeCategory.values)
        p.add_argument("--yen", required=True)
        p = common(sub.add_parser("check", help="免除の可否確認 / decide an application for exemption"))
        p.add_argument("--atena", required=True)
        p.add_argument("--vaccine", required=True)
        p.add_argument("--date", type=_date, default=None, help="申請日 (default: today)")
        p = common(sub.add_parser("decisions", help="免除決定の一覧 / decisions"))
        p.add_argument("--atena", default="")
        p.add_argument("--result", default="", choices=["", "exempt", "not_exempt", "pending"])
        common(sub.add_parser("queries", help="照会中の税情報 / open tax queries"))
        p = common(sub.add_parser("answer", help="照会結果の登録 / record a tax query's answer"))
        p.add_argument("query_id", type=int)
        p.add_argument("--tax-status", type=int, required=True, choices=[1, 2, 3], help="1 課税 2 非課税 3 未申告")
        p = common(sub.add_parser("certificate", help="免除証明書 (PDF) / exemption certificate"))
        p.add_argument("decision_id", type=int)
        p.add_argument("--out", required=True)
        p = common(sub.add_parser("unit-price", help="委託単価の設定 / set a unit price"))
        p.add_argument("--fiscal-year", type=int, required=True)
        p.add_argument("--vaccine", required=True)
        p.add_argument("--yen", required=True)
        p.add_argument("--screening-yen", default=None, help="予診のみの単価")
        p = common(sub.add_parser("account", help="振込先口座の設定 / set a clinic's account"))
        for a in ("clinic", "bank", "branch", "type", "number", "holder"):
            p.add_argument(f"--{a}", required=True)
        p = common(sub.add_parser("claims", help="委託料請求 / clinic claims: build MONTH | approve ID"))
        p.add_argument("step", choices=["build", "approve"])
        p.add_argument("ref", help="build: 請求月 YYYYMM; approve: 請求ID")
        p = common(sub.add_parser("pay", help="支払処理 (振込ファイル・支払一覧・明細書) / pay a month"))
        p.add_argument("month")
        p.add_argument("--pay-on", type=_date, required=True, help="振込指定日")
        p.add_argument("--out", required=True)
        p.add_argument("--encoding", default="cp932", choices=["cp932", "utf-8"])
        p = common(sub.add_parser("statement", help="支払明細書 (PDF) / statement of a claim"))
        p.add_argument("claim_id", type=int)
        p.add_argument("--out", required=True)

    def handle(self, *args: Any, **o: Any) -> None:
        action = o["action"]
        ctx = self.context(Purpose.FEE_EXEMPTION if action in F01_ACTIONS else Purpose.CLINIC_PAYMENT, o)
        if action == "import-status":
            def show(p: Any) -> None:
                sys.stderr.write(f"{p}\n")
            try:
                s = services.import_status(ctx, o["file"], encoding=o["encoding"], on_problem=show)
            except services.StatusImportRejected as exc:
                if o.get("json"):
                    self.stdout.write(self._json(exc.summary.as_json()))
                sys.stderr.write(f"{exc}\n")
                raise CommandError("取込を中止しました / import refused", returncode=2) from None
            self.emit(o, s.as_json(), f"取込完了: 新規 {s.inserted} / 更新 {s.updated} / 変更なし {s.unchanged}\n"
                                      f"imported: inserted {s.inserted}, updated {s.updated},"
                                      f" unchanged {s.unchanged}\n")
        elif action == "set-fee":
            services.set_fee(ctx, o["fiscal_year"], o["vaccine"], o["category"], o["yen"])
            self.emit(o, {"ok": True}, "設定しました / saved\n")
        elif action == "check":
            d = selectors.decision(ctx, services.check_exemption(ctx, o["atena"], o["vaccine"], o["date"]))
            self.emit(o, _decision_json(d), f"{d.decision_no}: {d.result_label}（{d.category_label}）{d.reason}\n")
        elif action == "decisions":
            rows = selectors.decisions(ctx, atena_no=o["atena"], result=o["result"])
            self.emit(o, [_decision_json(d) for d in rows], "".join(
                f"{d.id}\t{d.decision_no}\t{d.atena_no}\t{d.vaccine}\t{d.result_label}\t{d.reason}\n" for d in rows))
        elif action == "queries":
            qs = selectors.pending_queries(ctx)
            self.emit(o, [q.__dict__ for q in qs], "".join(
                f"{q.id}\t{q.atena_no}\t{q.tax_year}年度\t{q.state_label}\n" for q in qs) or "(なし / none)\n")
        elif action == "answer":
            d = selectors.decision(ctx, services.answer_query(ctx, o["query_id"], o["tax_status"]))
            self.emit(o, _decision_json(d), f"{d.decision_no}: {d.result_label} {d.reason}\n")
        elif action == "certificate":
            path = services.issue_certificate(ctx, o["decision_id"], o["out"])
            self.emit(o, {"pdf": str(path)}, f"{path}\n")
        elif action == "unit-price":
            payments.set_unit_price(ctx, o["fiscal_year"], o["vaccine"], o["yen"], o["screening_yen"])
            self.emit(o, {"ok": True}, "設定しました / saved\n")
        elif action == "account":
            payments.set_account(ctx, o["clinic"], o["bank"], o["branch"], o["type"], o["number"], o["holder"])
            self.emit(o, {"ok": True}, "設定しました / saved\n")
        elif action == "claims":
            if o["step"] == "build":
                b = payments.build_claims(ctx, o["ref"])
                self.emit(o, b.as_json(), f"請求 {b.claims}件: 支払対象 {b.included} / 除外 {b.excluded} / "
                                          f"合計 {b.total_yen:,}円 除外理由 {b.reasons}\n")
            else:
                payments.approve(ctx, int(o["ref"]))
                self.emit(o, {"ok": True}, "承認しました / approved\n")
        elif action == "pay":
            r = payments.pay(ctx, o["month"], o["pay_on"], o["out"], encoding=o["encoding"])
            self.emit(o, r.as_json(), f"支払 {r.clinics}医療機関 {r.total_yen:,}円\n{r.transfer}\n{r.payment_list}\n"
                                      f"{r.statements}\n")
        elif action == "statement":
            path = payments.statement_pdf(ctx, o["claim_id"], o["out"])
            self.emit(o, {"pdf": str(path)}, f"{path}\n")

    @staticmethod
    def _json(data: Any) -> str:
        import json

        return json.dumps(data, ensure_ascii=False, default=str)


def _decision_json(d: Any) -> dict[str, Any]:
    return {"id": d.id, "decision_no": d.decision_no, "atena_no": d.atena_no, "vaccine": d.vaccine,
            "result": d.result, "category": d.category, "reason": d.reason, "amount_due_yen": d.amount_due_yen,
            "tax_year": d.tax_year, "queries": [q.id for q in d.queries]}
