"""``yobo relief ...``: health-damage relief (purpose R01): ``list``, ``show ID``, ``receive``,
``move ID STATE``, ``attach ID FILE``, ``pay ID``, ``year ID FY``, ``amount``.
Exit 0 done, 2 input rejected, 3 not permitted."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.errors import InputRejected
from yobo.core.purposes import Purpose
from yobo.core.wareki import parse_date
from yobo.relief import selectors, services
from yobo.relief.models import BenefitType, ClaimState


def _date(text: str) -> date:
    return parse_date(text)


def _vaccination(text: str) -> services.Vaccination:
    try:
        v, d = text.split(":", 1)
        return services.Vaccination(v.strip().upper(), parse_date(d))
    except ValueError:
        raise argparse.ArgumentTypeError("VACCINE:DATE (例 MR1:2025-05-20)") from None


class Command(OperatorCommand):
    help = "健康被害救済給付 / health-damage relief"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
            p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力")
            return p

        p = common(sub.add_parser("list", help="進捗一覧 (期限順) / status list by deadline"))
        p.add_argument("--state", default="", choices=["", *ClaimState.values])
        p.add_argument("--all", action="store_true", help="完了分も / include paid and withdrawn")
        p = common(sub.add_parser("show", help="請求の詳細 / one claim"))
        p.add_argument("claim_id", type=int)
        p = common(sub.add_parser("receive", help="請求の受理 / receive a claim"))
        p.add_argument("--atena", required=True, help="被接種者の宛名番号")
        p.add_argument("--benefit", required=True, choices=BenefitType.values)
        p.add_argument("--applicant", required=True)
        p.add_argument("--relation", default="")
        p.add_argument("--vaccination", action="append", type=_vaccination, required=True, help="MR1:2025-05-20")
        p.add_argument("--received-on", type=_date, default=None)
        p.add_argument("--event-date", type=_date, default=None, help="請求期限の起算日")
        p = common(sub.add_parser("move", help="状態を進める / move a claim"))
        p.add_argument("claim_id", type=int)
        p.add_argument("state", choices=ClaimState.values)
        p.add_argument("--on", type=_date, default=None)
        p.add_argument("--note", default="")
        p.add_argument("--yen", default=None)
        p.add_argument("--grade", default="")
        p.add_argument("--document", type=int, default=None)
        p = common(sub.add_parser("attach", help="書類の添付 (暗号化) / attach a document"))
        p.add_argument("claim_id", type=int)
        p.add_argument("file")
        p.add_argument("--kind", default="その他")
        p = common(sub.add_parser("pay", help="支給の記録 / record a payment"))
        p.add_argument("claim_id", type=int)
        p.add_argument("--on", type=_date, required=True)
        p.add_argument("--yen", required=True)
        p.add_argument("--period", default="")
        p = common(sub.add_parser("year", help="毎年の給付額の決定 / a pension's yearly amount"))
        p.add_argument("claim_id", type=int)
        p.add_argument("fiscal_year", type=int)
        p.add_argument("--yen", default=None)
        p.add_argument("--basis", default="")
        p.add_argument("--query-pending", action="store_true")
        p = common(sub.add_parser("amount", help="給付額の設定 / set a benefit amount"))
        p.add_argument("--fiscal-year", type=int, required=True)
        p.add_argument("--benefit", required=True, choices=BenefitType.values)
        p.add_argument("--grade", default="")
        p.add_argument("--unit", default="year", choices=["year", "lump", "month"])
        p.add_argument("--yen", required=True)

    def handle(self, *args: Any, **o: Any) -> None:
        ctx = self.context(Purpose.RELIEF, o)
        a = o["action"]
        if a == "list":
            rows = selectors.status_list(ctx, state=o["state"], open_only=not o["all"])
            self.emit(o, [r.__dict__ for r in rows], "".join(
                f"{r.id}\t{r.claim_no}\t{r.state_label}\t期限 {r.due_on or '-'}{' 超過' if r.overdue else ''}\t"
                f"{r.benefit_label}\t{r.atena_no}\n" for r in rows) or "(なし / none)\n")
        elif a == "show":
            c = selectors.claim(ctx, o["claim_id"])
            data = {**c.row.__dict__, "events": [e.__dict__ for e in c.events],
                    "documents": [d.__dict__ for d in c.documents], "payments": c.payments, "annual": c.annual,
                    "decision_result": c.decision_result, "paid_total_yen": c.paid_total_yen}
            self.emit(o, data, f"{c.row.claim_no} {c.row.state_label} {c.row.benefit_label}\n" + "".join(
                f"  {e.on_date} {e.from_label}→{e.to_label} {e.note} ({e.by})\n" for e in c.events))
        elif a == "receive":
            cid = services.receive(ctx, o["atena"], o["benefit"], services.Applicant(o["applicant"], o["relation"]),
                                   o["vaccination"], received_on=o["received_on"], event_date=o["event_date"])
            self.emit(o, {"claim_id": cid}, f"受理しました / received: {cid}\n")
        elif a == "move":
            services.move(ctx, o["claim_id"], o["state"], on=o["on"], note=o["note"], amount_yen=o["yen"],
                          grade=o["grade"], document_id=o["document"])
            self.emit(o, {"ok": True}, "記録しました / recorded\n")
        elif a == "attach":
            p = Path(o["file"])
            if not p.is_file():
                raise InputRejected(f"ファイルがありません / no such file: {p.name}")
            did = services.attach(ctx, o["claim_id"], o["kind"], p.name, p.read_bytes())
            self.emit(o, {"document_id": did}, f"添付しました / attached: {did}\n")
        elif a == "pay":
            pid = services.record_payment(ctx, o["claim_id"], o["on"], o["yen"], period=o["period"])
            self.emit(o, {"payment_id": pid}, "記録しました / recorded\n")
        elif a == "year":
            yid = services.decide_year(ctx, o["claim_id"], o["fiscal_year"], amount_yen=o["yen"], basis=o["basis"],
                                       query_pending=o["query_pending"])
            self.emit(o, {"annual_id": yid}, "決定しました / decided\n")
        elif a == "amount":
            services.set_amount(ctx, o["fiscal_year"], o["benefit"], o["yen"], grade=o["grade"], unit=o["unit"])
            self.emit(o, {"ok": True}, "設定しました / saved\n")
