"""Print output (帳票): Japanese fonts embedded in every PDF, QR codes, page helpers.

Pure (no Django): the PDFs of notices, certificates, fees and governance are all drawn with
ReportLab through this module, so the font choice and its embedding live in one place.

Fonts: BIZ UD Gothic / Mincho (Morisawa's universal-design faces many municipalities print with,
Debian packages ``fonts-morisawa-bizud-gothic`` and ``-mincho``), falling back to IPAex. TrueType
fonts registered with ReportLab are always embedded (as subsets), which is what CONTRACTS.md §4
requires ("every PDF embeds its fonts"). A city points ``YOBO_FONT_DIR`` at its own faces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from yobo.core.text import without_variation_selectors

GOTHIC = "YoboGothic"  # 本文・表
GOTHIC_BOLD = "YoboGothicBold"
MINCHO = "YoboMincho"  # 通知文・証明書の本文

# Candidate files per role, first found wins. Debian paths, then a city's own directory.
_CANDIDATES: dict[str, tuple[str, ...]] = {
    GOTHIC: (
        "bizud-gothic/BIZUDGothic-Regular.ttf",
        "fonts-ipaexfont-gothic/ipaexg.ttf",
        "ipaexfont-gothic/ipaexg.ttf",
    ),
    GOTHIC_BOLD: (
        "bizud-gothic/BIZUDGothic-Bold.ttf",
        "bizud-gothic/BIZUDGothic-Regular.ttf",
        "fonts-ipaexfont-gothic/ipaexg.ttf",
    ),
    MINCHO: (
        "bizud-mincho/BIZUDMincho-Regular.ttf",
        "fonts-ipaexfont-mincho/ipaexm.ttf",
        "ipaexfont-mincho/ipaexm.ttf",
        "bizud-gothic/BIZUDGothic-Regular.ttf",
    ),
}
_ROOTS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype", "/usr/local/share/fonts")

DEBIAN_FONT_PACKAGES = ("fonts-morisawa-bizud-gothic", "fonts-morisawa-bizud-mincho")


class FontsMissing(RuntimeError):
    """No Japanese TrueType font is installed; the message says which Debian packages to add."""


@dataclass(frozen=True)
class FontSet:
    gothic: str
    gothic_bold: str
    mincho: str
    files: dict[str, str]


def _find(role: str) -> Path | None:
    roots = [os.environ["YOBO_FONT_DIR"]] if os.environ.get("YOBO_FONT_DIR") else []
    roots += list(_ROOTS)
    for rel in _CANDIDATES[role]:
        for root in roots:
            for p in (Path(root) / rel, Path(root) / Path(rel).name):
                if p.is_file():
                    return p
    return None


@cache
def fonts() -> FontSet:
    """Register the Japanese fonts once per process and return their ReportLab names."""
    files: dict[str, str] = {}
    for role in (GOTHIC, GOTHIC_BOLD, MINCHO):
        path = _find(role)
        if path is None:
            raise FontsMissing(
                "日本語フォントが見つかりません / no Japanese font found: install the Debian packages "
                + " ".join(DEBIAN_FONT_PACKAGES)
                + " (or set YOBO_FONT_DIR)"
            )
        pdfmetrics.registerFont(TTFont(role, str(path)))
        files[role] = str(path)
    return FontSet(gothic=GOTHIC, gothic_bold=GOTHIC_BOLD, mincho=MINCHO, files=files)


class _Canvas(Canvas):
    """ReportLab's canvas, drawing names as the fonts can: ReportLab does not apply a font's
    variation sequences, so a variation selector (葛󠄀, as standardised registers write names) would
    print as a box after its base kanji; the base kanji alone is printed instead."""

    def drawString(self, x: float, y: float, text: str, *args: Any, **kwargs: Any) -> None:
        super().drawString(x, y, without_variation_selectors(text), *args, **kwargs)

    def drawRightString(self, x: float, y: float, text: str, *args: Any, **kwargs: Any) -> None:
        super().drawRightString(x, y, without_variation_selectors(text), *args, **kwargs)

    def drawCentredString(self, x: float, y: float, text: str, *args: Any, **kwargs: Any) -> None:
        super().drawCentredString(x, y, without_variation_selectors(text), *args, **kwargs)


def new_canvas(
    out: str | os.PathLike[str], *, title: str, author: str = "yobo", pagesize: tuple[float, float] | None = None
) -> Canvas:
    """A canvas for a print job; fonts registered, compression on, metadata set.

    ReportLab keeps the finished pages in memory until ``save()``: a very long job (a voucher batch)
    is split into volumes of bounded size by its caller to keep memory flat.
    """
    from reportlab.lib.pagesizes import A4

    fonts()
    # The initial font is ours too: ReportLab's default (Helvetica) would be listed unembedded.
    c = _Canvas(
        str(out), pagesize=pagesize or A4, pageCompression=1, invariant=1, initialFontName=GOTHIC, initialFontSize=10
    )
    c.setTitle(title)
    c.setAuthor(author)
    c.setCreator("yobo")
    return c


def draw_qr(
    c: Canvas, text: str, x: float, y: float, size: float, *, level: str = "M", quiet_zone: bool = True
) -> None:
    """Draw a QR code of ``text`` with its lower-left corner at (x, y), ``size`` points square.

    Drawn as one path of filled horizontal runs from the ``qrcode`` matrix rather than through
    ReportLab's QR widget: the widget is ~10 ms per code (too slow for 30,000 vouchers) and adds a
    Helvetica font reference that would leave a font unembedded. The mask pattern is fixed (any
    mask gives a valid code; choosing the "best" costs eight trial encodings). With
    ``quiet_zone=False`` the layout must keep the 4-module margin clear itself.
    """
    import qrcode
    from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q

    ec = {"L": ERROR_CORRECT_L, "M": ERROR_CORRECT_M, "Q": ERROR_CORRECT_Q, "H": ERROR_CORRECT_H}[level]
    qr = qrcode.QRCode(error_correction=ec, border=4 if quiet_zone else 0, mask_pattern=0)
    qr.add_data(text)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    cell = size / n
    path = c.beginPath()
    for r, row in enumerate(matrix):
        top = y + size - (r + 1) * cell
        start = -1
        for col in range(n + 1):
            dark = col < n and bool(row[col])
            if dark and start < 0:
                start = col
            elif not dark and start >= 0:
                path.rect(x + start * cell, top, (col - start) * cell, cell)
                start = -1
    c.saveState()
    c.setFillColorRGB(0, 0, 0)
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()


def text_width(text: str, font: str, size: float) -> float:
    fonts()
    return float(pdfmetrics.stringWidth(without_variation_selectors(text), font, size))


def fit_text(
    c: Canvas, text: str, x: float, y: float, max_width: float, font: str, size: float, *, min_size: float = 5.0
) -> None:
    """Draw ``text`` at (x, y), shrinking the size until it fits ``max_width`` (long addresses)."""
    s = size
    while s > min_size and text_width(text, font, s) > max_width:
        s -= 0.5
    c.setFont(font, s)
    c.drawString(x, y, text)
