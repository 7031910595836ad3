"""接種記録の取込 in a real browser: from the menu to the upload page, a CP932 file with 和暦 dates
chosen, Enter imports it (the cursor moved to 取り込む), the counts are shown, the doses are in the
ledger and the access log has the batch under V02; then a bad file is refused with its rows listed."""

from __future__ import annotations

import csv
import os
from datetime import date
from pathlib import Path
from typing import Any

from yobo.core.purposes import Duty, Purpose

from .test_login import _focus, _login, enrolled  # noqa: F401  (the fixture is used by name)

SHOTS = Path(os.environ.get("YOBO_SCREENSHOT_DIR") or "/tmp/h7")  # noqa: S108


def test_upload_a_clinic_file_by_keyboard(page: Any, enrolled: dict[str, Any], make_ctx: Any,  # noqa: F811
                                          tmp_path: Path) -> None:
    from yobo.audit.models import AccessLogEntry
    from yobo.immunizations import services
    from yobo.immunizations.formats import clinic_csv
    from yobo.immunizations.inputs import DoseInput, Source
    from yobo.immunizations.models import Dose
    from yobo.immunizations.tests.conftest import CLINIC, add_person

    services.load_demo_masters(make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK]))
    add_person("4000000001", date(2024, 11, 2))
    doses = [DoseInput(atena_no="4000000001", vaccine="HIB", date=date(2025, 1, 10), dose_number=1, clinic_code=CLINIC,
                       lot_number="HB001", source=Source.CLINIC_CSV),
             DoseInput(atena_no="4000000001", vaccine="HIB", date=date(2025, 2, 14), dose_number=2, clinic_code=CLINIC,
                       lot_number="HB001", source=Source.CLINIC_CSV)]
    good = tmp_path / "医師会_2025年2月.csv"
    clinic_csv.write_clinic_csv(good, doses, encoding="cp932", date_style="wareki")

    SHOTS.mkdir(parents=True, exist_ok=True)
    _login(page, enrolled)
    page.click("text=接種記録の取込")
    page.wait_for_url("**/doses/import/")
    _focus(page, "id", "i-file")  # the file field has the cursor
    page.set_input_files("#i-file", str(good))
    _focus(page, "id", "i-submit")  # a chosen file moves the cursor to 取り込む
    with page.expect_navigation():
        page.keyboard.press("Enter")
    applied = page.locator("[data-testid=import-applied]")
    assert "医師会_2025年2月.csv" in applied.inner_text()
    assert page.locator("[data-testid=count-inserted]").inner_text() == "2"
    page.screenshot(path=str(SHOTS / "dose-import-applied.png"), full_page=True)
    assert Dose.objects.filter(atena_no="4000000001", vaccine="HIB").count() == 2
    assert AccessLogEntry.objects.filter(resource="immunizations.batch", purpose="V02",
                                         target="医師会_2025年2月.csv", staff=enrolled["staff"].username).exists()

    bad = tmp_path / "bad.csv"
    clinic_csv.write_clinic_csv(bad, doses)
    with bad.open("a", encoding="utf-8", newline="") as h:
        row = clinic_csv.dose_cells(doses[0])
        row[clinic_csv.COLUMNS.index(clinic_csv.DAY)] = "令和7年13月1日"
        csv.writer(h, lineterminator="\r\n").writerow(row)
    page.set_input_files("#i-file", str(bad))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    refused = page.locator("[data-testid=import-refused]")
    assert "何も登録していません" in refused.inner_text()
    first = page.locator("[data-testid=import-problems] tbody tr").first.locator("td")
    assert [first.nth(0).inner_text(), first.nth(1).inner_text()] == ["4", "接種日"]
    page.screenshot(path=str(SHOTS / "dose-import-refused.png"), full_page=True)
    assert Dose.objects.count() == 2
