"""Property tests of the pure parts: the 年度 parser, the tax year in force and the decision rule."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from yobo.fees import rules
from yobo.fees.statusfile import TaxStatus, parse_year

statuses = st.sampled_from([None, TaxStatus.TAXABLE, TaxStatus.NON_TAXABLE, TaxStatus.UNDECLARED])
members = st.lists(st.builds(rules.MemberFacts, atena_no=st.from_regex(r"[0-9]{10}", fullmatch=True),
                             birth_date=st.dates(date(1920, 1, 1), date(2027, 12, 31)), tax_status=statuses,
                             welfare=st.booleans(), china_support=st.booleans()), min_size=1, max_size=6)


@given(st.integers(1989, 2200))
def test_year_forms_agree(y: int) -> None:
    assert parse_year(str(y)) == y
    if 2019 <= y <= 2100:
        assert parse_year(f"令和{y - 2018}") == parse_year(f"R{y - 2018}") == parse_year(f"令和{y - 2018}年度") == y
    if y <= 2019:
        assert parse_year(f"H{y - 1988}") == y


@given(st.dates(date(2000, 1, 1), date(2100, 12, 31)))
def test_tax_year_in_force(d: date) -> None:
    ty = rules.tax_year_for(d)
    assert ty in (d.year, d.year - 1) and (ty == d.year) == (d.month >= 6)


@given(members, st.integers(2020, 2027))
def test_decision_rule(ms: list[rules.MemberFacts], ty: int) -> None:
    out = rules.decide(ms, ty)
    assessed = [m for m in ms if m.birth_date <= date(ty, 1, 1)]
    if any(m.welfare or m.china_support for m in ms):
        assert out.result == rules.EXEMPT
        return
    statuses = {m.tax_status for m in assessed}
    if TaxStatus.TAXABLE in statuses or TaxStatus.UNDECLARED in statuses:
        assert (out.result, out.category) == (rules.NOT_EXEMPT, rules.GENERAL)
    elif None in statuses:
        assert out.result == rules.PENDING
        assert set(out.to_query) == {m.atena_no for m in assessed if m.tax_status is None}
    else:
        assert (out.result, out.category) == (rules.EXEMPT, rules.TAX_EXEMPT)
    assert len(out.basis) == len(ms)
