"""Money settings pages: integer yen only, before/after shown and logged, each page under its purpose."""

from __future__ import annotations

from typing import Any

from yobo.core.purposes import Duty


def _log(resource: str) -> list[Any]:
    from yobo.audit.models import AccessLogEntry

    return list(AccessLogEntry.objects.filter(resource=resource, operation="update").order_by("seq"))


def test_fee_amounts_before_after(logged_in: Any, make_staff: Any) -> None:
    from yobo.fees.models import FeeSetting

    c = logged_in(make_staff(duties=[Duty.PAYMENT]))
    menu = c.get("/fees/settings/").content.decode()
    assert 'href="/fees/settings/fees/"' in menu and 'href="/fees/settings/relief/"' not in menu  # no R01
    r = c.post("/fees/settings/fees/", {"fiscal_year": "２０２６", "vaccine": "FLU-B", "category": "general",
                                        "amount": "１,５００"}, follow=True)
    page = r.content.decode()
    assert "変更前: 未設定 → 変更後: 1,500円" in page and "1500円" in page
    r = c.post("/fees/settings/fees/", {"fiscal_year": "2026", "vaccine": "FLU-B", "category": "general",
                                        "amount": "1800"}, follow=True)
    assert "変更前: 1,500円 → 変更後: 1,800円" in r.content.decode()
    assert FeeSetting.objects.get().amount_yen == 1800
    assert [e.detail for e in _log("fees.setting")] == ["fee 2026 FLU-B general: - -> 1500",
                                                        "fee 2026 FLU-B general: 1500 -> 1800"]
    for bad in ("1500.5", "-3", "abc", "1e3"):
        r = c.post("/fees/settings/fees/", {"fiscal_year": "2026", "vaccine": "FLU-B", "category": "general",
                                            "amount": bad}, follow=True)
        assert "整数" in r.content.decode()
    assert FeeSetting.objects.get().amount_yen == 1800
    r = c.post("/fees/settings/fees/", {"fiscal_year": "26", "vaccine": "FLU-B", "category": "general",
                                        "amount": "1"}, follow=True)
    assert "西暦4桁" in r.content.decode()
    assert "2026" in c.get("/fees/settings/fees/?fy=2026").content.decode()


def test_unit_prices_and_accounts(logged_in: Any, make_staff: Any) -> None:
    from yobo.fees.tests.helpers import add_clinic

    add_clinic("1410000011", "みなと小児科")
    staff = make_staff(duties=[Duty.PAYMENT])
    c = logged_in(staff)
    r = c.post("/fees/settings/prices/", {"fiscal_year": "2026", "vaccine": "MR1", "amount": "11000",
                                          "screening": "3000"}, follow=True)
    page = r.content.decode()
    assert "変更前: 未設定 → 変更後: 単価 11,000円・予診料 3,000円" in page
    assert "11000円" in page and staff.username in page
    r = c.post("/fees/settings/prices/", {"fiscal_year": "2026", "vaccine": "MR1", "amount": "11500"}, follow=True)
    assert "変更前: 単価 11,000円・予診料 3,000円 → 変更後: 単価 11,500円・予診料 未設定" in r.content.decode()
    assert [e.detail for e in _log("fees.unit_price")][-1] == "unit price 2026 MR1: 11000/3000 -> 11500/None"
    page = c.get("/fees/settings/accounts/").content.decode()
    assert "みなと小児科" in page
    acct = {"clinic_code": "1410000011", "bank_code": "0009", "branch_code": "123", "account_type": "1",
            "account_no": "1234567", "holder_kana": "ミナトショウニカ"}
    r = c.post("/fees/settings/accounts/", acct, follow=True)
    assert "変更前: 未設定 → 変更後: 0009-123 普通 1234567 ミナトショウニカ" in r.content.decode()
    r = c.post("/fees/settings/accounts/", {**acct, "account_no": "7654321"}, follow=True)
    assert "変更前: 0009-123 普通 1234567" in r.content.decode()
    details = [e.detail for e in _log("fees.unit_price") if "account" in e.detail]
    assert details[-1] == "clinic account 1410000011: 0009-123 1 ****567 -> 0009-123 1 ****321"
    assert not any("1234567" in d or "ミナト" in d for d in details)  # masked, no holder name in the log
    r = c.post("/fees/settings/accounts/", {**acct, "bank_code": "9"}, follow=True)
    assert "金融機関コードは4桁" in r.content.decode()


def test_relief_amounts_need_r01(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff(duties=[Duty.PAYMENT]))
    assert c.get("/fees/settings/relief/").status_code == 403
    c.post("/logout/")
    c = logged_in(make_staff(duties=[Duty.RELIEF]))
    assert c.get("/fees/settings/fees/").status_code == 403
    r = c.post("/fees/settings/relief/", {"fiscal_year": "2026", "benefit": "disability", "grade": "１級",
                                          "unit": "year", "amount": "5,000,000"}, follow=True)
    page = r.content.decode()
    assert "障害年金 1級" in page and "変更前: 未設定 → 変更後: 年額 5,000,000円" in page
    assert "年額" in page and "5000000円" in page
    assert _log("relief.amount")[-1].detail == "amount 2026 disability 1級: - -> 5000000/year"
