"""Resident search in a real browser: half-width kana, keyboard to the result, the person page, and
the access log showing both the search and the view with their purpose (P02)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from yobo.core.purposes import Operation, Purpose

from .test_login import _focus, _login, enrolled  # noqa: F401  (the fixture is used by name)

SHOTS = Path(os.environ.get("YOBO_SCREENSHOT_DIR") or "/tmp/h7")  # noqa: S108


def _city(make_ctx: Any) -> None:
    from yobo.people import protection
    from yobo.people.models import PersonHistory
    from yobo.people.tests.test_registry_staff import add_person

    add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(1985, 4, 1), household="2000000001",
               relationship="世帯主")
    add_person("1000000002", "山田　花子", "ヤマダ　ハナコ", date(1987, 6, 15), household="2000000001",
               relationship="妻", sex=2)
    add_person("1000000003", "山田　葵", "ヤマダ　アオイ", date(2020, 11, 3), household="2000000003",
               relationship="子", sex=2, address="横浜市西区みなとみらい3丁目5番地")
    add_person("1000000004", "小山田　健", "コヤマダ　ケン", date(1950, 1, 2), household="2000000004",
               address="横浜市港北区日吉本町10番地の2", status=3)
    add_person("1000000005", "佐藤　一郎", "サトウ　イチロウ", date(2019, 5, 1), household="2000000005")
    from django.conf import settings
    from django.utils import timezone

    PersonHistory.objects.create(municipality=settings.MUNICIPALITY_CODE, atena_no="1000000001",
                                 changed_at=timezone.now(), kind="updated",
                                 changes={"phone": ["045-111-1111", "045-000-0000"]}, status=1)
    # 山田葵 is under a support measure: her address is masked for staff without the right.
    rid = protection.request_change(make_ctx(Purpose.PROTECTION_MEASURE), "1000000003", "set")
    protection.confirm(make_ctx(Purpose.PROTECTION_MEASURE), rid)


def test_search_by_halfwidth_kana_and_open_the_person_page(
        page: Any, enrolled: dict[str, Any], make_ctx: Any) -> None:  # noqa: F811
    from yobo.audit.models import AccessLogEntry

    _city(make_ctx)
    SHOTS.mkdir(parents=True, exist_ok=True)
    _login(page, enrolled)
    page.click("text=対象者の照会")  # the home menu chooses the purpose
    page.wait_for_url("**/people/?purpose=P02")
    _focus(page, "name", "name")  # focus in the search box
    assert page.locator("#id_purpose").input_value() == "P02"
    page.keyboard.type("ﾔﾏﾀﾞ")
    page.keyboard.press("Enter")
    results = page.locator("[data-testid=search-results] tbody tr")
    results.first.wait_for()
    texts = results.all_inner_texts()
    # ヤマダ… by kana order, then コヤマダ (a match inside the name)
    assert len(texts) == 4 and "山田　葵" in texts[0] and "山田　太郎" in texts[1] and "コヤマダ" in texts[3]
    assert "支援措置対象：住所非表示" in texts[0] and "みなとみらい" not in page.content()
    assert "昭和60年4月1日" in texts[1]
    page.screenshot(path=str(SHOTS / "people-search.png"), full_page=True)

    page.keyboard.press("ArrowDown")  # from the search box to the first result, then the second
    assert page.evaluate("document.activeElement.textContent") == "1000000003"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent") == "1000000001"
    page.keyboard.press("Enter")
    page.wait_for_url("**/people/1000000001/")
    assert "山田　太郎" in page.locator("[data-testid=person-name]").inner_text()
    assert "山田　花子" in page.content()  # household
    page.screenshot(path=str(SHOTS / "people-person.png"), full_page=True)

    staff = enrolled["staff"].username
    searches = AccessLogEntry.objects.filter(staff=staff, operation=Operation.SEARCH, resource="people.person")
    assert set(searches.values_list("target", flat=True)) == {"1000000001", "1000000002", "1000000003",
                                                              "1000000004"}
    assert set(searches.values_list("purpose", flat=True)) == {Purpose.PERSON_INQUIRY.value}
    read = AccessLogEntry.objects.filter(staff=staff, operation=Operation.READ, target="1000000001",
                                         detail="person page").get()
    assert read.purpose == Purpose.PERSON_INQUIRY.value and read.terminal == "madoguchi-01"

    # the protected person's page shows the mask to this administrator (no address right)
    page.goto(enrolled["url"] + "/people/1000000003/")
    assert page.locator("[data-testid=masked]").is_visible()
    assert "みなとみらい" not in page.content()
    page.screenshot(path=str(SHOTS / "people-protected.png"), full_page=True)


def test_search_by_an_address_written_as_forms_write_it(
        page: Any, enrolled: dict[str, Any], make_ctx: Any) -> None:  # noqa: F811
    """The register writes 日吉本町10番地の2; staff type 日吉本町１０－２ from the form (full-width,
    with a dash) and Tab to the address box. A protected person is not found by address."""
    _city(make_ctx)
    _login(page, enrolled)
    page.goto(enrolled["url"] + "/people/?purpose=P02")
    _focus(page, "name", "name")
    page.keyboard.press("Tab")  # name → birth date
    page.keyboard.press("Tab")  # → address
    assert page.evaluate("document.activeElement.name") == "address"
    page.keyboard.type("日吉本町１０－２")
    page.keyboard.press("Enter")
    results = page.locator("[data-testid=search-results] tbody tr")
    results.first.wait_for()
    texts = results.all_inner_texts()
    assert len(texts) == 1 and "小山田　健" in texts[0] and "日吉本町10番地の2" in texts[0]
    page.fill("#id_address", "みなとみらい3-5")  # 山田葵's block: she is under a support measure
    page.keyboard.press("Enter")
    page.wait_for_selector("text=見つかりませんでした")
    assert "山田　葵" not in page.content()
