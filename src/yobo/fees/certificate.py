"""The exemption certificate (予防接種費用免除証明書) drawn with ``yobo.printing`` (fonts embedded).

Pure drawing: the service passes the items; nothing here reads the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from yobo.core.wareki import to_wareki
from yobo.printing import GOTHIC, GOTHIC_BOLD, MINCHO, fit_text, new_canvas


@dataclass(frozen=True)
class CertificateData:
    decision_no: str
    issue_no: int
    name: str
    kana: str
    birth_date: date
    address: str
    vaccine: str
    category: str
    fiscal_year: int
    applied_on: date
    issued_on: date
    municipality: str


def qr_modules(c: Canvas, text: str, x: float, y: float, size: float) -> None:
    """A QR code drawn as filled squares. (``yobo.printing.draw_qr`` goes through ReportLab's graphics
    renderer, which leaves an unembedded Helvetica reference in the PDF; this draws no text at all.)"""
    import qrcode

    q = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    q.add_data(text)
    q.make(fit=True)
    matrix = q.get_matrix()
    cell = size / len(matrix)
    c.saveState()
    c.setFillColorRGB(0, 0, 0)
    for r, line in enumerate(matrix):
        for col, on in enumerate(line):
            if on:
                c.rect(x + col * cell, y + size - (r + 1) * cell, cell, cell, stroke=0, fill=1)
    c.restoreState()


def draw(out: Path, d: CertificateData) -> Path:
    """Write one A4 page to ``out`` (a directory gets ``exemption-<番号>.pdf``)."""
    path = out / f"exemption-{d.decision_no}-{d.issue_no}.pdf" if out.is_dir() else out
    c = new_canvas(path, title=f"予防接種費用免除証明書 {d.decision_no}")
    w, h = c._pagesize
    c.setFont(GOTHIC_BOLD, 18)
    c.drawCentredString(w / 2, h - 35 * mm, "予防接種費用免除証明書")
    c.setFont(GOTHIC, 9)
    c.drawRightString(w - 20 * mm, h - 20 * mm, f"証明番号 {d.decision_no}-{d.issue_no}")
    y = h - 55 * mm
    rows = [
        ("氏名", d.name), ("フリガナ", d.kana), ("生年月日", to_wareki(d.birth_date)), ("住所", d.address),
        ("ワクチン", d.vaccine), ("免除区分", d.category),
        ("有効期間", f"{to_wareki(max(d.applied_on, date(d.fiscal_year, 4, 1)))}から"
                     f"{to_wareki(date(d.fiscal_year + 1, 3, 31))}まで"),
    ]
    for label, value in rows:
        c.setFont(GOTHIC, 10)
        c.drawString(25 * mm, y, label)
        fit_text(c, value, 60 * mm, y, w - 85 * mm, MINCHO, 12)
        c.line(25 * mm, y - 3 * mm, w - 25 * mm, y - 3 * mm)
        y -= 12 * mm
    c.setFont(MINCHO, 11)
    text = c.beginText(25 * mm, y - 8 * mm)
    text.setFont(MINCHO, 11)
    for line in ("上記の者は、予防接種法に基づく定期の予防接種の実費徴収について、",
                 "費用の免除に該当することを証明します。",
                 "接種を受ける際に、この証明書を医療機関の窓口に提示してください。"):
        text.textLine(line)
    c.drawText(text)
    c.setFont(MINCHO, 11)
    c.drawString(25 * mm, y - 45 * mm, to_wareki(d.issued_on))
    c.drawRightString(w - 25 * mm, y - 60 * mm, f"地方公共団体コード {d.municipality}　市長")
    # The clinic can read the number back when it claims (no personal data in the code).
    qr_modules(c, f"YOBO-FEE:{d.municipality}:{d.decision_no}:{d.issue_no}", w - 50 * mm, 20 * mm, 25 * mm)
    c.showPage()
    c.save()
    return path
