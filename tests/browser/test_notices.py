"""Notices in a real browser: extract MR2 targets for next April, issue a batch, download the PDF
(fonts embedded), decode the QR of a voucher back to its OCR line, and see the reminder list."""

from __future__ import annotations

import csv
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from .test_login import _login, enrolled  # noqa: F401  (the fixture is used by name)


def _add(atena: str, born: date, name: str, postal: str, address: str) -> None:
    from django.conf import settings

    from yobo.people.models import Person

    now = timezone.now()
    Person.objects.create(
        municipality=settings.MUNICIPALITY_CODE, atena_no=atena, household_no=atena, name_kanji=name,
        name_kana="テスト", kanji_key=name, kana_key="テスト", birth_date=born, sex=1, postal_code=postal,
        address=address, phone="045-000-0000", status=1, row_hash="x", created_at=now, updated_at=now,
    )


def _next_april() -> date:
    t = timezone.localdate()
    return date(t.year + 1 if t.month >= 4 else t.year, 4, 1)


def test_extract_issue_download_scan_and_remind(page: Any, enrolled: dict[str, Any],  # noqa: F811
                                                tmp_path: Path) -> None:
    april = _next_april()
    fy6 = date(april.year - 6, 4, 2)  # attains 6 in the fiscal year starting next April
    _add("3000000001", fy6, "横浜　一郎", "2310001", "神奈川県横浜市中区本町1丁目")
    _add("3000000002", date(fy6.year, 12, 1), "横浜　二郎", "2200012", "神奈川県横浜市西区みなとみらい2丁目")
    _add("3000000003", date(april.year - 7, 6, 1), "横浜　三郎", "2450001", "神奈川県横浜市泉区和泉町5番地")
    _login(page, enrolled)
    page.click("text=対象者抽出")
    page.wait_for_url("**/notices/")
    page.select_option("#id_vaccine", "MR2")
    assert page.locator("#id_as_of").input_value() == april.isoformat()
    page.click("#extract-run")
    page.wait_for_url("**/notices/lists/*/")
    assert page.locator("#count").inner_text() == "2"
    assert "中区" in page.locator("#by-area").inner_text() and "西区" in page.locator("#by-area").inner_text()

    page.click("#issue")
    page.wait_for_url("**/notices/batches/*/")
    assert page.locator("#batch-count").inner_text() == "2"
    with page.expect_download() as dl:
        page.click("#pdf")
    pdf = tmp_path / "batch.pdf"
    dl.value.save_as(str(pdf))
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = [ln.split() for ln in fonts.splitlines()[2:] if ln.strip()]
    assert rows and all(r[-5] == "yes" for r in rows)  # emb column

    from yobo.notices.models import PrintBatch

    numbers = Path(PrintBatch.objects.get().numbers_path)
    with numbers.open(encoding="utf-8") as f:
        issued = list(csv.DictReader(f))
    assert [r["宛名番号"] for r in issued] == ["3000000002", "3000000001"]  # postal-code order
    zxing = pytest.importorskip("zxingcpp")
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "2", "-l", "2", str(pdf), str(tmp_path / "v")], check=True)
    decoded = {b.text for b in zxing.read_barcodes(Image.open(next(tmp_path.glob("v*.png"))))}
    assert decoded == {issued[0]["OCR"]}

    # the reminder list: 三郎's MR2 window ends at the end of this fiscal year
    page.goto(enrolled["url"] + "/notices/")
    page.select_option("#remind-form select[name=r-vaccine]", "MR2")
    page.fill("#remind-form input[name=r-months]", "6")
    page.click("#remind-run")
    page.wait_for_url("**/notices/lists/*/")
    table = page.locator("#follow-up").inner_text()
    assert "横浜　三郎" in table and "045-000-0000" in table
    page.fill("#follow-up input[name=result]", "接種予定")
    page.click("#follow-up button")
    page.wait_for_url("**/notices/lists/*/")
    assert "接種予定" in page.locator("#follow-up").inner_text()
