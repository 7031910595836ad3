"""The exemption rule (実費徴収の免除判定), pure: household facts in, decision out.

Yokohama's flow (seed 004, 実費徴収の有無の確認): the household members and their tax information
are checked; when the city holds no tax record of 1 January of the year for someone (they lived
elsewhere then), the other municipality is queried through the intermediary server.

The rule, in order (decision 120):

1. any member receives 生活保護 on the application date → exempt (生活保護受給者);
2. any member receives 中国残留邦人等支援給付 → exempt;
3. the resident tax of the 年度 in force (``tax_year_for``): members born after 1 January of that
   year are left out (nobody was assessed for them); then
   - a member 課税 → not exempt;
   - a member 未申告 → not exempt (the household must declare first; the reason says so);
   - a member with no record → pending: a query goes to the municipality of 1 January;
   - every member 非課税 → exempt (住民税非課税世帯).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .statusfile import TAX_LABELS, TaxStatus

EXEMPT, NOT_EXEMPT, PENDING = "exempt", "not_exempt", "pending"
GENERAL, TAX_EXEMPT, WELFARE, CHINA_SUPPORT = "general", "tax_exempt", "welfare", "china_support"
TAX_YEAR_START_MONTH = 6  # the new 年度's assessment is known from June (住民税の当初課税)


def tax_year_for(d: date) -> int:
    """The resident-tax 年度 whose status applies on ``d``: from June of year N to May of N+1, 年度 N
    (assessed on the residents of 1 January N)."""
    return d.year if d.month >= TAX_YEAR_START_MONTH else d.year - 1


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What is known of one household member for the decision."""

    atena_no: str
    birth_date: date
    relationship: str = ""
    tax_status: TaxStatus | None = None  # None: no record of the 年度
    tax_source: str = ""  # "import" (this city) or "exchange" (another municipality's answer)
    welfare: bool = False
    china_support: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    result: str
    category: str
    reason: str
    to_query: tuple[str, ...] = ()  # 宛名番号 of members whose tax record must be queried
    basis: list[dict[str, object]] = field(default_factory=list)


def decide(members: list[MemberFacts], tax_year: int) -> Outcome:
    """The decision for a household (see the module docstring)."""
    jan1 = date(tax_year, 1, 1)
    basis: list[dict[str, object]] = []
    for m in members:
        considered = m.birth_date <= jan1
        basis.append({
            "atena_no": m.atena_no, "relationship": m.relationship, "tax_year": tax_year,
            "tax_status": TAX_LABELS[m.tax_status] if m.tax_status is not None else ("対象外（1月1日以後の出生）"
                                                                                   if not considered else "記録なし"),
            "source": m.tax_source, "welfare": m.welfare, "china_support": m.china_support,
        })
    if any(m.welfare for m in members):
        who = next(m.atena_no for m in members if m.welfare)
        return Outcome(EXEMPT, WELFARE, f"世帯員（宛名番号 {who}）が生活保護受給中", basis=basis)
    if any(m.china_support for m in members):
        who = next(m.atena_no for m in members if m.china_support)
        return Outcome(EXEMPT, CHINA_SUPPORT, f"世帯員（宛名番号 {who}）が中国残留邦人等支援給付受給中", basis=basis)
    assessed = [m for m in members if m.birth_date <= jan1]
    taxable = [m.atena_no for m in assessed if m.tax_status is TaxStatus.TAXABLE]
    if taxable:
        return Outcome(NOT_EXEMPT, GENERAL, f"{tax_year}年度住民税の課税者がいます（宛名番号 {', '.join(taxable)}）",
                       basis=basis)
    undeclared = [m.atena_no for m in assessed if m.tax_status is TaxStatus.UNDECLARED]
    if undeclared:
        return Outcome(NOT_EXEMPT, GENERAL, f"{tax_year}年度住民税が未申告の世帯員がいます（宛名番号 "
                       f"{', '.join(undeclared)}）。申告後に再度確認してください", basis=basis)
    missing = tuple(m.atena_no for m in assessed if m.tax_status is None)
    if missing:
        return Outcome(PENDING, GENERAL, f"{tax_year}年1月1日時点の課税情報が本市にない世帯員がいます"
                       f"（宛名番号 {', '.join(missing)}）。他市町村へ照会します", to_query=missing, basis=basis)
    return Outcome(EXEMPT, TAX_EXEMPT, f"世帯員全員が{tax_year}年度住民税非課税", basis=basis)
