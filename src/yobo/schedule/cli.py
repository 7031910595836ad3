"""``yobo schedule due|rules`` (CONTRACTS.md §2). Runs without Django."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from yobo.schedule.ages import parse_iso
from yobo.schedule.api import evaluate, parse_sex, read_history
from yobo.schedule.engine import ScheduleInputError
from yobo.schedule.rules import Settings

STATUS_JA = {"due": "接種対象", "upcoming": "対象前", "complete": "完了", "expired": "期間終了"}


def _date(text: str, what: str) -> date:
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise ScheduleInputError(f"{what}: {exc}") from None


def _fmt(d: date) -> str:
    return "" if d in (date.min, date.max) else d.isoformat()


def cmd_due(args: argparse.Namespace) -> int:
    birth = _date(args.birth_date, "--birth-date 生年月日")
    as_of = _date(args.as_of, "--as-of 基準日") if args.as_of else date.today()
    if birth > as_of:
        raise ScheduleInputError("生年月日が基準日より後です。入力を確認してください。 / birth date is after --as-of")
    sex = parse_sex(args.sex)
    history = read_history(args.history) if args.history else []
    settings = Settings(aged_65_reading=args.aged_65_reading)
    result = evaluate(birth, sex, as_of, history, settings)
    if args.json:
        print(json.dumps([r.as_contract() for r in result], ensure_ascii=False, indent=2))
        return 0
    print(f"生年月日 {birth}  性別 {'男' if sex == 1 else '女'}  基準日 {as_of}")
    print(f"{'ワクチン':<12}{'次回':>4}  {'状態':<8}{'対象期間':<25}{'次回接種可能日'}")
    for r in result:
        window = f"{_fmt(r.eligible_from)}〜{_fmt(r.eligible_until)}"
        earliest = _fmt(r.earliest) if r.status in ("due", "upcoming") else ""
        label = f"{STATUS_JA[r.status]}({r.status})"
        print(f"{r.vaccine:<12}{r.dose:>4}  {label:<18}{window:<25}{earliest}")
    bad = [c for r in result for c in r.checks if not c.valid]
    seen = set()
    for c in bad:
        key = (c.vaccine, c.date)
        if key in seen:
            continue
        seen.add(key)
        print(f"注意: {c.vaccine} {c.date} は{c.series}として数えません: {c.message}")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from yobo.schedule.render import render

    sys.stdout.write(render(args.format))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="yobo schedule", description="定期接種スケジュール / routine immunization schedule"
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    due = sub.add_parser("due", help="ある日の接種対象・次回接種 / what is due for a person on a date")
    due.add_argument("--birth-date", required=True, help="生年月日 YYYY-MM-DD")
    due.add_argument("--sex", required=True, help="M or F (男/女)")
    due.add_argument("--as-of", help="基準日 YYYY-MM-DD (default: today)")
    due.add_argument("--history", help="接種履歴 CSV: vaccine,date[,product]")
    due.add_argument("--json", action="store_true", help="JSON (CONTRACTS.md §2)")
    due.add_argument("--aged-65-reading", default="age_on_day", choices=["age_on_day", "fiscal_year_cohort"],
                     help="「65歳の者」の読み方 (city setting; default: the legal reading)")  # fmt: skip
    due.set_defaults(func=cmd_due)
    rules = sub.add_parser("rules", help="定期接種の規則一覧 / the rules table with legal sources")
    rules.add_argument("--format", default="text", choices=["text", "markdown", "html", "json"])
    rules.set_defaults(func=cmd_rules)
    return ap


def main(argv: list[str]) -> int:
    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    try:
        return int(args.func(args))
    except ScheduleInputError as exc:
        print(f"エラー: {exc}", file=sys.stderr)
        return 2
