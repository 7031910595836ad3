"""Clinic payments: a month of synthetic doses for several clinics, claims that exclude exactly the
planted invalid doses (each with its reason), approval by a second person, the transfer file whose
total equals the statements, and re-runs that never pay twice."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from yobo.core.errors import InputRejected
from yobo.core.purposes import Duty, Purpose
from yobo.fees import payments

from .helpers import add_clinic, add_dose

CLINICS = {"1410000011": "みなと小児科", "1410000029": "こうほく内科", "1410000037": "あおば医院"}
PRICES = {"MR1": 11_000, "HIB": 8_500, "PCV": 10_200, "DT": 6_000}


@pytest.fixture
def staff(make_staff: Any, make_ctx: Any) -> tuple[Any, Any]:
    a = make_ctx(Purpose.CLINIC_PAYMENT, staff=make_staff(duties=[Duty.PAYMENT]))
    b = make_ctx(Purpose.CLINIC_PAYMENT, staff=make_staff(duties=[Duty.PAYMENT]))
    return a, b


def _month(staff: Any) -> dict[str, Any]:
    """A claim month (202610) of valid doses, plus one planted dose for every exclusion reason."""
    from yobo.people.tests.test_registry_staff import add_person

    a, _ = staff
    for code, name in CLINICS.items():
        add_clinic(code, name)
    add_clinic("1410000045", "閉院クリニック", until=date(2026, 9, 30))
    for v, yen in PRICES.items():
        payments.set_unit_price(a, 2026, v, yen, screening_yen=2_000 if v == "MR1" else None)
    for code in CLINICS:
        payments.set_account(a, code, "0138", "123", "1", "1234567", "ｲﾘﾖｳﾎｳｼﾞﾝ")
    rnd = random.Random(10)
    valid: list[Any] = []
    for i in range(60):
        p = add_person(f"30000{i:05d}", f"試験　{i}", "シケン", date(2025, 1, 1) + timedelta(days=i),
                       household=f"40000{i:05d}")
        v = rnd.choice(["MR1", "HIB", "PCV"])
        valid.append(add_dose(p, v, date(2026, 9, 1) + timedelta(days=i % 28), clinic=rnd.choice(list(CLINICS)),
                              claim_month="202610"))
    planted: dict[str, Any] = {}
    x = [add_person(f"39000{i:05d}", f"除外　{i}", "ジョガイ", date(2025, 2, 1), household=f"49000{i:05d}",
                    status=1 if i != 3 else 2) for i in range(10)]
    from yobo.people.models import Person

    Person.objects.filter(pk=x[3].pk).update(status_date=date(2026, 8, 31))  # moved out before the dose
    planted["voluntary"] = add_dose(x[0], "MR1", date(2026, 9, 2), claim_month="202610")
    planted["voluntary"].category = "voluntary"
    planted["voluntary"].save()
    planted["clinic_unknown"] = add_dose(x[1], "MR1", date(2026, 9, 2), clinic="1499999999", claim_month="202610")
    planted["clinic_not_contracted"] = add_dose(x[2], "MR1", date(2026, 10, 1), clinic="1410000045",
                                                claim_month="202610")
    planted["not_resident"] = add_dose(x[3], "MR1", date(2026, 9, 5), claim_month="202610")
    planted["schedule_invalid"] = add_dose(x[4], "HIB", date(2026, 9, 5), claim_month="202610", problems=[
        {"code": "too_soon", "severity": "warning", "message": "前回接種からの間隔が不足しています"}])
    add_dose(x[5], "PCV", date(2026, 8, 1), claim_month="202609")  # 1st dose claimed last month (not paid)
    planted["duplicate"] = add_dose(x[5], "PCV", date(2026, 9, 6), claim_month="202610", dose_number=1)
    planted["no_unit_price"] = add_dose(x[6], "VAR", date(2026, 9, 7), claim_month="202610")
    screening = add_dose(x[7], "MR1", date(2026, 9, 8), claim_month="202610", screening_only=True, dose_number=None)
    planted["no_unit_price_screening"] = add_dose(x[8], "HIB", date(2026, 9, 8), claim_month="202610",
                                                  screening_only=True, dose_number=None)
    add_dose(x[9], "MR1", date(2026, 9, 9), claim_month="202610", state="superseded")  # never claimed
    return {"valid": [*valid, screening], "planted": planted}


def _lines() -> list[Any]:
    from yobo.fees.models import ClaimLine

    return list(ClaimLine.objects.all())


def test_a_month_end_to_end(staff: Any, tmp_path: Path) -> None:
    a, b = staff
    month = _month(staff)
    s = payments.build_claims(a, "2026-10")
    lines = _lines()
    excluded = {ln.dose_id: ln.reason for ln in lines if not ln.included}
    expected = {d.pk: r.removesuffix("_screening") for r, d in month["planted"].items()}
    assert excluded == expected  # exactly the planted doses, each with its reason
    assert {ln.dose_id for ln in lines if ln.included} == {d.pk for d in month["valid"]}
    expected_total = sum(PRICES[d.vaccine] if not d.screening_only else 2_000 for d in month["valid"])
    assert s.total_yen == expected_total and s.included == len(month["valid"])
    assert s.unknown_clinics == ["1499999999"]
    # The doses and the register were read through their apps' selectors: one BATCH entry each, F02.
    from yobo.audit.models import AccessLogEntry

    reads = dict(AccessLogEntry.objects.filter(purpose="F02", operation="batch").exclude(resource="fees.clinic_claim")
                 .values_list("resource", "detail"))
    assert set(reads) == {"immunizations.dose", "people.person"}
    assert f"doses={len(lines)}" in reads["immunizations.dose"]

    # Re-running the month changes nothing.
    again = payments.build_claims(a, "202610")
    assert again.as_json() == s.as_json() and len(_lines()) == len(lines)

    from yobo.fees.models import ClinicClaim

    claims = {c.clinic_code: c for c in ClinicClaim.objects.filter(claim_month="202610")}
    with pytest.raises(InputRejected, match="別の職員"):
        payments.approve(a, claims["1410000011"].pk)
    with pytest.raises(InputRejected, match="登録されていません"):
        payments.approve(b, claims["1499999999"].pk)
    for code in CLINICS:
        payments.approve(b, claims[code].pk)
    approved_total = sum(claims[c].total_yen for c in CLINICS)
    with pytest.raises(InputRejected, match="登録されていません"):  # no account for an unknown clinic
        payments.set_account(a, "1499999999", "0138", "123", "1", "1", "ｱ")

    res = payments.pay(b, "202610", date(2026, 11, 20), tmp_path)
    with open(res.transfer, encoding="cp932", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and sum(int(r["振込金額"]) for r in rows) == res.total_yen == approved_total
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(res.statements).pages)
    import re

    statement_totals = [int(t.replace(",", "")) for t in re.findall(r"支払額 ([\d,]+)円", text)]
    assert sum(statement_totals) == res.total_yen
    assert "単価が設定されていない" in text or "みなと小児科" in text

    # A dose arriving late for the paid month makes a supplementary claim; the paid ones never come back.
    late_person = month["planted"]["no_unit_price"]
    from yobo.people.models import Person

    p = Person.objects.get(atena_no=late_person.atena_no)
    late = add_dose(p, "MR1", date(2026, 9, 29), claim_month="202610", clinic="1410000011")
    s3 = payments.build_claims(a, "202610")
    new = ClinicClaim.objects.get(claim_month="202610", clinic_code="1410000011", state="draft")
    assert new.seq == 2 and new.included == 1 and new.total_yen == PRICES["MR1"]
    assert s3.included == 1  # the other open claims (unknown / not contracted clinics) have nothing to pay
    from yobo.fees.models import ClaimLine

    assert ClaimLine.objects.filter(dose_id=late.pk, included=True).count() == 1
    paid_ids = set(ClaimLine.objects.filter(claim__state="paid", included=True).values_list("dose_id", flat=True))
    assert not paid_ids & set(ClaimLine.objects.filter(claim__state="draft").values_list("dose_id", flat=True))


def test_a_corrected_record_of_a_paid_dose_is_not_paid_again(staff: Any, tmp_path: Path) -> None:
    from yobo.people.tests.test_registry_staff import add_person

    a, b = staff
    add_clinic("1410000011", "みなと小児科")
    payments.set_unit_price(a, 2026, "MR1", 11_000)
    payments.set_account(a, "1410000011", "0138", "123", "1", "7654321", "ﾐﾅﾄｼﾖｳﾆｶ")
    p = add_person("3100000001", "訂正　太郎", "テイセイ", date(2025, 3, 1))
    d = add_dose(p, "MR1", date(2026, 9, 1), claim_month="202610")
    payments.build_claims(a, "202610")
    from yobo.fees.models import ClinicClaim

    payments.approve(b, ClinicClaim.objects.get().pk)
    payments.pay(b, "202610", date(2026, 11, 20), tmp_path)
    # The record is corrected (a new record replaces it, e.g. the lot number) and claimed again.
    d.state = "superseded"
    d.save()
    add_dose(p, "MR1", date(2026, 9, 1), claim_month="202611")
    s = payments.build_claims(a, "202611")
    assert (s.included, s.reasons) == (0, {"already_paid": 1})


def test_bad_month_and_unpaid_month(staff: Any, tmp_path: Path) -> None:
    a, _ = staff
    with pytest.raises(InputRejected):
        payments.build_claims(a, "202613")
    with pytest.raises(InputRejected, match="承認済みの請求がありません"):
        payments.pay(a, "202610", date(2026, 11, 20), tmp_path)
