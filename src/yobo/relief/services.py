"""Writes of health-damage relief (健康被害救済給付), purpose R01 (only the relief duty holds it).

The workflow (seed 004 ①–⑦)::

    received ─▶ committee ─▶ forwarded ─▶ approved ─▶ notified ─▶ paid
     (受理)     (調査会)      (進達)    └▶ rejected ─▶ notified ─▶ appealed ─▶ approved | rejected
    any state before a decision ─▶ withdrawn

``move(ctx, claim_id, to, on=..., note=..., ...)`` checks the move is allowed and what it needs: the
committee's minutes to forward, the decision's date and content to record it, an amount for an
approval. Every move is an event with who and when, and sets the next deadline (``due_on``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation
from yobo.core.wareki import fiscal_year
from yobo.people import selectors as people

from . import vault
from .models import (
    AnnualDecision,
    BenefitAmount,
    BenefitType,
    Claim,
    ClaimEvent,
    ClaimState,
    Counter,
    Document,
    Payment,
)

__all__ = ["AMOUNT_UNITS", "MOVES", "Applicant", "BenefitType", "ClaimState", "Vaccination", "attach", "decide_year",
           "move", "receive", "record_payment", "set_amount"]

RESOURCE = "relief.claim"
RESOURCE_DOC = "relief.document"
RESOURCE_SETTING = "relief.amount"
S = ClaimState

# Allowed moves. A claim decided ``rejected`` may be appealed (審査請求) after notification.
MOVES: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.COMMITTEE, S.WITHDRAWN}),
    S.COMMITTEE: frozenset({S.FORWARDED, S.WITHDRAWN}),
    S.FORWARDED: frozenset({S.APPROVED, S.REJECTED, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.NOTIFIED}),
    S.REJECTED: frozenset({S.NOTIFIED}),
    S.NOTIFIED: frozenset({S.PAID, S.APPEALED}),
    S.APPEALED: frozenset({S.APPROVED, S.REJECTED}),
    S.PAID: frozenset(),
    S.WITHDRAWN: frozenset(),
}

# Days staff have for the next step from entering a state (事務処理期限); a city overrides them with
# settings.YOBO_RELIEF_DEADLINE_DAYS. The ministry's review has no deadline of the city's (None).
DEADLINE_DAYS: dict[str, int | None] = {
    S.RECEIVED: 60,  # put to the committee
    S.COMMITTEE: 30,  # forward to the ministry after the meeting
    S.FORWARDED: None,
    S.APPROVED: 14,  # notify the applicant
    S.REJECTED: 14,
    S.NOTIFIED: 30,  # pay (approved)
    S.APPEALED: None,
}

# Benefits paid every year while the harm lasts (yearly amount decided each 年度).
CONTINUING = frozenset({BenefitType.CHILD_DISABILITY, BenefitType.DISABILITY, BenefitType.SURVIVOR_PENSION})
# Claim period (請求期限): 5 years from the event (the payment of the medical costs, the death);
# a late claim is flagged for staff to check the exceptions, not refused.
CLAIM_PERIOD_YEARS: dict[str, int] = {
    BenefitType.MEDICAL: 5, BenefitType.DEATH_LUMP_SUM: 5, BenefitType.SURVIVOR_LUMP_SUM: 5, BenefitType.FUNERAL: 5,
}
AMOUNT_UNITS = {"year": "年額", "lump": "一時金", "month": "月額"}


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def _yen(v: Any, what: str) -> int:
    """An amount in integer yen, never a float: ``1200``, ``"1,200"``, ``"１２００円"``."""
    import unicodedata

    if isinstance(v, (bool, float)):
        raise InputRejected(f"{what}は整数の円で入力してください。 / {what} must be whole yen.")
    t = str(v) if isinstance(v, int) else unicodedata.normalize("NFKC", str(v or "")).replace(",", "").replace(
        "円", "").strip()
    if not t.isdigit() or int(t) > 10_000_000_000:
        raise InputRejected(f"{what}は0以上の整数（円）で入力してください。 / {what} must be whole yen.")
    return int(t)


def deadline_days(state: str) -> int | None:
    custom = getattr(settings, "YOBO_RELIEF_DEADLINE_DAYS", None) or {}
    return custom.get(state, DEADLINE_DAYS.get(state))


def _next_no(m: str, fy: int) -> str:
    c, _ = Counter.objects.select_for_update().get_or_create(municipality=m, name=f"claim{fy}")
    c.last += 1
    c.save(update_fields=["last"])
    return f"{fy}{c.last:05d}"


@dataclass(frozen=True)
class Vaccination:
    """A vaccination the claim names (接種ワクチン・接種日)."""

    vaccine: str
    date: date


@dataclass(frozen=True)
class Applicant:
    name: str
    relation: str = ""
    address: str = ""
    phone: str = ""
    atena_no: str = ""


def set_amount(ctx: AccessContext, fiscal_year: int, benefit: str, amount_yen: Any, *, grade: str = "",
               unit: str = "year") -> tuple[str, str]:
    """Set the amount of a benefit for a fiscal year (and grade) (給付額の設定).
    Returns (before, after) as text; the access-log entry carries both."""
    if benefit not in BenefitType.values:
        raise InputRejected("給付の種類が正しくありません。 / unknown benefit type.")
    if unit not in AMOUNT_UNITS:
        raise InputRejected("単位は year / lump / month です。 / unit must be year, lump or month.")
    amount = _yen(amount_yen, "給付額")
    with door(ctx, Operation.UPDATE, resource=RESOURCE_SETTING) as rec:
        key: dict[str, Any] = {"municipality": _m(), "fiscal_year": fiscal_year, "benefit": benefit, "grade": grade}
        old = BenefitAmount.objects.select_for_update().filter(**key).values_list("amount_yen", "unit").first()
        BenefitAmount.objects.update_or_create(
            **key, defaults={"unit": unit, "amount_yen": amount, "updated_by_id": ctx.staff_id,
                             "updated_at": timezone.now()})
        rec.detail = (f"amount {fiscal_year} {benefit} {grade}: {'-' if old is None else f'{old[0]}/{old[1]}'}"
                      f" -> {amount}/{unit}")[:200]
    return (_amount_text(*old) if old else "未設定"), _amount_text(amount, unit)


def _amount_text(amount: int, unit: str) -> str:
    return f"{AMOUNT_UNITS.get(unit, unit)} {amount:,}円"


def receive(ctx: AccessContext, atena_no: str, benefit: str, applicant: Applicant,
            vaccinations: list[Vaccination], *, received_on: date | None = None, harm_summary: str = "",
            onset_date: date | None = None, event_date: date | None = None) -> int:
    """Receive a claim (請求の受理). The person harmed must be in the registry; each vaccination named
    is looked up in the dose records — a claim naming none that is on record is refused, one naming
    some not on record is received with a flag for staff to check (e.g. a dose given elsewhere whose
    record the city must obtain). Returns the claim id."""
    if benefit not in BenefitType.values:
        raise InputRejected("給付の種類が正しくありません。 / unknown benefit type.")
    if not applicant.name.strip():
        raise InputRejected("請求者の氏名を入力してください。 / enter the applicant's name.")
    if not vaccinations:
        raise InputRejected("請求の対象となる予防接種（ワクチンと接種日）を入力してください。"
                            " / name the vaccination(s) concerned.")
    on = received_on or timezone.localdate()
    a = str(atena_no).strip()
    with door(ctx, Operation.CREATE, resource=RESOURCE, target=a) as rec:
        m = _m()
        people.get_person(ctx, a)  # raises PersonNotFound (a clear message) for an unknown 宛名番号
        named = _match_doses(ctx, a, vaccinations)
        if not any(v["on_record"] for v in named):
            raise InputRejected(
                f"宛名番号 {a} には、請求書に記載の予防接種の記録がありません（"
                + "、".join(f"{v['vaccine']} {v['date']}" for v in named)
                + "）。接種記録を確認・登録してから受理してください。"
                " / no record of the vaccination(s) named; check or record them first.")
        flags = [f"接種記録なし: {v['vaccine']} {v['date']}" for v in named if not v["on_record"]]
        years = CLAIM_PERIOD_YEARS.get(benefit)
        if years and event_date and on > _add_years(event_date, years):
            flags.append(f"請求期限（{years}年）を過ぎている可能性があります（起算日 {event_date}）")
        days = deadline_days(S.RECEIVED)
        now = timezone.now()
        c = Claim.objects.create(
            municipality=m, claim_no=_next_no(m, fiscal_year(on)), atena_no=a, benefit=benefit,
            applicant_name=applicant.name.strip(), applicant_relation=applicant.relation.strip(),
            applicant_address=applicant.address.strip(), applicant_phone=applicant.phone.strip(),
            applicant_atena_no=applicant.atena_no.strip(), vaccinations=named, harm_summary=harm_summary,
            onset_date=onset_date, event_date=event_date, received_on=on, state=S.RECEIVED, state_since=on,
            due_on=on + timedelta(days=days) if days else None, continuing=benefit in CONTINUING, flags=flags,
            received_by_id=ctx.staff_id, created_at=now)
        ClaimEvent.objects.create(claim=c, from_state="", to_state=S.RECEIVED, on_date=on, note="受理",
                                  by_id=ctx.staff_id, at=now)
        rec.detail = f"relief claim {c.claim_no} received"
    return c.pk


def _add_years(d: date, n: int) -> date:
    try:
        return d.replace(year=d.year + n)
    except ValueError:  # 29 February
        return d.replace(year=d.year + n, day=28)


def _match_doses(ctx: AccessContext, atena_no: str, vaccinations: list[Vaccination]) -> list[dict[str, Any]]:
    from yobo.immunizations import selectors as doses

    on_record = doses.doses_of(ctx, [atena_no], vaccines=sorted({v.vaccine for v in vaccinations})).get(atena_no, [])
    out = []
    for v in vaccinations:
        hit = next((d for d in on_record if d.vaccine == v.vaccine and d.date == v.date and not d.screening_only),
                   None)
        out.append({"vaccine": v.vaccine, "date": v.date.isoformat(), "dose_id": hit.id if hit else None,
                    "on_record": hit is not None})
    return out


def _claim_for_update(claim_id: int) -> Claim:
    c = Claim.objects.select_for_update().filter(municipality=_m(), pk=claim_id).first()
    if c is None:
        raise InputRejected(f"請求 {claim_id} はありません。 / no such claim.")
    return c


def move(ctx: AccessContext, claim_id: int, to: str, *, on: date | None = None, note: str = "",
         amount_yen: Any = None, grade: str = "", document_id: int | None = None) -> None:
    """Move a claim to state ``to`` (see the module docstring), recording the event.

    - to ``forwarded`` (進達): the committee's minutes (``note`` or an attached document) are required;
    - to ``approved`` / ``rejected`` (審査結果の受理): ``on`` is the date of the ministry's decision and
      ``note`` its content, both required; an approval takes the amount (integer yen) and grade;
    - to ``notified``: ``on`` is the date of the notice to the applicant;
    - to ``paid``: record the payment with :func:`record_payment` (it moves the claim).
    """
    try:
        target = ClaimState(to)
    except ValueError:
        raise InputRejected("状態が正しくありません。 / unknown state.") from None
    day = on or timezone.localdate()
    with door(ctx, Operation.UPDATE, resource=RESOURCE) as rec:
        c = _claim_for_update(claim_id)
        rec.targets = [c.atena_no]
        if target not in MOVES[c.state]:
            raise InputRejected(f"「{ClaimState(c.state).label}」から「{target.label}」へは進めません。"
                                f" / cannot move from {c.state} to {target}.")
        if day < c.state_since:
            raise InputRejected("日付が前の手続の日より前です。 / the date is before the previous step.")
        if target is S.PAID:
            raise InputRejected("支給は支給の記録から登録してください。 / record the payment instead.")
        if target is S.NOTIFIED and c.state == S.NOTIFIED:
            raise InputRejected("通知済みです。 / already notified.")
        if document_id is not None and not Document.objects.filter(claim=c, pk=document_id).exists():
            raise InputRejected("この請求の書類ではありません。 / the document is not of this claim.")
        if target is S.FORWARDED and not note.strip() and document_id is None:
            raise InputRejected("調査会の議事（要旨または議事録の添付）を記録してください。"
                                " / record the committee's minutes (text or an attached document).")
        if target in (S.APPROVED, S.REJECTED):
            if on is None or not note.strip():
                raise InputRejected("厚生労働省の審査結果の日付と内容を入力してください。"
                                    " / enter the date and content of the ministry's decision.")
            c.decision_result, c.decision_on, c.decision_content = target.value, day, note.strip()
            if target is S.APPROVED:
                c.approved_amount_yen = _yen(amount_yen, "支給額") if amount_yen not in (None, "") else None
                c.grade = grade.strip()
        if target is S.APPEALED and c.decision_result != S.REJECTED:
            raise InputRejected("審査請求は否認の通知の後に記録します。 / only a rejection can be appealed.")
        if target is S.NOTIFIED and c.decision_result == S.REJECTED:
            c.due_on = None
        _enter(ctx, c, target, day, note, document_id)
        rec.detail = f"relief claim {c.claim_no} -> {target}"


def _enter(ctx: AccessContext, c: Claim, target: ClaimState, day: date, note: str, document_id: int | None) -> None:
    ClaimEvent.objects.create(claim=c, from_state=c.state, to_state=target, on_date=day, note=note.strip(),
                              document_id=document_id, by_id=ctx.staff_id, at=timezone.now())
    c.state, c.state_since = target.value, day
    days = deadline_days(target)
    if target is S.NOTIFIED and c.decision_result == S.REJECTED:
        days = None  # nothing left for the city unless an appeal comes
    c.due_on = day + timedelta(days=days) if days else None
    c.save()


def record_payment(ctx: AccessContext, claim_id: int, paid_on: date, amount_yen: Any, *, period: str = "",
                   note: str = "") -> int:
    """Record a payment (支給). The first payment of an approved, notified claim moves it to ``paid``;
    continuing benefits (pensions) record further payments on a paid claim."""
    amount = _yen(amount_yen, "支給額")
    with door(ctx, Operation.UPDATE, resource=RESOURCE) as rec:
        c = _claim_for_update(claim_id)
        rec.targets = [c.atena_no]
        if c.decision_result != S.APPROVED or c.state not in (S.NOTIFIED, S.PAID):
            raise InputRejected("支給は、認定され申請者へ通知した請求にのみ記録できます。"
                                " / pay only an approved claim after the notice.")
        if paid_on < c.state_since and c.state == S.NOTIFIED:
            raise InputRejected("支給日が通知日より前です。 / the payment date is before the notice.")
        p = Payment.objects.create(claim=c, paid_on=paid_on, amount_yen=amount, period=period.strip(),
                                   note=note.strip(), by_id=ctx.staff_id, at=timezone.now())
        if c.state == S.NOTIFIED:
            _enter(ctx, c, S.PAID, paid_on, f"支給 {amount:,}円", None)
        rec.detail = f"relief claim {c.claim_no} payment {amount}"
    return p.pk


def decide_year(ctx: AccessContext, claim_id: int, fy: int, *, amount_yen: Any = None, basis: str = "",
                query_pending: bool = False) -> int:
    """Decide a continuing benefit's amount for fiscal year ``fy`` (毎年の給付額の決定).

    Without ``amount_yen`` the amount set for the benefit, year and grade is used. ``basis`` records
    the information used (e.g. other benefits or income held by other bodies); ``query_pending``
    marks that the query to them (through the exchange) is still open.
    TODO(exchange): the exchange offers no query for these items yet; staff record the answer here.
    """
    with door(ctx, Operation.UPDATE, resource=RESOURCE) as rec:
        c = _claim_for_update(claim_id)
        rec.targets = [c.atena_no]
        if not c.continuing or c.decision_result != S.APPROVED:
            raise InputRejected("毎年の決定は、認定された年金の請求にのみ行います。"
                                " / yearly decisions are for approved pensions only.")
        if amount_yen in (None, ""):
            row = BenefitAmount.objects.filter(municipality=c.municipality, fiscal_year=fy, benefit=c.benefit,
                                               grade=c.grade).first()
            if row is None:
                raise InputRejected(f"{fy}年度の{BenefitType(c.benefit).label}（{c.grade or '等級なし'}）の給付額が"
                                    "設定されていません。 / no amount is set for this year and grade.")
            amount = row.amount_yen
        else:
            amount = _yen(amount_yen, "給付額")
        a, _ = AnnualDecision.objects.update_or_create(
            claim=c, fiscal_year=fy,
            defaults={"amount_yen": amount, "basis": basis.strip(), "query_state": "pending" if query_pending
                      else ("answered" if basis.strip() else "none"), "decided_by_id": ctx.staff_id,
                      "decided_at": timezone.now()})
        rec.detail = f"relief claim {c.claim_no} year {fy} amount {amount}"
    return a.pk


MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


def attach(ctx: AccessContext, claim_id: int, kind: str, file_name: str, data: bytes,
           content_type: str = "") -> int:
    """Attach a document, encrypted (書類の添付). Returns the document id."""
    if not data:
        raise InputRejected("空のファイルは添付できません。 / the file is empty.")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputRejected("ファイルが大きすぎます（20MBまで）。 / the file is larger than 20 MB.")
    name = (file_name or "document").replace("/", "_").replace("\\", "_")[:255]
    kind = (kind or "その他").strip()[:40]
    with door(ctx, Operation.CREATE, resource=RESOURCE_DOC) as rec:
        c = _claim_for_update(claim_id)
        rec.targets = [c.atena_no]
        kid, nonce, ct = vault.seal(data, vault.aad(c.municipality, c.claim_no, kind, name))
        d = Document.objects.create(claim=c, kind=kind, file_name=name, content_type=content_type[:100],
                                    size=len(data), sha256=hashlib.sha256(data).hexdigest(), key_id=kid, nonce=nonce,
                                    ciphertext=ct, added_by_id=ctx.staff_id, added_at=timezone.now())
        rec.detail = f"relief claim {c.claim_no} document {d.pk} ({kind})"
    return d.pk
