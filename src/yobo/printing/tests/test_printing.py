"""The print module embeds its Japanese fonts and draws QR codes that decode to their text."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from pypdf import PdfReader

from yobo.printing import GOTHIC, MINCHO, draw_qr, fit_text, fonts, new_canvas, text_width


def test_pdf_embeds_the_japanese_fonts(tmp_path):
    out = tmp_path / "t.pdf"
    c = new_canvas(out, title="試験")
    c.setFont(GOTHIC, 12)
    c.drawString(72, 700, "予防接種 𠮷田 髙橋")
    c.setFont(MINCHO, 12)
    c.drawString(72, 680, "令和8年4月1日")
    c.showPage()
    c.save()
    reader = PdfReader(str(out))
    embedded = []
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            font = f.get_object()
            for desc in font.get("/DescendantFonts", [font]):
                fd = desc.get_object().get("/FontDescriptor")
                if fd is not None:
                    fd = fd.get_object()
                    embedded.append(any(k in fd for k in ("/FontFile", "/FontFile2", "/FontFile3")))
    assert embedded and all(embedded)
    text = reader.pages[0].extract_text()
    assert "予防接種" in text


@pytest.mark.skipif(shutil.which("pdffonts") is None, reason="poppler-utils not installed")
def test_pdffonts_reports_emb_yes(tmp_path):
    out = tmp_path / "t.pdf"
    c = new_canvas(out, title="t")
    c.setFont(GOTHIC, 10)
    c.drawString(72, 700, "接種券")
    c.showPage()
    c.save()
    lines = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert lines
    for line in lines:
        assert " yes " in line  # emb column


@pytest.mark.skipif(shutil.which("pdftoppm") is None or shutil.which("pdffonts") is None, reason="poppler-utils")
def test_qr_decodes_back_and_adds_no_unembedded_font(tmp_path):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    text = "shc:/" + "".join(str((i * 7 + i // 3) % 10) for i in range(260))
    out = tmp_path / "q.pdf"
    c = new_canvas(out, title="q")
    draw_qr(c, text, 72, 400, 300, level="L")
    c.showPage()
    c.save()
    fonts_out = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    assert "Helvetica" not in fonts_out
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(out), str(tmp_path / "q")], check=True)
    found = zxingcpp.read_barcodes(Image.open(tmp_path / "q.png"))
    assert [b.text for b in found] == [text]


def test_fit_text_shrinks_long_lines():
    fonts()
    long = "神奈川県横浜市中区港町一丁目一番地 グランドメゾン港町 一二三四号室" * 2
    assert text_width(long, GOTHIC, 12) > 200

    class Probe:
        size = None

        def setFont(self, name, size):
            self.size = size

        def drawString(self, x, y, s):
            pass

    p = Probe()
    fit_text(p, long, 0, 0, 200, GOTHIC, 12)  # type: ignore[arg-type]
    assert p.size is not None and p.size < 12


def test_a_name_with_a_variation_selector_prints_its_base_kanji(tmp_path):
    out = tmp_path / "ivs.pdf"
    c = new_canvas(out, title="試験")
    c.setFont(GOTHIC, 12)
    name = "葛\U000e0100城　太郎"  # as a standardised register writes it (IVS)
    c.drawString(72, 700, name)
    c.drawRightString(500, 680, name)
    c.drawCentredString(300, 660, name)
    c.showPage()
    c.save()
    lines = PdfReader(str(out)).pages[0].extract_text().splitlines()
    # ReportLab cannot apply the sequence: the selector alone would be drawn as a box (\x00 here)
    assert [line.strip() for line in lines] == ["葛城\u3000太郎"] * 3
    assert text_width(name, GOTHIC, 12) == text_width("葛城　太郎", GOTHIC, 12)
