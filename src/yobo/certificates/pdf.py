"""The paper certificate (接種証明書) as PDF: Japanese for domestic use, English for overseas use.

Drawn with ``yobo.printing`` (BIZ UD fonts embedded). Each SMART Health Card is printed as a QR code
with two segments, ``shc:/`` in byte mode and the digits in numeric mode, as the SHC spec requires
(ReportLab's own QR widget would encode it all as bytes and need a much larger code). Error
correction M when the code stays within version 22, else L (the spec's 1195-character limit is
what fits version 22 at L).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import qrcode
import qrcode.util
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from yobo.core.wareki import to_wareki
from yobo.printing import GOTHIC, GOTHIC_BOLD, MINCHO, fit_text, new_canvas

from .selectors import CertificateDocument

_CITY_NAMES = {"141003": ("横浜市", "Yokohama")}
_SEX = {1: ("男", "Male"), 2: ("女", "Female")}
QR_SIZE = 62 * mm


def city_names(code: str) -> tuple[str, str]:
    """(Japanese, English) name of the issuing city: ``YOBO_MUNICIPALITY_NAME`` / ``_EN``, else known codes."""
    ja = os.environ.get("YOBO_MUNICIPALITY_NAME", "")
    en = os.environ.get("YOBO_MUNICIPALITY_NAME_EN", "")
    known = _CITY_NAMES.get(code, (f"地方公共団体 {code}", f"Municipality {code}"))
    return ja or known[0], en or known[1]


def qr_matrix(numeric_text: str) -> list[list[bool]]:
    """The QR modules of a ``shc:/`` text: byte segment ``shc:/`` + numeric segment of the digits."""
    head, digits = numeric_text[:5], numeric_text[5:]
    for level in (qrcode.constants.ERROR_CORRECT_M, qrcode.constants.ERROR_CORRECT_L):
        q = qrcode.QRCode(error_correction=level, border=0)
        q.add_data(qrcode.util.QRData(head.encode(), mode=qrcode.util.MODE_8BIT_BYTE))
        q.add_data(qrcode.util.QRData(digits.encode(), mode=qrcode.util.MODE_NUMBER))
        q.make(fit=True)
        if q.version <= 22 or level == qrcode.constants.ERROR_CORRECT_L:
            return [[bool(m) for m in row] for row in q.modules]
    raise AssertionError("unreachable")


def draw_matrix(c: Canvas, matrix: Sequence[Sequence[bool]], x: float, y: float, size: float) -> None:
    """Draw QR modules with the lower-left corner at (x, y), a quiet zone of 4 modules included."""
    n = len(matrix)
    cell = size / (n + 8)
    c.saveState()
    c.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        run_start = None
        for col in [*range(n), n]:
            dark = col < n and row[col]
            if dark and run_start is None:
                run_start = col
            elif not dark and run_start is not None:
                c.rect(x + (4 + run_start) * cell, y + size - (4 + r + 1) * cell, (col - run_start) * cell, cell,
                       stroke=0, fill=1)
                run_start = None
    c.restoreState()


def _vaccine_names() -> dict[str, tuple[str, str]]:
    from yobo.schedule.rules import load_series

    return {code: (s.name_ja, s.name_en) for code, s in load_series().items()}


def render(doc: CertificateDocument, out: str | os.PathLike[str], municipality: str) -> Path:
    """Write the certificate PDF to ``out``; one page per QR code beyond the first page's."""
    cert = doc.certificate
    en = cert.language == "en"
    city_ja, city_en = city_names(municipality)
    names = _vaccine_names()
    title = "Certificate of Vaccination" if en else "予防接種証明書"
    c = new_canvas(out, title=f"{title} {cert.certificate_id}", author=city_en if en else city_ja)
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    y = height - 28 * mm
    c.setFont(GOTHIC_BOLD, 20)
    c.drawCentredString(width / 2, y, title)
    c.setFont(GOTHIC, 10)
    c.drawCentredString(width / 2, y - 7 * mm, "予防接種証明書（海外用）" if en else "Certificate of Vaccination")
    y -= 22 * mm

    def row(label: str, value: str) -> None:
        nonlocal y
        c.setFont(GOTHIC, 9)
        c.drawString(left, y, label)
        fit_text(c, value, left + 45 * mm, y, right - left - 45 * mm, MINCHO if not en else GOTHIC, 12)
        c.setLineWidth(0.3)
        c.line(left, y - 2.5 * mm, right, y - 2.5 * mm)
        y -= 9 * mm

    fam_given = [" ".join(x for x in n if x) for n in doc.names]
    if en:
        row("Name", doc.romanised_name or (fam_given[0] if fam_given else ""))
        row("Date of birth", doc.birth_date.strftime("%d %b %Y"))
        row("Sex", _SEX.get(doc.sex, ("", "Unknown"))[1])
        if doc.nationality:
            row("Nationality", doc.nationality)
        if doc.passport_no:
            row("Passport No.", doc.passport_no)
    else:
        kanji = next((n for n in fam_given if not n.isascii()), fam_given[0] if fam_given else "")
        row("氏名", kanji.replace(" ", "\u3000"))
        row("フリガナ", doc.name_kana)
        if doc.romanised_name:
            row("ローマ字氏名", doc.romanised_name)
        row("生年月日", f"{to_wareki(doc.birth_date)}（{doc.birth_date:%Y-%m-%d}）")
        row("性別", _SEX.get(doc.sex, ("不明", ""))[0])

    y -= 3 * mm
    c.setFont(GOTHIC_BOLD, 11)
    c.drawString(left, y, "Vaccination record" if en else "接種記録")
    y -= 7 * mm
    cols = (left, left + 30 * mm, left + 135 * mm)
    c.setFont(GOTHIC, 8.5)
    for x, h in zip(cols, ("Date" if en else "接種日", "Vaccine" if en else "ワクチン",
                           "Lot No." if en else "ロット番号"), strict=True):
        c.drawString(x, y, h)
    y -= 6 * mm
    if not doc.doses:
        c.setFont(GOTHIC, 10)
        c.drawString(left, y, "No vaccination on record." if en else "記録された接種はありません。")
        y -= 6 * mm
    for d in doc.doses:
        if y < 100 * mm:  # keep room for the QR and the issuer block
            c.showPage()
            y = height - 25 * mm
        ja_name, en_name = names.get(d.vaccine, (d.vaccine, d.vaccine))
        c.setFont(GOTHIC, 9.5)
        c.drawString(cols[0], y, d.date.strftime("%d %b %Y") if en else f"{d.date:%Y-%m-%d}")
        fit_text(c, en_name if en else ja_name, cols[1], y, cols[2] - cols[1] - 3 * mm, GOTHIC, 9.5)
        fit_text(c, d.lot or "—", cols[2], y, right - cols[2], GOTHIC, 9.5)
        y -= 5.5 * mm

    numerics = cert.numerics
    qr_y = 35 * mm
    for i, text in enumerate(numerics):
        if i:
            c.showPage()
            c.setFont(GOTHIC, 10)
            c.drawString(left, height - 25 * mm, f"{cert.certificate_id}  ({i + 1}/{len(numerics)})")
        draw_matrix(c, qr_matrix(text), left, qr_y, QR_SIZE)
        c.setFont(GOTHIC, 7)
        label = "SMART Health Card" + (f" {i + 1}/{len(numerics)}" if len(numerics) > 1 else "")
        c.drawString(left + 4 * mm, qr_y - 3 * mm, label)
        if i == 0:
            _issuer_block(c, doc, en, city_ja, city_en, left + QR_SIZE + 8 * mm, qr_y + QR_SIZE - 6 * mm)
    if not numerics:
        _issuer_block(c, doc, en, city_ja, city_en, left, qr_y + QR_SIZE - 6 * mm)
    c.showPage()
    c.save()
    return Path(out)


def _issuer_block(c: Canvas, doc: CertificateDocument, en: bool, city_ja: str, city_en: str, x: float,
                  y: float) -> None:
    cert = doc.certificate
    lines = (
        [f"Certificate ID: {cert.certificate_id}", f"Date of issue: {cert.issue_date:%d %b %Y}",
         f"Issued by: Mayor of {city_en}", "Verify the QR code with any SMART Health Card verifier",
         "using the issuer's public keys (/.well-known/jwks.json)."]
        if en else
        [f"証明書ID　{cert.certificate_id}", f"発行年月日　{to_wareki(cert.issue_date)}",
         "上記のとおり予防接種を受けたことを証明します。", f"{city_ja}長",
         "QRコードは SMART Health Card 形式で電子署名されています。"]
    )
    for i, line in enumerate(lines):
        c.setFont(GOTHIC_BOLD if i == 0 else GOTHIC, 9.5 if i < 4 else 7.5)
        c.drawString(x, y - i * 6.5 * mm, line)
    if cert.exp:
        c.setFont(GOTHIC, 7.5)
        c.drawString(x, y - len(lines) * 6.5 * mm,
                     f"Valid until {cert.exp:%d %b %Y}" if en else f"有効期限　{to_wareki(cert.exp.date())}")
