"""Drawing the print batches (接種券・予診票・封筒宛名・送付状・勧奨通知) — no Django.

The layout is a JSON file (``layouts/voucher.json``; a city overrides it with
``$YOBO_VAR_DIR/layouts/voucher.json``): positions in millimetres from the top-left corner, fonts
by role, and texts with ``{field}`` placeholders from :data:`FIELDS`. Pages are drawn one by one and
written out at each ``showPage``, so memory stays flat however long the batch.

QR codes are drawn here from the ``qrcode`` library's module matrix as one filled path, version 1
(an 18-digit OCR line fits with level M) and a fixed mask: about 1 ms each, against ~10 ms through
ReportLab's widget, which is what keeps 30,000 vouchers inside the time budget.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from yobo import printing

FIELDS = frozenset({
    "postal", "address", "address_extra", "name", "kana", "birth_wareki", "sex", "atena", "vaccine_name", "dose",
    "number", "ocr", "ocr_spaced", "eligible_from", "valid_until", "issued", "city_name", "issuer", "contact",
    # cover sheet
    "batch_id", "list_id", "as_of", "count", "pages", "protected", "operator", "terminal", "created",
})
# Fields whose value is the same for every page of a batch: texts using only these are drawn once
# into a form XObject and placed on each page (a third of the drawing time of a voucher).
BATCH_FIELDS = frozenset({"city_name", "issuer", "contact", "issued"})
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
PAGE_H = 297 * mm


class LayoutError(ValueError):
    """The layout file is malformed or names an unknown field."""


def layout_path(var_dir: Path | str | None) -> Path | None:
    """The city's override under ``var_dir/layouts/voucher.json`` if present, else None (packaged)."""
    if var_dir:
        p = Path(var_dir) / "layouts" / "voucher.json"
        if p.is_file():
            return p
    return None


