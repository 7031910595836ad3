"""Clinic payments (接種委託料の支払), purpose F02: unit prices, monthly claims per clinic built from
the dose records of the claim month (請求月), checked, approved by a second person, paid with a
transfer file for the finance system and a statement per clinic.

The build is set-based (decision 122): the month's active dose records (``immunizations`` selector)
and their persons' residence (``people`` selector) are read in one logged BATCH read each, staged,
and one ``INSERT … SELECT`` joined with the unit prices and the claims gives every dose its exclusion
reason, in this order (the first that applies)::

    voluntary              任意接種 (not paid as a routine commission)
    clinic_unknown         医療機関コードが未登録
    clinic_not_contracted  接種日に委託契約なし
    not_resident           接種日に住民でない (転出・死亡の後)
    schedule_invalid       定期接種として有効でない (年齢・間隔・回数: the record's schedule warnings)
    already_paid           同じ接種 (人・ワクチン・接種日 or 回数) が支払済みまたは承認済みの請求にある
    duplicate              同じ人・ワクチン・回数の先の記録がある
    no_unit_price          単価未設定 (その年度・ワクチン、予診のみは予診料)

A dose without a reason is included at the unit price of its vaccine and fiscal year. Drafts are
rebuilt on every run; approved and paid claims never change, and a dose is included in at most one
claim (a partial unique index), so re-running a month never pays twice.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation
from yobo.immunizations import selectors as doses
from yobo.people.selectors import PersonFacts, bulk_facts

from .models import ClaimLine, ClaimState, ClinicAccount, ClinicClaim, PaymentRun, UnitPrice
from .services import check_vaccine, check_yen, next_serial

RESOURCE_PRICE = "fees.unit_price"
RESOURCE_CLAIM = "fees.clinic_claim"
RESOURCE_PAYMENT = "fees.payment"
STAGE = "fees_claim_stage"
SOURCE = "fees_claim_source"  # the month's doses with the facts of their owning apps
_SOURCE_COLS = ("dose_id", "atena_no", "vaccine", "dose_date", "dose_number", "clinic_code", "screening_only",
                "fiscal_year", "repeated", "reason")

REASONS: dict[str, str] = {
    "voluntary": "任意接種（委託料の対象外）",
    "clinic_unknown": "医療機関コードが未登録",
    "clinic_not_contracted": "接種日に委託契約がない医療機関",
    "not_resident": "接種日に住民でない（転出・死亡の後）",
    "schedule_invalid": "定期接種として有効でない（年齢・間隔・回数）",
    "already_paid": "同じ接種が支払済み（承認済み）の請求にある",
    "duplicate": "同じ回の接種の記録が先にある（重複）",
    "no_unit_price": "単価が設定されていない（年度・ワクチン）",
}
_MONTH = re.compile(r"^(\d{4})(0[1-9]|1[0-2])$")


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def _pg() -> bool:
    return connection.vendor == "postgresql"


def check_month(text: str) -> str:
    t = (text or "").strip().replace("-", "").replace("/", "")
    if not _MONTH.match(t):
        raise InputRejected(f"請求月は YYYYMM（例 202610）で指定してください。 / claim month must be YYYYMM: {t[:10]}")
    return t


# --- masters ------------------------------------------------------------------------------------


def set_unit_price(ctx: AccessContext, fiscal_year: int, vaccine: str, amount_yen: Any,
                   screening_yen: Any = None) -> tuple[str, str]:
    """Set the commission per dose (委託単価) of ``vaccine`` for ``fiscal_year`` (integer yen).
    Returns (before, after) as text; the access-log entry carries both."""
    v = check_vaccine(vaccine)
    amount = check_yen(amount_yen, "委託単価")
    screening = None if screening_yen in (None, "") else check_yen(screening_yen, "予診料")
    with door(ctx, Operation.UPDATE, resource=RESOURCE_PRICE) as rec:
        key: dict[str, Any] = {"municipality": _m(), "fiscal_year": fiscal_year, "vaccine": v}
        old = UnitPrice.objects.select_for_update().filter(**key).values_list("amount_yen", "screening_yen").first()
        UnitPrice.objects.update_or_create(
            **key, defaults={"amount_yen": amount, "screening_yen": screening, "updated_by_id": ctx.staff_id,
                             "updated_at": timezone.now()})
        rec.detail = (f"unit price {fiscal_year} {v}: {'-' if old is None else f'{old[0]}/{old[1]}'}"
                      f" -> {amount}/{screening}")
    return (_price_text(old[0], old[1]) if old else "未設定"), _price_text(amount, screening)


def _price_text(amount: int, screening: int | None) -> str:
    return f"単価 {amount:,}円・予診料 " + ("未設定" if screening is None else f"{screening:,}円")


def set_account(ctx: AccessContext, clinic_code: str, bank_code: str, branch_code: str, account_type: str,
                account_no: str, holder_kana: str) -> tuple[str, str]:
    """Set where a clinic is paid (振込先口座). Returns (before, after) as text; the access-log entry
    carries both with the account number masked to its last 3 digits and without the holder's name."""
    from yobo.core.text import digits, is_katakana

    code = digits(clinic_code)
    bank, branch, kind, number = digits(bank_code), digits(branch_code), digits(account_type), digits(account_no)
    problems = []
    if doses.clinic(code) is None:
        problems.append("医療機関コードが登録されていません。 / unknown clinic code.")
    if not (len(bank) == 4 and bank.isdigit() and len(branch) == 3 and branch.isdigit()):
        problems.append("金融機関コードは4桁、支店コードは3桁です。 / bank code 4 digits, branch 3 digits.")
    if kind not in ("1", "2"):
        problems.append("預金種目は 1 普通 または 2 当座 です。 / account type 1 or 2.")
    if not (number.isdigit() and 1 <= len(number) <= 7):
        problems.append("口座番号は7桁以内の数字です。 / account number up to 7 digits.")
    if not is_katakana(holder_kana.replace("(", "").replace(")", "").replace(".", "")):
        problems.append("口座名義はカナで入力してください。 / holder name in katakana.")
    if problems:
        raise InputRejected("\n".join(problems))
    with door(ctx, Operation.UPDATE, resource=RESOURCE_PRICE) as rec:
        prev = ClinicAccount.objects.select_for_update().filter(municipality=_m(), clinic_code=code).first()
        before = _account_text(prev.bank_code, prev.branch_code, prev.account_type, prev.account_no,
                               prev.holder_kana) if prev else "未設定"
        ClinicAccount.objects.update_or_create(
            municipality=_m(), clinic_code=code,
            defaults={"bank_code": bank, "branch_code": branch, "account_type": kind, "account_no": number.zfill(7),
                      "holder_kana": holder_kana.strip(), "updated_by_id": ctx.staff_id, "updated_at": timezone.now()})
        masked = (f"{prev.bank_code}-{prev.branch_code} {prev.account_type} ****{prev.account_no[-3:]}"
                  if prev else "-")
        rec.detail = f"clinic account {code}: {masked} -> {bank}-{branch} {kind} ****{number.zfill(7)[-3:]}"
    return before, _account_text(bank, branch, kind, number.zfill(7), holder_kana.strip())


