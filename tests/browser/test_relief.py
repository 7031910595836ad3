"""A relief claim through every state in a real browser: reception checked against the dose record,
committee, forwarding with the minutes, the ministry's decision, notice, payment; the access log
shows the claim's reads under purpose R01."""

from __future__ import annotations

from datetime import date
from typing import Any

from .test_login import SHOTS, _focus, _login, enrolled  # noqa: F401  (the fixture is used by name)


def test_relief_claim_through_every_state(page: Any, enrolled: dict[str, Any]) -> None:  # noqa: F811
    from yobo.audit.models import AccessLogEntry
    from yobo.fees.tests.helpers import add_dose
    from yobo.people.tests.test_registry_staff import add_person

    child = add_person("1000000101", "川口　陽太", "カワグチ　ヨウタ", date(2024, 5, 1), household="2000000101")
    add_dose(child, "MR1", date(2025, 5, 20))
    SHOTS.mkdir(parents=True, exist_ok=True)
    _login(page, enrolled)
    page.goto(enrolled["url"] + "/relief/")
    assert "進捗一覧" in page.locator("h1").inner_text()
    page.click("[data-testid=new-claim]")
    page.wait_for_url("**/relief/new/")
    _focus(page, "name", "atena")
    page.keyboard.type("1000000101")
    page.select_option("#benefit", "medical")
    page.fill("#applicant", "川口　花子")
    page.fill("#relation", "母")
    page.select_option("#vaccine1", "MR1")
    page.fill("#vdate1", "令和7年5月20日")
    page.fill("#received_on", "2026-04-10")
    page.screenshot(path=str(SHOTS / "relief-new.png"), full_page=True)
    page.click("text=受理する")
    page.wait_for_url("**/relief/*/")
    state = page.locator("[data-testid=claim-state]")
    assert state.inner_text() == "受理"

    steps = [
        ("committee", "2026-05-01", "第3回調査会に付議", "", "調査会審議中"),
        ("forwarded", "2026-05-20", "議事要旨: 因果関係を否定できないとして進達", "", "厚生労働省へ進達済"),
        ("approved", "2026-09-01", "疾病・障害認定審査会の審議により認定", "52300", "認定"),
        ("notified", "2026-09-08", "認定通知書を送付", "", "申請者へ通知済"),
    ]
    for to, on, note, amount, label in steps:
        page.select_option("#state", to)
        page.fill("#on", on)
        page.fill("#note", note)
        if amount:
            page.fill("#amount", amount)
        page.click("[data-testid=move-form] button[type=submit]")
        page.wait_for_load_state()
        assert state.inner_text() == label, page.locator(".messages").all_inner_texts()
    page.fill("#paid_on", "2026-09-30")
    page.fill("#pay_amount", "52300")
    page.click("[data-testid=pay-form] button[type=submit]")
    page.wait_for_load_state()
    assert state.inner_text() == "支給済"
    events = page.locator("[data-testid=events] tbody tr").all_inner_texts()
    assert len(events) == 6 and "因果関係" in events[2]
    page.screenshot(path=str(SHOTS / "relief-detail.png"), full_page=True)
    page.goto(enrolled["url"] + "/relief/?all=1")
    assert "支給済" in page.locator("[data-testid=relief-list]").inner_text()

    staff = enrolled["staff"].username
    reads = AccessLogEntry.objects.filter(staff=staff, resource="relief.claim", target="1000000101")
    assert set(reads.values_list("purpose", flat=True)) == {"R01"}
    assert reads.filter(operation="update").count() == 5 and reads.filter(operation="read").exists()
