"""Reviewing what a complete snapshot left, keyboard only: from the home menu to the batch, a note and
Enter per absent person, the cursor moving on to the next; a number-like note refused."""

from __future__ import annotations

from datetime import date
from typing import Any

from yobo.core.purposes import Operation

from .test_login import _focus, _login, enrolled  # noqa: F401  (the fixture is used by name)


def test_review_absent_persons_by_keyboard(page: Any, enrolled: dict[str, Any]) -> None:  # noqa: F811
    from django.conf import settings
    from django.utils import timezone

    from yobo.audit.models import AccessLogEntry
    from yobo.people.models import BatchAbsence, ImportBatch
    from yobo.people.tests.test_registry_staff import add_person

    add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(1985, 4, 1))
    add_person("1000000002", "佐藤　花子", "サトウ　ハナコ", date(1990, 2, 3), sex=2)
    m = settings.MUNICIPALITY_CODE
    b = ImportBatch.objects.create(municipality=m, status="applied", mode="full", file_name="juki-20261124.csv",
                                   file_sha256="0" * 64, operator=enrolled["staff"], terminal="batch-01",
                                   started_at=timezone.now(), finished_at=timezone.now(), rows_read=98, absent=2)
    for a in ("1000000001", "1000000002"):
        BatchAbsence.objects.create(batch=b, municipality=m, atena_no=a, status=1)

    _login(page, enrolled)
    page.click("text=住民記録の連携")
    page.wait_for_url("**/people/batches/")
    assert "未確認 2" in page.locator("[data-testid=batches]").inner_text()
    page.click(f"a[href='/people/batches/{b.pk}/']")
    page.wait_for_url(f"**/people/batches/{b.pk}/")
    _focus(page, "id", "note-1000000001")  # the cursor waits in the first open row
    page.keyboard.type("住記担当に確認、職権消除済み")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/people/batches/{b.pk}/")
    _focus(page, "id", "note-1000000002")  # and moves on to the next one
    assert page.locator("[data-testid=open-count]").inner_text() == "1"
    page.keyboard.type("マイナンバー１２３４５６７８９０１２")  # full-width digits are digits too
    page.keyboard.press("Enter")
    page.locator("text=12桁以上の数字は書けません").wait_for()
    assert page.locator("[data-testid=open-count]").inner_text() == "1"

    rows = dict(BatchAbsence.objects.filter(batch=b).values_list("atena_no", "review_note"))
    assert rows == {"1000000001": "住記担当に確認、職権消除済み", "1000000002": ""}
    mark = AccessLogEntry.objects.get(operation=Operation.UPDATE, target="1000000001")
    assert (mark.purpose, mark.staff) == ("P01", enrolled["staff"].username)