def _account_text(bank: str, branch: str, kind: str, number: str, holder: str) -> str:
    return f"{bank}-{branch} {'普通' if kind == '1' else '当座'} {number} {holder}"


@dataclass(frozen=True)
class PriceView:
    fiscal_year: int
    vaccine: str
    amount_yen: int
    screening_yen: int | None
    updated_by: str
    updated_at: Any


@dataclass(frozen=True)
class AccountView:
    clinic_code: str
    clinic_name: str
    bank_code: str
    branch_code: str
    account_type: str
    account_no: str
    holder_kana: str
    updated_by: str
    updated_at: Any


def unit_prices(ctx: AccessContext, fiscal_year: int | None = None) -> list[PriceView]:
    """Unit prices (委託単価), newest year first (no personal data; the door checks the purpose)."""
    with door(ctx, Operation.READ, resource=RESOURCE_PRICE):
        qs = UnitPrice.objects.filter(municipality=_m()).select_related("updated_by")
        if fiscal_year:
            qs = qs.filter(fiscal_year=fiscal_year)
        return [PriceView(u.fiscal_year, u.vaccine, u.amount_yen, u.screening_yen, u.updated_by.get_username(),
                          u.updated_at) for u in qs.order_by("-fiscal_year", "vaccine")]


def accounts(ctx: AccessContext) -> list[AccountView]:
    """Clinic bank accounts (振込先口座) with the clinic's name from the master."""
    with door(ctx, Operation.READ, resource=RESOURCE_PRICE):
        rows = list(ClinicAccount.objects.filter(municipality=_m()).select_related("updated_by").order_by(
            "clinic_code"))
    names = {c.code: c.name for c in doses.clinics()}
    return [AccountView(a.clinic_code, names.get(a.clinic_code, ""), a.bank_code, a.branch_code, a.account_type,
                        a.account_no, a.holder_kana, a.updated_by.get_username(), a.updated_at) for a in rows]


