"""``yobo stats doses --from DATE --to DATE [--by vaccine,dose,age] [--per month|fy|none] [--out FILE]
[--encoding utf-8|cp932] [--min-cell N] [--json]`` and ``yobo stats coverage --vaccine CODE
--cohorts 2019-2024 [--json]``.

Purpose S01 (統計). ``doses`` counts the 定期接種 doses given in the period (active records the
schedule counted), by the row dimensions (``vaccine``, ``dose``, ``age``, ``category``, ``month``,
``fy``) and the column dimension ``--per``; cells below the threshold (``YOBO_STATS_MIN_CELL``,
default 10; ``--min-cell`` may only raise it) are shown as ``*``, with complementary suppression so no
hidden cell can be recomputed from the totals. The CSV (UTF-8 with BOM, or CP932) holds counts only
and is written directly: decision 124 explains why an aggregated, suppressed table is not personal
data. Exit 2: bad options (nothing written).
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.errors import InputRejected
from yobo.core.purposes import Purpose
from yobo.core.wareki import DateFormatError, parse_date
from yobo.immunizations import statistics as st
from yobo.immunizations import stats_selectors


def _day(text: str) -> date:
    try:
        return parse_date(text)
    except DateFormatError:
        raise argparse.ArgumentTypeError(f"日付の形式が正しくありません / not a date: {text[:20]}") from None


def _cohorts(text: str) -> list[int]:
    t = text.replace("〜", "-").replace("~", "-").strip()
    try:
        if "-" in t:
            a, b = (int(x) for x in t.split("-", 1))
            if not (1900 <= a <= b <= 2200 and b - a <= 30):
                raise ValueError
            return list(range(a, b + 1))
        return [int(x) for x in t.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("生まれ年度は 2019-2024 の形で / cohorts as 2019-2024") from None


class Command(OperatorCommand):
    help = "接種記録統計 (秘匿処理済み) / dose statistics with small cells suppressed"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
            p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力")
            return p

        d = common(sub.add_parser("doses", help="接種件数の集計表 / dose counts table"))
        d.add_argument("--from", dest="date_from", type=_day, required=True, help="接種日の始め / first day")
        d.add_argument("--to", dest="date_to", type=_day, required=True, help="接種日の終わり / last day")
        d.add_argument("--by", default=",".join(st.DEFAULT_BY),
                       help=f"行の集計軸 / row dimensions ({', '.join(st.DIMENSIONS)})")
        d.add_argument("--per", default="month", choices=st.COLUMN_DIMENSIONS, help="列の集計軸 / columns")
        d.add_argument("--out", help="CSVの出力先 / CSV file")
        d.add_argument("--encoding", default="utf-8", choices=["utf-8", "cp932"])
        d.add_argument("--min-cell", type=int, default=None, help="秘匿の閾値を上げる / raise the threshold")
        c = common(sub.add_parser("coverage", help="生まれ年度別の接種率 / coverage by birth cohort"))
        c.add_argument("--vaccine", required=True, help="MR1, MR2, DPT-IPV, …")
        c.add_argument("--cohorts", type=_cohorts, required=True, help="生まれ年度 2019-2024")

    def handle(self, *args: Any, **options: Any) -> None:
        ctx = self.context(Purpose.STATISTICS, options)
        try:
            if options["action"] == "doses":
                self._doses(ctx, options)
            else:
                self._coverage(ctx, options)
        except st.StatsInputError as exc:
            raise InputRejected(str(exc)) from None

    def _doses(self, ctx: Any, options: dict[str, Any]) -> None:
        t = stats_selectors.dose_table(ctx, options["date_from"], options["date_to"], by=options["by"],
                                       per=options["per"], min_cell=options["min_cell"])
        meta = {"from": options["date_from"].isoformat(), "to": options["date_to"].isoformat()}
        data = st.to_json(t, **meta)
        if options.get("out"):
            path = Path(options["out"])
            path.write_bytes(st.to_csv(t, options["encoding"]))
            data["out"] = str(path)
            text = (f"{path} に書き出しました（{len(t.rows)} 行、秘匿 {t.primary} + 二次秘匿 {t.complementary}）\n"
                    f"wrote {path}: {len(t.rows)} rows, {t.primary} suppressed + {t.complementary} complementary\n")
        else:
            text = st.to_csv(t, "utf-8").decode("utf-8-sig")
        if options.get("json"):
            self.stdout.write(json.dumps(data, ensure_ascii=False))
        else:
            self.stdout.write(text)

    def _coverage(self, ctx: Any, options: dict[str, Any]) -> None:
        code = options["vaccine"].strip().upper()
        rows = stats_selectors.coverage_table(ctx, code, options["cohorts"])
        data = {"vaccine": code, "threshold": stats_selectors.threshold(), "cohorts": [
            {"cohort": r.cohort, "residents": st.SUPPRESSED if r.hidden else r.residents,
             "completed": st.SUPPRESSED if r.hidden else r.completed,
             "rate": st.SUPPRESSED if r.hidden else round(r.rate * 100, 1)} for r in rows]}
        text = "".join(f"{x['cohort']}年度生まれ\t{x['residents']}\t{x['completed']}\t{x['rate']}%\n"
                       for x in data["cohorts"])
        self.emit(options, data, text or "(該当なし / none)\n")
