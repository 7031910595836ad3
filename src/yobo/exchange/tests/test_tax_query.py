"""The resident-tax query fees needs (地方税関係情報, decision 083): fees' pending query goes out through
the exchange to the city the household came from, that city answers from its imported tax status
through the fees provider registered at app ready, and the answer decides the application again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yobo.core.purposes import Purpose
from yobo.exchange import registry, services
from yobo.exchange.hub.app import Hub
from yobo.exchange.items import RESIDENT_TAX, TAX_CLAUSE
from yobo.exchange.ledger import OriginalDose
from yobo.exchange.models import Provision, Query
from yobo.fees import selectors as fees_selectors
from yobo.fees import services as fees

from .conftest import CITY_A, CITY_B

pytestmark = pytest.mark.django_db


@pytest.fixture
def tax_hub(hub: Hub) -> Hub:
    hub.load_permissions({"permissions": [
        {"asker": CITY_B, "provider": "*", "item_set": RESIDENT_TAX.code, "clause": TAX_CLAUSE}]}, replace=False)
    return hub


def _moved(city: Callable[[str], None], admin_ctx: Callable[..., Any], resident: Callable[..., str],
           number: str, tmp_path: Path, tax_status: int | None) -> None:
    """A person of A (with A's tax record of 2026 when given) who moved to B, queried once for doses."""
    city(CITY_A)
    resident("100001", number, admin_ctx())
    services.register_copies(admin_ctx(Purpose.COPY_REGISTRATION),
                             originals=[OriginalDose("100001", "BCG", 1, date(2020, 9, 1))])
    if tax_status is not None:
        f = tmp_path / "status.csv"
        f.write_text(f"宛名番号,種別,年度,課税区分,開始日,終了日\n100001,1,2026,{tax_status},,\n", encoding="utf-8")
        fees.import_status(admin_ctx(Purpose.FEE_EXEMPTION), f)
    city(CITY_B)
    resident("900001", number, admin_ctx())
    services.send_query(admin_ctx(), "900001", CITY_A)
    city(CITY_A)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    city(CITY_B)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))


def test_fees_tax_query_is_sent_answered_from_fees_and_applied(
    tax_hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any], resident: Callable[..., str],
    new_number: Callable[[], str], tmp_path: Path, django_capture_on_commit_callbacks: Any,
) -> None:
    assert registry.provider(RESIDENT_TAX.code) is fees_selectors.tax_status_for_exchange  # fees' ready()
    _moved(city, admin_ctx, resident, new_number(), tmp_path, tax_status=2)
    f01 = admin_ctx(Purpose.FEE_EXEMPTION)
    with django_capture_on_commit_callbacks(execute=True):
        did = fees.check_exemption(f01, "900001", "MR1", date(2026, 7, 1))
    d = fees_selectors.decision(f01, did)
    [tq] = d.queries
    assert d.result == "pending" and tq.state == "sent" and tq.exchange_ref
    q = Query.objects.get(query_id=tq.exchange_ref)
    assert (q.provider, q.item_set, q.params, q.state) == (CITY_A, RESIDENT_TAX.code, {"tax_year": 2026}, "sent")
    city(CITY_A)
    assert services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION)).answered == 1
    p = Provision.objects.get(municipality=CITY_A, item_set=RESIDENT_TAX.code)
    assert (p.atena_no, p.state, p.answer, p.clause) == ("100001", "sent", [{"tax_year": "2026", "tax_status": "2"}],
                                                          TAX_CLAUSE)
    city(CITY_B)
    assert services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION)).results == 1
    d = fees_selectors.decision(f01, did)
    assert (d.result, d.category) == ("exempt", "tax_exempt")
    assert d.queries[0].state == "answered" and d.queries[0].answer_status == 2
    assert {b["atena_no"]: b["tax_status"] for b in d.basis} == {"900001": "非課税"}


def test_no_tax_record_releases_nothing_and_the_query_stays_for_staff(
    tax_hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any], resident: Callable[..., str],
    new_number: Callable[[], str], tmp_path: Path, django_capture_on_commit_callbacks: Any,
) -> None:
    _moved(city, admin_ctx, resident, new_number(), tmp_path, tax_status=None)
    f01 = admin_ctx(Purpose.FEE_EXEMPTION)
    with django_capture_on_commit_callbacks(execute=True):
        did = fees.check_exemption(f01, "900001", "MR1", date(2026, 7, 1))
    city(CITY_A)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    p = Provision.objects.get(municipality=CITY_A, item_set=RESIDENT_TAX.code)
    assert (p.state, p.answer, p.atena_no) == ("not_found", None, "")
    city(CITY_B)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    d = fees_selectors.decision(f01, did)
    assert d.result == "pending" and d.queries[0].state == "sent"
    assert Query.objects.get(query_id=d.queries[0].exchange_ref).state == "not_found"


def test_without_a_known_previous_city_the_fee_query_stays_pending(
    tax_hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any], resident: Callable[..., str],
    new_number: Callable[[], str],
) -> None:
    city(CITY_B)
    resident("900002", new_number(), admin_ctx())
    f01 = admin_ctx(Purpose.FEE_EXEMPTION)
    d = fees_selectors.decision(f01, fees.check_exemption(f01, "900002", "MR1", date(2026, 7, 1)))
    assert [q.state for q in d.queries] == ["pending"] and not Query.objects.filter(atena_no="900002").exists()
    with pytest.raises(services.ExchangeRejected):
        services.send_query(admin_ctx(), "900002", CITY_A, RESIDENT_TAX.code)  # no tax_year