# --- building the month's claims ------------------------------------------------------------------


@dataclass
class BuildSummary:
    claim_month: str
    claims: int = 0
    included: int = 0
    excluded: int = 0
    total_yen: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    unknown_clinics: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"claim_month": self.claim_month, "claims": self.claims, "included": self.included,
                "excluded": self.excluded, "total_yen": self.total_yen, "reasons": self.reasons,
                "unknown_clinics": self.unknown_clinics}


def _first_reason(d: doses.ClaimDose, clinic: doses.ClinicView | None, person: PersonFacts | None) -> str:
    """The first of the reasons the owning apps' facts decide (voluntary … schedule_invalid); the
    rest (already_paid, duplicate, no_unit_price) are decided in SQL against this app's tables."""
    if d.voluntary:
        return "voluntary"
    if clinic is None:
        return "clinic_unknown"
    if not clinic.contracted_on(d.date):
        return "clinic_not_contracted"
    if person is None or not person.resident_on(d.date):
        return "not_resident"
    if not d.screening_only and d.schedule_invalid:
        return "schedule_invalid"
    return ""


def build_claims(ctx: AccessContext, claim_month: str) -> BuildSummary:
    """Build (or rebuild) the month's claims, one per clinic (委託料請求の作成). Idempotent."""
    month = check_month(claim_month)
    s = BuildSummary(month)
    with door(ctx, Operation.BATCH, resource=RESOURCE_CLAIM) as rec:
        m = _m()
        now = timezone.now()
        # The dose records and the register are read through their apps' selectors (one logged BATCH
        # read each); the clinic master has no personal data.
        month_doses = doses.claim_month_doses(ctx, month)
        residence = {f.atena_no: f for f in bulk_facts(ctx, {d.atena_no for d in month_doses})}
        clinic_of = {c.code: c for c in doses.clinics()}
        pg = _pg()
        src = [(d.dose_id, d.atena_no, d.vaccine, d.date if pg else d.date.isoformat(), d.dose_number,
                d.clinic_code, d.screening_only, d.fiscal_year, d.repeated,
                _first_reason(d, clinic_of.get(d.clinic_code), residence.get(d.atena_no))) for d in month_doses]
        with connection.cursor() as cur:
            if pg:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"fees.claims.{m}.{month}"])
            ClaimLine.objects.filter(claim__municipality=m, claim__claim_month=month,
                                     claim__state=ClaimState.DRAFT).delete()
            tail = " ON COMMIT DROP" if pg else ""
            cur.execute(f"DROP TABLE IF EXISTS {SOURCE}")
            cur.execute(f"CREATE TEMPORARY TABLE {SOURCE} (dose_id bigint, atena_no text, vaccine text, dose_date date,"
                        f" dose_number smallint, clinic_code text, screening_only boolean, fiscal_year smallint,"
                        f" repeated boolean, reason text){tail}")
            cols = ", ".join(_SOURCE_COLS)
            if pg:
                raw: Any = cur.cursor
                with raw.copy(f"COPY {SOURCE} ({cols}) FROM STDIN") as cp:
                    for r in src:
                        cp.write_row(r)
            else:
                cur.executemany(f"INSERT INTO {SOURCE} ({cols}) VALUES ({', '.join(['%s'] * len(_SOURCE_COLS))})",
                                src)
            cur.execute(f"DROP TABLE IF EXISTS {STAGE}")
            cur.execute(f"CREATE TEMPORARY TABLE {STAGE} (dose_id bigint, atena_no text, vaccine text, dose_date date,"
                        f" dose_number smallint, clinic_code text, screening_only boolean, reason text,"
                        f" amount_yen integer){tail}")
            # Doses already in an approved or paid claim stay there (drafts were just emptied).
            cur.execute(f"""
                INSERT INTO {STAGE} (dose_id, atena_no, vaccine, dose_date, dose_number, clinic_code, screening_only,
                                     reason, amount_yen)
                SELECT x.dose_id, x.atena_no, x.vaccine, x.dose_date, x.dose_number, x.clinic_code, x.screening_only,
                       x.reason, CASE WHEN x.reason = '' THEN x.price END
                FROM (
                  SELECT d.dose_id, d.atena_no, d.vaccine, d.dose_date, d.dose_number, d.clinic_code, d.screening_only,
                         CASE WHEN d.screening_only THEN u.screening_yen ELSE u.amount_yen END AS price,
                         CASE
                           WHEN d.reason <> '' THEN d.reason
                           WHEN EXISTS (SELECT 1 FROM fees_claim_line l WHERE l.included = TRUE
                                        AND l.atena_no = d.atena_no AND l.vaccine = d.vaccine
                                        AND l.screening_only = d.screening_only
                                        AND (l.dose_date = d.dose_date OR l.dose_number = d.dose_number))
                             THEN 'already_paid'
                           WHEN d.repeated THEN 'duplicate'
                           WHEN u.id IS NULL OR (d.screening_only AND u.screening_yen IS NULL) THEN 'no_unit_price'
                           ELSE '' END AS reason
                  FROM {SOURCE} d
                  LEFT JOIN fees_unit_price u ON u.municipality = %s AND u.fiscal_year = d.fiscal_year
                       AND u.vaccine = d.vaccine
                  WHERE NOT EXISTS (SELECT 1 FROM fees_claim_line l0 WHERE l0.dose_id = d.dose_id)
                ) x""", [m])
            cur.execute(f"SELECT DISTINCT clinic_code FROM {STAGE} ORDER BY clinic_code")
            clinics = [str(r[0]) for r in cur.fetchall()]
            for code in clinics:
                draft = ClinicClaim.objects.filter(municipality=m, claim_month=month, clinic_code=code,
                                                   state=ClaimState.DRAFT).first()
                if draft is None:
                    last = ClinicClaim.objects.filter(municipality=m, claim_month=month, clinic_code=code).order_by(
                        "-seq").first()
                    ClinicClaim.objects.create(
                        municipality=m, claim_no=f"{month}{next_serial(m, f'claim{month}'):04d}", claim_month=month,
                        clinic_code=code, seq=(last.seq + 1) if last else 1, built_by_id=ctx.staff_id, built_at=now)
            cur.execute(f"""
                INSERT INTO fees_claim_line (claim_id, dose_id, atena_no, vaccine, dose_date, dose_number,
                                             screening_only, included, reason, amount_yen)
                SELECT c.id, s.dose_id, s.atena_no, s.vaccine, s.dose_date, s.dose_number, s.screening_only,
                       s.reason = '', s.reason, s.amount_yen
                FROM {STAGE} s JOIN fees_clinic_claim c ON c.municipality = %s AND c.claim_month = %s
                     AND c.clinic_code = s.clinic_code AND c.state = 'draft'""", [m, month])
            if not pg:
                cur.execute(f"DROP TABLE IF EXISTS {STAGE}")
                cur.execute(f"DROP TABLE IF EXISTS {SOURCE}")
        drafts = ClinicClaim.objects.filter(municipality=m, claim_month=month, state=ClaimState.DRAFT)
        totals = {cid: (n_in, n_out, int(total or 0)) for cid, n_in, n_out, total in
                  drafts.annotate(n_in=Count("lines", filter=Q(lines__included=True)),
                                  n_out=Count("lines", filter=Q(lines__included=False)),
                                  total=Sum("lines__amount_yen", filter=Q(lines__included=True)))
                  .values_list("pk", "n_in", "n_out", "total")}
        empty = [cid for cid, (n_in, n_out, _) in totals.items() if n_in + n_out == 0]
        ClinicClaim.objects.filter(pk__in=empty).delete()  # their doses were corrected away since the last run
        for cid, (n_in, n_out, total) in totals.items():
            if cid not in empty:
                ClinicClaim.objects.filter(pk=cid).update(included=n_in, excluded=n_out, total_yen=total,
                                                          built_by_id=ctx.staff_id, built_at=now)
        for open_claim in ClinicClaim.objects.filter(municipality=m, claim_month=month).exclude(
                state=ClaimState.PAID):
            s.claims += 1
            s.included += open_claim.included
            s.excluded += open_claim.excluded
            s.total_yen += open_claim.total_yen
        for reason, n in (ClaimLine.objects.filter(claim__municipality=m, claim__claim_month=month, included=False)
                          .values_list("reason").annotate(n=Count("id"))):
            s.reasons[reason] = n
        s.unknown_clinics = sorted({c for c in clinics if c not in clinic_of})
        rec.detail = (f"clinic claims {month}: claims={s.claims} included={s.included} excluded={s.excluded} "
                      f"total={s.total_yen}")
    return s


