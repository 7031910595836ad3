"""VRS error list in a real browser: open the run, the first open line has focus, resolve it by
keyboard only (accept VRS), land on the next open line; the resolution is in the ledger and the log."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from yobo.core.purposes import Duty, Purpose

from .test_login import _focus, _login, enrolled  # noqa: F401  (the fixture is used by name)

SHOTS = Path(os.environ.get("YOBO_SCREENSHOT_DIR") or "/tmp/h7")  # noqa: S108


def _run(make_ctx: Any, tmp_path: Path) -> int:
    from yobo.immunizations import matching, services
    from yobo.immunizations.formats import vrs_csv
    from yobo.immunizations.inputs import DoseInput, Source
    from yobo.immunizations.tests.conftest import CLINIC, add_person

    services.load_demo_masters(make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK]))
    add_person("3000000001", date(1950, 2, 1))
    add_person("3000000002", date(1951, 3, 1))
    services.record_batch(make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK]), [
        DoseInput(atena_no="3000000002", vaccine="COVID-B", date=date(2025, 10, 16), dose_number=1,
                  clinic_code=CLINIC, lot_number="L2", source=Source.CLINIC_CSV)], file_name="ledger")
    vrs = [DoseInput(atena_no="3000000001", vaccine="COVID-B", date=date(2025, 10, 20), dose_number=1,
                     lot_number="L4", venue="市民会館", source=Source.VRS),
           DoseInput(atena_no="3000000002", vaccine="COVID-B", date=date(2025, 10, 17), dose_number=1,
                     lot_number="L2", source=Source.VRS)]
    f = tmp_path / "vrs.csv"
    vrs_csv.write_vrs_csv(f, vrs_csv.group_by_person(vrs), doses=1)
    return matching.match_file(make_ctx(Purpose.VRS_MATCHING, duties=[Duty.CLERK]), f).id


def test_resolve_a_line_by_keyboard(page: Any, enrolled: dict[str, Any], make_ctx: Any,  # noqa: F811
                                    tmp_path: Path) -> None:
    from yobo.audit.models import AccessLogEntry
    from yobo.immunizations.models import Dose

    run_id = _run(make_ctx, tmp_path)
    SHOTS.mkdir(parents=True, exist_ok=True)
    _login(page, enrolled)
    page.click("text=VRSデータとの照合")
    page.wait_for_url("**/doses/vrs/")
    page.click(f"a[href='/doses/vrs/{run_id}/']")
    rows = page.locator("[data-testid=vrs-lines] tbody tr")
    assert rows.count() == 2
    # The first open line has focus.
    page.wait_for_function("(document.activeElement.getAttribute('href') || '').includes('/doses/vrs/line/')",
                           timeout=5000)
    page.keyboard.press("Enter")  # open it
    page.wait_for_url("**/doses/vrs/line/**")
    atena = page.locator("[data-testid=line-atena]").inner_text()
    _focus(page, "value", "accept_vrs")
    page.screenshot(path=str(SHOTS / "vrs-line.png"), full_page=True)
    page.keyboard.press("Tab")  # to the corrected date
    page.keyboard.press("Tab")  # lot
    page.keyboard.press("Tab")  # dose
    page.keyboard.press("Tab")  # note
    page.keyboard.type("VRSの記録を採用")
    # The next line's URL matches the same pattern: wait for the navigation itself, not the URL.
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("[data-testid=line-atena]").inner_text() != atena  # the next open line
    assert "処理しました" in page.locator(".messages").inner_text()
    assert Dose.objects.filter(atena_no=atena, source="vrs", state="active").exists() or Dose.objects.filter(
        atena_no=atena, state="superseded").exists()
    assert AccessLogEntry.objects.filter(resource="immunizations.vrs_line", target=atena, purpose="V03",
                                         result="ok").exists()
    page.goto(enrolled["url"] + f"/doses/vrs/{run_id}/")
    assert "VRSを採用" in page.locator("[data-testid=vrs-lines]").inner_text()
