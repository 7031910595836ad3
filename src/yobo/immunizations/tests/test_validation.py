"""Every validation rule, on the keyed path and the batch path, with the schedule engine."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from yobo.audit.models import AccessLogEntry
from yobo.immunizations import demo, selectors, services
from yobo.immunizations.services import DoseRejected

from .conftest import CLINIC, CLOSED_CLINIC, TODAY, dose

BABY, GIRL, MOVED, DEAD, ELDER, CHILD = ("1000000001", "1000000002", "1000000003", "1000000004", "1000000005",
                                         "1000000006")


def codes(ctx: Any, *inputs: Any) -> list[list[str]]:
    c = services.check_inputs(ctx, list(inputs))
    return [[p.code for p in c.problems.get(i, [])] for i in range(len(inputs))]


@pytest.mark.parametrize(("inp", "code"), [
    (dose("9999999999", "MR1", date(2026, 1, 20)), "unknown_person"),
    (dose(BABY, "MMR", date(2026, 1, 20)), "unknown_vaccine"),
    (dose(BABY, "MR1", TODAY + timedelta(days=1)), "future_date"),
    (dose(BABY, "BCG", date(2025, 1, 9)), "before_birth"),
    (dose(DEAD, "FLU-B", date(2025, 1, 21)), "deceased"),
    (dose(BABY, "MR1", date(2026, 1, 20), clinic_code="1410000000"), "unknown_clinic"),
    (dose(BABY, "MR1", date(2026, 1, 20), clinic_code="14-1"), "bad_clinic_code"),
    (dose(BABY, "MR1", date(2026, 1, 20), product_code="NOPE"), "unknown_product"),
    (dose(BABY, "MR1", date(2026, 1, 20), product_code="ACTHIB"), "product_vaccine_mismatch"),
    (dose(BABY, "MR1", date(2026, 1, 20), amount_ml="0,5"), "bad_amount"),
    (dose(BABY, "MR1", date(2026, 1, 20), claim_month="202613"), "bad_claim_month"),
    (dose(BABY, "MR1", date(2026, 1, 20), voucher_no="12345"), "bad_voucher"),
    (dose(BABY, "MR1", date(2026, 1, 20), 0), "bad_dose_number"),
])
def test_blocking_problems_refuse_the_keyed_form(city: Any, masters: Any, v01: Any, inp: Any, code: str) -> None:
    with pytest.raises(DoseRejected) as exc:
        services.record_dose(v01, inp)
    assert code in [p.code for p in exc.value.problems]
    assert all(p.message and " / " in p.message for p in exc.value.problems)
    assert selectors.doses_of(v01, [inp.atena_no])[inp.atena_no] == []


@pytest.mark.parametrize(("inp", "code"), [
    (dose(MOVED, "MR1", date(2025, 6, 1)), "moved_out"),
    (dose(BABY, "MR1", date(2026, 1, 20), clinic_code=CLOSED_CLINIC), "clinic_not_contracted"),
    (dose(BABY, "MR1", date(2026, 1, 20), lot_number="ZZ999"), "unknown_lot"),
    (dose(BABY, "MR1", date(2026, 1, 20), product_code="MR-BIKEN", lot_number=demo.lot_numbers("ACTHIB")[-1][0]),
     "lot_product_mismatch"),
    (dose(BABY, "MR1", date(2025, 6, 1)), "too_young"),  # 生後12月 before MR1
    (dose(CHILD, "MR1", date(2026, 1, 20)), "not_target"),  # 6 years old: MR1 window ended at 2
    (dose(GIRL, "MR1", date(2026, 1, 20)), "not_target"),
    (dose(ELDER, "HPV", date(2026, 1, 20)), "not_target"),  # HPV is for girls of 小6–高1
    (dose(BABY, "MR1", date(2026, 1, 20), 2), "dose_number_mismatch"),
])
def test_warnings_are_saved_and_kept(city: Any, masters: Any, v01: Any, inp: Any, code: str) -> None:
    r = services.record_dose(v01, inp)
    assert r.dose_id is not None
    assert code in [p.code for p in r.warnings]
    assert all(not p.blocking for p in r.warnings)
    stored = selectors.get_dose(v01, r.dose_id)
    assert code in [p["code"] for p in stored.problems]


def test_lot_expired(city: Any, masters: Any, v01: Any) -> None:
    lot, expiry = next((lot, e) for lot, e in demo.lot_numbers("MR-BIKEN") if date(2026, 1, 9) <= e < TODAY)
    r = services.record_dose(v01, dose(BABY, "MR1", expiry + timedelta(days=1), product_code="MR-BIKEN",
                                       lot_number=lot.lower()))
    assert "lot_expired" in [p.code for p in r.warnings]


def test_interval_too_short_and_dose_number_inferred(city: Any, masters: Any, v01: Any) -> None:
    first = services.record_dose(v01, dose(BABY, "HIB", date(2025, 3, 12)))
    assert first.dose_number == 1 and first.warnings == []
    soon = services.record_dose(v01, dose(BABY, "HIB", date(2025, 3, 30)))  # 18 days later: < 27日
    assert [p.code for p in soon.warnings] == ["too_soon"]
    ok = services.record_dose(v01, dose(BABY, "HIB", date(2025, 4, 20)))
    assert ok.warnings == [] and ok.dose_number == 2
    h = selectors.person_history(v01, BABY)
    by_date = {c.dose.date: c for c in h.doses}
    assert by_date[date(2025, 3, 30)].valid is False and by_date[date(2025, 3, 30)].reason == "too_soon"
    assert by_date[date(2025, 4, 20)].valid is True and by_date[date(2025, 4, 20)].counted_as == 2
    hib = next(s for s in h.series if s.vaccine == "HIB")
    assert hib.valid_doses == 2 and hib.dose == 4  # the 3rd primary dose is skipped after 12 months


def test_duplicate_same_record_is_unchanged_different_is_refused(city: Any, masters: Any, v01: Any) -> None:
    inp = dose(BABY, "MR1", date(2026, 1, 20), product_code="MR-BIKEN")
    services.record_dose(v01, inp)
    again = services.record_dose(v01, inp)
    assert again.unchanged and again.dose_id is None
    with pytest.raises(DoseRejected) as exc:
        services.record_dose(v01, dose(BABY, "MR1", date(2026, 1, 20), product_code="MR-TAKEDA"))
    assert [p.code for p in exc.value.problems] == ["duplicate"]


def test_five_in_one_counts_for_hib_series(city: Any, masters: Any, v01: Any) -> None:
    services.record_dose(v01, dose(BABY, "DPT-IPV-HIB", date(2025, 3, 12), product_code="GOBIK"))
    h = selectors.person_history(v01, BABY)
    hib = next(s for s in h.series if s.vaccine == "HIB")
    assert hib.valid_doses == 1


def test_screening_only_is_not_judged(city: Any, masters: Any, v01: Any) -> None:
    r = services.record_dose(v01, dose(BABY, "MR1", date(2026, 1, 20), screening_only=True,
                                       reason_not_vaccinated="発熱のため見合せ"))
    assert r.warnings == []
    h = selectors.person_history(v01, BABY)
    assert h.doses[0].valid is None and h.doses[0].dose.screening_only
    mr1 = next(s for s in h.series if s.vaccine == "MR1")
    assert mr1.valid_doses == 0


def test_ages_and_fiscal_year(city: Any, masters: Any, v01: Any) -> None:
    # Born 2025-01-10: attains 12 months on 2026-01-09 (the eve of the 応当日).
    r = services.record_dose(v01, dose(BABY, "MR1", date(2026, 1, 9)))
    d = selectors.get_dose(v01, r.dose_id or 0)
    assert (d.fiscal_year, d.age_years, d.age_months, d.age_fy_end) == (2025, 1, 0, 1)
    r2 = services.record_dose(v01, dose(BABY, "BCG", date(2026, 1, 8)))
    d2 = selectors.get_dose(v01, r2.dose_id or 0)
    assert (d2.age_years, d2.age_months) == (0, 11)


def test_keyed_dose_is_logged_with_the_person(city: Any, masters: Any, v01: Any) -> None:
    before = AccessLogEntry.objects.count()
    services.record_dose(v01, dose(BABY, "MR1", date(2026, 1, 20)))
    e = AccessLogEntry.objects.order_by("-seq").first() if hasattr(AccessLogEntry, "seq") else \
        AccessLogEntry.objects.order_by("-id").first()
    assert AccessLogEntry.objects.count() > before
    assert e is not None and e.target == BABY and e.purpose == "V01" and e.operation == "create"


def test_contractor_cannot_import(city: Any, masters: Any, make_ctx: Any) -> None:
    from yobo.core.errors import AccessDenied
    from yobo.core.purposes import Duty, Purpose

    ctx = make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CONTRACTOR_ENTRY], contractor=True)
    with pytest.raises(AccessDenied):
        services.record_batch(ctx, [dose(BABY, "MR1", date(2026, 1, 20))])


def test_clinic_master_contract_dates(city: Any, masters: Any) -> None:
    c = selectors.clinic(CLINIC)
    assert c is not None and c.contracted_on(date(2026, 1, 1))
    closed = selectors.clinic(CLOSED_CLINIC)
    assert closed is not None and not closed.contracted_on(date(2026, 1, 1))
    assert len(selectors.clinics(on=date(2026, 1, 1))) == len(selectors.clinics()) - 1
    assert {p.code for p in selectors.products("ROTA")} == {"RV1", "RV5"}


def test_a_my_number_keyed_as_atena_is_masked_in_messages(city: Any, masters: Any, v01: Any) -> None:
    import random

    from yobo.mynumber import checkdigit

    number = checkdigit.generate(random.Random(5))
    with pytest.raises(DoseRejected) as exc:
        services.record_dose(v01, dose(number, "MR1", date(2026, 1, 20)))
    text = str(exc.value) + " ".join(p.message for p in exc.value.problems)
    assert number not in text and "unknown_person" in text


def test_ledger_dose_before_a_corrected_birth_date_does_not_break_the_batch(
        city: Any, masters: Any, v01: Any) -> None:
    from yobo.people.models import Person

    services.record_dose(v01, dose(CHILD, "JE1", date(2022, 6, 1)))
    Person.objects.filter(atena_no=CHILD).update(birth_date=date(2022, 7, 1))  # the register corrected it
    r = services.record_dose(v01, dose(CHILD, "MR1", date(2023, 7, 5)))
    assert r.dose_id is not None


def test_a_form_reads_only_the_masters_it_names_with_the_same_verdict(city: Any, masters: Any, v02: Any) -> None:
    """``load_masters(codes)`` (a keyed form, a small batch) must judge exactly as the full masters do:
    known, unknown and closed clinics, products of another vaccine, lots of another product, lower-case
    and expired lots, empty cells."""
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings
    from hypothesis import strategies as st

    from yobo.immunizations import store, validation

    prods = demo.products()
    lots = demo.lots()
    full = store.load_masters()
    persons = store.load_persons(v02, [p.atena_no for p in city.values()])
    ledger = store.load_ledger([p.atena_no for p in city.values()])
    clinic = st.sampled_from([CLINIC, CLOSED_CLINIC, "1499999999", "12345", ""])
    product = st.sampled_from([p.code for p in prods] + ["NOPE", ""])
    lot = st.sampled_from([x.lot_number for x in lots] + [x.lot_number.lower() for x in lots[:5]] + ["ZZ999", ""])
    vaccine = st.sampled_from(sorted({v for p in prods for v in p.vaccines}))
    form = st.builds(lambda a, v, c, p, lo, d: dose(a, v, TODAY - timedelta(days=d), clinic_code=c,
                                                    product_code=p, lot_number=lo),
                     st.sampled_from([p.atena_no for p in city.values()]), vaccine, clinic, product, lot,
                     st.integers(0, 400))

    @hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(form, min_size=1, max_size=6))
    def same(inputs: list[Any]) -> None:
        named = store.load_masters(([x.clinic_code for x in inputs], [x.product_code for x in inputs],
                                    [x.lot_number for x in inputs]))
        assert len(named.clinics) <= len(inputs) < len(full.clinics)
        a = validation.validate(inputs, persons, ledger, full, TODAY)
        b = validation.validate(inputs, persons, ledger, named, TODAY)
        assert a.outcome.tolist() == b.outcome.tolist()
        assert {k: [p.as_dict() for p in v] for k, v in a.problems.items()} == \
            {k: [p.as_dict() for p in v] for k, v in b.problems.items()}

    same()