# --- approval and payment ---------------------------------------------------------------------------


def approve(ctx: AccessContext, claim_id: int) -> None:
    """Approve a draft claim (請求の承認). The approver must be another staff member than the one who
    built it; a claim of an unknown clinic or with nothing to pay cannot be approved."""
    with door(ctx, Operation.UPDATE, resource=RESOURCE_CLAIM, target=str(claim_id)) as rec:
        c = ClinicClaim.objects.select_for_update().filter(municipality=_m(), pk=claim_id).first()
        if c is None:
            raise InputRejected(f"請求 {claim_id} はありません。 / no such claim.")
        if c.state != ClaimState.DRAFT:
            raise InputRejected("この請求は承認済みです。 / this claim is already approved.")
        if c.built_by_id == ctx.staff_id:
            raise InputRejected("請求を作成した職員とは別の職員が承認してください。"
                                " / a claim is approved by another staff member than the one who built it.")
        if doses.clinic(c.clinic_code) is None:
            raise InputRejected(f"医療機関コード「{c.clinic_code}」は登録されていません。承認できません。"
                                " / unknown clinic: cannot approve.")
        if c.included == 0:
            raise InputRejected("支払対象の接種がない請求は承認できません。 / nothing to pay in this claim.")
        c.state, c.approved_by_id, c.approved_at = ClaimState.APPROVED, ctx.staff_id, timezone.now()
        c.save(update_fields=["state", "approved_by", "approved_at"])
        rec.detail = f"clinic claim {c.claim_no} approved total={c.total_yen}"


