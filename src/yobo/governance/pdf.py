"""A plain document PDF (title, sections, lines, simple tables) for the disclosure set and the PIA
report, drawn page by page with ``yobo.printing`` (fonts embedded)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from yobo import printing

MARGIN = 48.0
LINE = 13.0


class Doc:
    def __init__(self, path: Path, title: str) -> None:
        from reportlab.lib.pagesizes import A4

        self.fs = printing.fonts()
        self.c = printing.new_canvas(path, title=title)
        self.w, self.h = A4
        self.title = title
        self.page = 0
        self._new_page()
        self.c.setFont(self.fs.gothic_bold, 15)
        self.c.drawString(MARGIN, self.y, title)
        self.y -= LINE * 2

    def _new_page(self) -> None:
        if self.page:
            self.c.showPage()
        self.page += 1
        self.y = self.h - MARGIN
        self.c.setFont(self.fs.gothic, 7)
        self.c.drawRightString(self.w - MARGIN, MARGIN / 2, f"{self.title}  {self.page}")

    def _need(self, lines: float = 1) -> None:
        if self.y - LINE * lines < MARGIN:
            self._new_page()

    def heading(self, text: str) -> None:
        self._need(3)
        self.y -= LINE * 0.5
        self.c.setFont(self.fs.gothic_bold, 11)
        self.c.drawString(MARGIN, self.y, text)
        self.y -= LINE * 1.3

    def line(self, text: str, size: float = 9, indent: float = 0) -> None:
        width = self.w - 2 * MARGIN - indent
        # wrap long lines by characters (Japanese has no spaces to break at)
        rest = text
        while True:
            self._need()
            cut = len(rest)
            while cut > 1 and printing.text_width(rest[:cut], self.fs.gothic, size) > width:
                cut -= 1
            self.c.setFont(self.fs.gothic, size)
            self.c.drawString(MARGIN + indent, self.y, rest[:cut])
            self.y -= LINE
            rest = rest[cut:]
            if not rest:
                break

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]], widths: Sequence[float],
              size: float = 7.5) -> None:
        total = self.w - 2 * MARGIN
        xs = [MARGIN]
        for wdt in widths[:-1]:
            xs.append(xs[-1] + total * wdt)
        cols = [total * wdt for wdt in widths]

        def draw(cells: Sequence[object], font: str) -> None:
            self._need()
            for x, cw, v in zip(xs, cols, cells, strict=False):
                printing.fit_text(self.c, "" if v is None else str(v), x, self.y, cw - 3, font, size, min_size=4)
            self.y -= LINE * 0.95

        draw(header, self.fs.gothic_bold)
        for r in rows:
            if self.y - LINE < MARGIN:
                self._new_page()
                draw(header, self.fs.gothic_bold)
            draw(r, self.fs.gothic)

    def save(self) -> None:
        self.c.showPage()
        self.c.save()