def load_layout(var_dir: Path | str | None = None) -> tuple[dict[str, Any], str]:
    """The layout and where it came from; every placeholder is checked against :data:`FIELDS`."""
    p = layout_path(var_dir)
    if p is not None:
        raw, where = p.read_text(encoding="utf-8"), str(p)
    else:
        raw = resources.files("yobo.notices.layouts").joinpath("voucher.json").read_text(encoding="utf-8")
        where = "yobo/notices/layouts/voucher.json"
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LayoutError(f"様式ファイルが読めません {where}: {exc} / malformed layout file") from None
    bad = sorted({m for s in _strings(data) for m in _PLACEHOLDER.findall(s)} - FIELDS)
    if bad:
        raise LayoutError(f"様式ファイル {where} に不明な差込項目: {', '.join(bad)} / unknown fields")
    for key in ("voucher", "form", "cover", "letter"):
        if key not in data:
            raise LayoutError(f"様式ファイル {where} に {key} がありません / missing section {key}")
    return data, where


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() if not k.startswith("_") for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def fill(template: str, values: dict[str, str]) -> str:
    """Replace ``{field}`` by its value (plain names only: no attribute or index access)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template)


def qr_path(c: Canvas, text: str, x: float, y: float, size: float) -> None:
    """A QR code of ``text`` at (x, y), ``size`` square; the layout keeps the quiet zone clear."""
    printing.draw_qr(c, text, x, y, size, quiet_zone=False)


@dataclass
class Renderer:
    """One PDF file of a batch; call the page methods in print order, then :meth:`close`."""

    path: Path
    layout: dict[str, Any]
    title: str

    def __post_init__(self) -> None:
        self.f = printing.fonts()
        self.font = {"gothic": self.f.gothic, "gothic_bold": self.f.gothic_bold, "mincho": self.f.mincho}
        self.c = printing.new_canvas(self.path, title=self.title)
        self.pages = 0

    def _text(self, spec: dict[str, Any], values: dict[str, str], ox: float = 0, oy: float = 0) -> None:
        text = fill(spec["text"], values).strip()
        if not text:
            return
        font = self.font.get(spec.get("font", "gothic"), self.f.gothic)
        size = float(spec.get("size", 10))
        x = (ox + float(spec.get("x", spec.get("dx", 0)))) * mm
        y = PAGE_H - (oy + float(spec.get("y", spec.get("dy", 0)))) * mm
        if "max_width" in spec:
            printing.fit_text(self.c, text, x, y, float(spec["max_width"]) * mm, font, size)
        else:
            self.c.setFont(font, size)
            self.c.drawString(x, y, text)

    def _static(self, spec: dict[str, Any]) -> bool:
        return set(_PLACEHOLDER.findall(spec.get("text", ""))) <= BATCH_FIELDS

    def _background(self, name: str, values: dict[str, str], specs: list[dict[str, Any]],
                    extra: Any = None) -> None:
        """Place the page's batch-constant part, drawing it into a form XObject the first time."""
        done: set[str] = self.__dict__.setdefault("_forms", set())
        if name not in done:
            self.c.beginForm(name)
            for s in specs:
                self._text(s, values)
            if extra is not None:
                extra()
            self.c.endForm()
            done.add(name)
        self.c.doForm(name)

    def _page(self) -> None:
        self.c.showPage()
        self.pages += 1

    def cover(self, values: dict[str, str]) -> None:
        spec = self.layout["cover"]
        self._text({"text": spec["title"], "x": 20, "y": 30, "font": "gothic_bold", "size": 18}, values)
        for i, line in enumerate(spec.get("lines", [])):
            self._text({"text": line, "x": 20, "y": 50 + i * 10, "size": 12}, values)
        self._page()

    def voucher(self, values: dict[str, str]) -> None:
        spec = self.layout["voucher"]
        fields = [spec["title"], *spec["fields"]]
        self._background("voucher_bg", values, [f for f in fields if self._static(f)])
        for f in fields:
            if not self._static(f):
                self._text(f, values)
        seals = spec["seals"]
        q = seals["qr"]
        size = float(q["size"]) * mm
        # The QR is drawn once per voucher as a form XObject and placed on each seal.
        self.pages_qr = getattr(self, "pages_qr", 0) + 1
        form = f"qr{self.pages_qr}"
        self.c.beginForm(form, 0, 0, size, size)
        qr_path(self.c, values["ocr"], 0, 0, size)
        self.c.endForm()
        self.c.setDash(3, 2)
        self.c.setLineWidth(0.5)
        for k in range(int(seals.get("count", 1))):
            ox = float(seals["x"]) + k * (float(seals["width"]) + float(seals.get("gap", 5)))
            oy = float(seals["y"])
            w, h = float(seals["width"]) * mm, float(seals["height"]) * mm
            self.c.rect(ox * mm, PAGE_H - oy * mm - h, w, h, stroke=1, fill=0)  # 切取線
            for line in seals["lines"]:
                self._text(line, values, ox, oy)
            self.c.saveState()
            self.c.translate((ox + float(q["dx"])) * mm, PAGE_H - (oy + float(q["dy"])) * mm - size)
            self.c.doForm(form)
            self.c.restoreState()
        self.c.setDash()
        self._page()

    def form(self, values: dict[str, str]) -> None:
        spec = self.layout["form"]
        fields = [spec["title"], *spec["fields"], spec["signature"]]
        q = spec["questions"]

        def questions() -> None:
            x, y0, rh, w = float(q["x"]), float(q["y"]), float(q["row_height"]), float(q["width"])
            self.c.setLineWidth(0.5)
            for i, item in enumerate(q["items"]):
                top = PAGE_H - (y0 + i * rh) * mm
                self.c.rect(x * mm, top - rh * mm, w * mm, rh * mm, stroke=1, fill=0)
                self._text({"text": item, "x": x + 2, "y": y0 + i * rh + rh * 0.65, "size": 9.5}, values)
                self._text({"text": "はい・いいえ", "x": x + w - 25, "y": y0 + i * rh + rh * 0.65, "size": 9}, values)

        self._background("form_bg", values, [f for f in fields if self._static(f)], questions)
        for f in fields:
            if not self._static(f):
                self._text(f, values)
        self._page()

    def letter(self, values: dict[str, str]) -> None:
        spec = self.layout["letter"]
        for f in self.layout["voucher"]["fields"][:5]:  # the window-envelope address block
            self._text(f, values)
        self._text(spec["title"], values)
        for i, line in enumerate(spec["body"]):
            self._text({"text": line, "x": spec["body_x"], "y": float(spec["body_y"]) + i * float(spec["line_height"]),
                        "font": spec.get("font", "mincho"), "size": spec.get("size", 11)}, values)
        self._page()

    def close(self) -> int:
        self.c.save()
        return self.pages


def render_volume(path: str, layout: dict[str, Any], title: str, cover: dict[str, str],
                  pages: list[dict[str, str]], letters: bool = False) -> int:
    """Draw one volume (分冊) of a batch: its cover, then a voucher and a form (or a letter) per
    person. A module-level function so a process pool can run volumes side by side; ReportLab keeps
    a document's pages in memory until it is saved, so volumes are also what keeps memory flat."""
    r = Renderer(Path(path), layout, title=title)
    r.cover(cover)
    for v in pages:
        if letters:
            r.letter(v)
        else:
            r.voucher(v)
            r.form(v)
    return r.close()