TRANSFER_COLUMNS = ("振込指定日", "請求番号", "医療機関コード", "医療機関名", "金融機関コード", "支店コード",
                    "預金種目", "口座番号", "口座名義", "振込金額", "件数")
LIST_COLUMNS = ("請求月", "請求番号", "医療機関コード", "医療機関名", "支払件数", "除外件数", "支払額")


@dataclass
class PaymentResult:
    run_id: int
    claim_month: str
    clinics: int
    total_yen: int
    transfer: str
    payment_list: str
    statements: str

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "claim_month": self.claim_month, "clinics": self.clinics,
                "total_yen": self.total_yen, "transfer": self.transfer, "payment_list": self.payment_list,
                "statements": self.statements}


def pay(ctx: AccessContext, claim_month: str, pay_on: date, out_dir: str | Path, *,
        encoding: str = "cp932") -> PaymentResult:
    """Pay the month's approved claims (支払処理): write the transfer file for the finance system
    (docs/formats/payment-transfer.md), the payment list and the statements (PDF), and mark the
    claims paid. Refused as a whole (nothing marked) when a clinic has no account on record."""
    from . import statement

    month = check_month(claim_month)
    if encoding not in ("cp932", "utf-8"):
        raise InputRejected("文字コードは cp932 または utf-8 です。 / encoding must be cp932 or utf-8.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with door(ctx, Operation.BATCH, resource=RESOURCE_PAYMENT) as rec:
        m = _m()
        claims = list(ClinicClaim.objects.select_for_update().filter(
            municipality=m, claim_month=month, state=ClaimState.APPROVED).order_by("clinic_code", "seq"))
        if not claims:
            raise InputRejected(f"{month} に支払う承認済みの請求がありません。 / no approved claim to pay for {month}.")
        accounts = {a.clinic_code: a for a in ClinicAccount.objects.filter(
            municipality=m, clinic_code__in=[c.clinic_code for c in claims])}
        missing = sorted({c.clinic_code for c in claims} - set(accounts))
        if missing:
            raise InputRejected("振込先口座が登録されていない医療機関があります（何も支払っていません）: "
                                + ", ".join(missing) + " / clinics without an account; nothing was paid.")
        names = {c.clinic_code: (doses.clinic(c.clinic_code) or _NoClinic()).name for c in claims}
        total = sum(c.total_yen for c in claims)
        now = timezone.now()
        run = PaymentRun.objects.create(municipality=m, claim_month=month, pay_on=pay_on, clinics=len(claims),
                                        total_yen=total, file_sha256="", made_by_id=ctx.staff_id, made_at=now)
        transfer = out / f"transfer-{month}-{run.pk}.csv"
        with transfer.open("w", encoding=encoding, newline="") as f:
            w = csv.writer(f, lineterminator="\r\n")
            w.writerow(TRANSFER_COLUMNS)
            for c in claims:
                a = accounts[c.clinic_code]
                w.writerow((pay_on.strftime("%Y%m%d"), c.claim_no, c.clinic_code, names[c.clinic_code], a.bank_code,
                            a.branch_code, a.account_type, a.account_no, a.holder_kana, c.total_yen, c.included))
        plist = out / f"payment-list-{month}-{run.pk}.csv"
        with plist.open("w", encoding=encoding, newline="") as f:
            w = csv.writer(f, lineterminator="\r\n")
            w.writerow(LIST_COLUMNS)
            for c in claims:
                w.writerow((month, c.claim_no, c.clinic_code, names[c.clinic_code], c.included, c.excluded,
                            c.total_yen))
            w.writerow(("合計", "", "", "", sum(c.included for c in claims), sum(c.excluded for c in claims), total))
        pdf = statement.draw(out / f"statements-{month}-{run.pk}.pdf", month, pay_on,
                             (_statement_data(c, names[c.clinic_code]) for c in claims))
        run.file_sha256 = hashlib.sha256(transfer.read_bytes()).hexdigest()
        run.save(update_fields=["file_sha256"])
        ClinicClaim.objects.filter(pk__in=[c.pk for c in claims]).update(state=ClaimState.PAID, payment_run=run)
        rec.detail = f"clinic payment {month} run={run.pk} clinics={len(claims)} total={total}"
    return PaymentResult(run.pk, month, len(claims), total, str(transfer), str(plist), str(pdf))


class _NoClinic:
    name = "（未登録の医療機関）"


def _statement_data(c: ClinicClaim, name: str) -> Any:
    from .statement import StatementData

    lines = list(ClaimLine.objects.filter(claim=c).order_by("-included", "dose_date", "atena_no", "pk").values_list(
        "included", "atena_no", "vaccine", "dose_number", "dose_date", "screening_only", "amount_yen", "reason"))
    return StatementData(c.claim_no, c.clinic_code, name, c.total_yen, c.included, c.excluded,
                         [(inc, a, v, n, d, so, amt, REASONS.get(r, r)) for inc, a, v, n, d, so, amt, r in lines])


def statement_pdf(ctx: AccessContext, claim_id: int, out: str | Path) -> Path:
    """The statement of one claim (支払明細書) as a PDF, e.g. to send before the payment."""
    from . import statement

    with door(ctx, Operation.READ, resource=RESOURCE_CLAIM, target=str(claim_id)) as rec:
        c = ClinicClaim.objects.filter(municipality=_m(), pk=claim_id).first()
        if c is None:
            raise InputRejected(f"請求 {claim_id} はありません。 / no such claim.")
        clinic = doses.clinic(c.clinic_code)
        data = _statement_data(c, clinic.name if clinic else _NoClinic.name)
        rec.detail = f"clinic statement {c.claim_no}"
        p = Path(out)
        path = p / f"statement-{c.claim_no}.pdf" if p.is_dir() else p
        return statement.draw(path, c.claim_month, None, [data])


# --- reads (purpose F02) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimView:
    id: int
    claim_no: str
    claim_month: str
    clinic_code: str
    clinic_name: str
    seq: int
    state: str
    state_label: str
    included: int
    excluded: int
    total_yen: int
    built_by: str
    approved_by: str
    excluded_lines: list[dict[str, Any]]


def claims(ctx: AccessContext, claim_month: str) -> list[ClaimView]:
    """The month's claims with their excluded doses and reasons (除外一覧)."""
    month = check_month(claim_month)
    with door(ctx, Operation.READ, resource=RESOURCE_CLAIM, detail=f"clinic claims {month}") as rec:
        rows = list(ClinicClaim.objects.filter(municipality=_m(), claim_month=month)
                    .select_related("built_by", "approved_by").order_by("clinic_code", "seq"))
        out = []
        persons: set[str] = set()
        for c in rows:
            lines: list[dict[str, Any]] = [dict(x) for x in ClaimLine.objects.filter(claim=c, included=False)
                                           .order_by("dose_date", "pk").values(
                "dose_id", "atena_no", "vaccine", "dose_number", "dose_date", "reason")]
            for ln in lines:
                ln["reason_label"] = REASONS.get(ln["reason"], ln["reason"])
                persons.add(ln["atena_no"])
            clinic = doses.clinic(c.clinic_code)
            out.append(ClaimView(c.pk, c.claim_no, c.claim_month, c.clinic_code,
                                 clinic.name if clinic else _NoClinic.name, c.seq, c.state, ClaimState(c.state).label,
                                 c.included, c.excluded, c.total_yen, c.built_by.username,
                                 c.approved_by.username if c.approved_by else "", [dict(x) for x in lines]))
        rec.targets = sorted(persons) or [""]
    return out
