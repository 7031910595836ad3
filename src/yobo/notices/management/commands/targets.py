"""``yobo targets extract --vaccine CODE --as-of DATE [--cohort FROM:UNTIL] [--json]`` (CONTRACTS.md §4),
``yobo targets remind --vaccine CODE --as-of DATE [--months N]`` (接種勧奨 list), ``yobo targets lists``,
``yobo targets diff LIST_ID``, ``yobo targets follow-up LIST_ID``.

Purposes: N01 (extract, lists, diff), N03 (remind, follow-up). Exit 0 saved, 2 rejected (unknown
vaccine, as-of date outside the rules' range; nothing saved), 3 not permitted.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.errors import InputRejected
from yobo.core.purposes import Purpose
from yobo.notices import extraction, selectors


def _date(text: str) -> date:
    from yobo.core.wareki import DateFormatError, parse_date

    try:
        return parse_date(text)
    except DateFormatError:
        raise argparse.ArgumentTypeError(f"日付が正しくありません / not a date: {text!r}") from None


class Command(OperatorCommand):
    help = "対象者抽出・勧奨リスト / target extraction and reminder lists"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
            p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力")
            return p

        ex = common(sub.add_parser("extract", help="対象者抽出 (N01) / extract the targets of a vaccine"))
        ex.add_argument("--vaccine", required=True, help="ワクチンコード (MR2, HPV, …)")
        ex.add_argument("--as-of", required=True, type=_date, help="基準日 / as-of date")
        ex.add_argument("--cohort", default=None, help="生年月日の範囲 FROM:UNTIL / birth-date range")
        rm = common(sub.add_parser("remind", help="接種勧奨リスト (N03) / reminder list"))
        rm.add_argument("--vaccine", required=True)
        rm.add_argument("--as-of", required=True, type=_date)
        rm.add_argument("--months", type=int, default=3, help="期限まで何か月以内 / eligibility ends within N months")
        ls = common(sub.add_parser("lists", help="保存済みリスト / saved lists"))
        ls.add_argument("--kind", choices=["targets", "reminders"], default=None)
        df = common(sub.add_parser("diff", help="前回との差分 / diff against the previous run"))
        df.add_argument("list_id", type=int)
        fu = common(sub.add_parser("follow-up", help="電話勧奨リスト (N03) / phone follow-up list"))
        fu.add_argument("list_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action in ("extract", "remind"):
            purpose = Purpose.TARGET_EXTRACTION if action == "extract" else Purpose.RECOMMENDATION
            ctx = self.context(purpose, options)
            if action == "extract":
                s = extraction.extract_targets(ctx, options["vaccine"], options["as_of"], cohort=options["cohort"])
            else:
                s = extraction.extract_reminders(ctx, options["vaccine"], options["as_of"], months=options["months"])
            data: Any = {"list_id": s.list_id, "count": s.count, "vaccine": s.vaccine, "as_of": s.as_of.isoformat(),
                         "added": s.added, "removed": s.removed, "previous_id": s.previous_id, "counts": s.counts}
            area = "、".join(f"{k} {v}" for k, v in s.counts.get("area", {}).items())
            age = "、".join(f"{k}歳 {v}" for k, v in s.counts.get("age", {}).items())
            text = (f"リスト {s.list_id}: {s.vaccine} 基準日 {s.as_of} 対象 {s.count} 人"
                    f"（前回比 新規 {s.added} / 対象外 {s.removed}）\n年齢別: {age}\n地区別: {area}\n")
            self.emit(options, data, text)
        elif action == "lists":
            ctx = self.context(Purpose.TARGET_EXTRACTION, options)
            rows = selectors.lists(ctx, kind=options["kind"])
            self.emit(options, [{"list_id": r.id, "kind": r.kind, "vaccine": r.vaccine, "as_of": r.as_of.isoformat(),
                                 "count": r.count, "added": r.added, "removed": r.removed} for r in rows],
                      "\n".join(f"{r.id}\t{r.kind}\t{r.vaccine}\t{r.as_of}\t{r.count}\t+{r.added}\t-{r.removed}"
                                for r in rows) + "\n")
        elif action == "diff":
            ctx = self.context(Purpose.TARGET_EXTRACTION, options)
            d = selectors.diff(ctx, options["list_id"])
            self.emit(options, {"added": d.added, "removed": d.removed},
                      "".join(f"+ {a}\n" for a in d.added) + "".join(f"- {a}\n" for a in d.removed))
        elif action == "follow-up":
            ctx = self.context(Purpose.RECOMMENDATION, options)
            fu = selectors.follow_up(ctx, options["list_id"])
            self.emit(options, [{"atena_no": r.atena_no, "name": r.name, "phone": r.phone, "dose": r.dose,
                                 "eligible_until": r.eligible_until.isoformat(),
                                 "last_reminded": r.last_reminded.isoformat() if r.last_reminded else None,
                                 "last_result": r.last_result} for r in fu],
                      "\n".join(f"{r.atena_no}\t{r.name}\t{r.phone}\t{r.eligible_until}\t"
                                f"{r.last_reminded:%Y-%m-%d} {r.last_result}" if r.last_reminded else
                                f"{r.atena_no}\t{r.name}\t{r.phone}\t{r.eligible_until}\t-" for r in fu) + "\n")
        else:  # pragma: no cover - argparse restricts the choices
            raise InputRejected(action)
