"""The statement per clinic (委託料支払明細書), drawn with ``yobo.printing`` (fonts embedded), page by
page so a month of many clinics stays flat in memory. Pure drawing: no database access here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reportlab.lib.units import mm

from yobo.core.wareki import to_wareki
from yobo.printing import GOTHIC, GOTHIC_BOLD, fit_text, new_canvas

# (included, 宛名番号, vaccine, dose number, date, screening only, amount or None, reason label)
Line = tuple[bool, str, str, int | None, date, bool, int | None, str]


@dataclass(frozen=True)
class StatementData:
    claim_no: str
    clinic_code: str
    clinic_name: str
    total_yen: int
    included: int
    excluded: int
    lines: list[Line]


ROWS_PER_PAGE = 40


def draw(path: Path, month: str, pay_on: date | None, items: Iterable[StatementData]) -> Path:
    c = new_canvas(path, title=f"予防接種委託料 支払明細書 {month}")
    w, h = c._pagesize
    ym = f"{month[:4]}年{int(month[4:])}月"
    for d in items:
        pages = [d.lines[i:i + ROWS_PER_PAGE] for i in range(0, len(d.lines), ROWS_PER_PAGE)] or [[]]
        for n, chunk in enumerate(pages, 1):
            c.setFont(GOTHIC_BOLD, 14)
            c.drawString(20 * mm, h - 20 * mm, f"予防接種委託料 支払明細書（請求月 {ym}）")
            c.setFont(GOTHIC, 9)
            c.drawRightString(w - 20 * mm, h - 20 * mm, f"請求番号 {d.claim_no}　{n}/{len(pages)}頁")
            fit_text(c, f"{d.clinic_code}　{d.clinic_name}　様", 20 * mm, h - 30 * mm, w - 40 * mm, GOTHIC, 11)
            c.setFont(GOTHIC, 10)
            paid = f"支払件数 {d.included}件　除外 {d.excluded}件　支払額 {d.total_yen:,}円"
            if pay_on:
                paid += f"　振込予定日 {to_wareki(pay_on)}"
            c.drawString(20 * mm, h - 38 * mm, paid)
            y = h - 48 * mm
            c.setFont(GOTHIC_BOLD, 8)
            for x, label in ((20, "区分"), (35, "宛名番号"), (65, "ワクチン"), (90, "回"), (100, "接種日"),
                             (130, "金額(円)"), (150, "除外理由")):
                c.drawString(x * mm, y, label)
            c.line(20 * mm, y - 1.5 * mm, w - 20 * mm, y - 1.5 * mm)
            c.setFont(GOTHIC, 8)
            for inc, atena, vaccine, dose_no, day, screening, amount, reason in chunk:
                y -= 5.5 * mm
                c.drawString(20 * mm, y, "支払" if inc else "除外")
                c.drawString(35 * mm, y, atena)
                c.drawString(65 * mm, y, vaccine + ("（予診のみ）" if screening else ""))
                c.drawString(90 * mm, y, "" if dose_no is None else str(dose_no))
                c.drawString(100 * mm, y, to_wareki(day, short=True))
                c.drawRightString(145 * mm, y, f"{amount:,}" if amount is not None else "")
                fit_text(c, "" if inc else reason, 150 * mm, y, w - 170 * mm, GOTHIC, 8)
            c.showPage()
    c.save()
    return path
