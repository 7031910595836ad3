"""Writes of fee exemption (実費徴収の免除), purpose F01: fee settings, the tax/welfare status
import, the exemption check on application, tax queries to other municipalities and the exemption
certificate. Every function takes an ``AccessContext`` and runs inside the audit door.

Clinic payments (接種委託料, purpose F02) are in ``yobo.fees.payments``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.problems import ERROR, Problem
from yobo.core.purposes import Operation, Purpose
from yobo.core.wareki import fiscal_year
from yobo.people import selectors as people
from yobo.schedule.rules import CODES as VACCINES

from . import rules, statusfile
from .models import (
    Counter,
    DecisionResult,
    ExemptionDecision,
    FeeCategory,
    FeeSetting,
    QueryState,
    StatusImport,
    StatusRecord,
    TaxQuery,
)
from .statusfile import StatusKind, TaxStatus

RESOURCE_SETTING = "fees.setting"
RESOURCE_STATUS = "fees.status"
RESOURCE_DECISION = "fees.exemption"
RESOURCE_QUERY = "fees.tax_query"
STAGE = "fees_status_stage"


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def _pg() -> bool:
    return connection.vendor == "postgresql"


def check_vaccine(code: str) -> str:
    c = (code or "").strip().upper()
    if c not in VACCINES:
        raise InputRejected(f"ワクチンコード {c[:20]} は定期接種のコードではありません。 / unknown vaccine code.")
    return c


def check_yen(amount: Any, what: str = "金額") -> int:
    """An amount in integer yen (never a float): ``1200``, ``"1,200"``, ``"１２００"``."""
    if isinstance(amount, (bool, float)):
        raise InputRejected(f"{what}は整数の円で入力してください。 / {what} must be whole yen.")
    if isinstance(amount, int):
        n = amount
    else:
        import unicodedata

        t = unicodedata.normalize("NFKC", str(amount)).replace(",", "").replace("円", "").strip()
        if not t.isdigit():
            raise InputRejected(f"{what}は0以上の整数（円）で入力してください。 / {what} must be whole yen.")
        n = int(t)
    if not 0 <= n <= 100_000_000:
        raise InputRejected(f"{what}は0円から1億円までです。 / {what} out of range.")
    return n


def next_serial(m: str, name: str) -> int:
    """The next number of a per-city serial (call inside a transaction)."""
    c, _ = Counter.objects.select_for_update().get_or_create(municipality=m, name=name)
    c.last += 1
    c.save(update_fields=["last"])
    return c.last


# --- fee settings (実費徴収額の設定) --------------------------------------------------------------


def yen_text(amount: int | None) -> str:
    return "未設定" if amount is None else f"{amount:,}円"


def set_fee(ctx: AccessContext, fiscal_year: int, vaccine: str, category: str, amount_yen: Any) -> tuple[str, str]:
    """Set what a person of ``category`` pays for ``vaccine`` in ``fiscal_year`` (integer yen).
    Returns (before, after) as text; the access-log entry carries both."""
    v = check_vaccine(vaccine)
    if category not in FeeCategory.values:
        raise InputRejected("負担区分が正しくありません。 / unknown fee category.")
    amount = check_yen(amount_yen, "実費徴収額")
    with door(ctx, Operation.UPDATE, resource=RESOURCE_SETTING) as rec:
        key: dict[str, Any] = {"municipality": _m(), "fiscal_year": fiscal_year, "vaccine": v, "category": category}
        old = FeeSetting.objects.select_for_update().filter(**key).values_list("amount_yen", flat=True).first()
        FeeSetting.objects.update_or_create(
            **key, defaults={"amount_yen": amount, "updated_by_id": ctx.staff_id, "updated_at": timezone.now()},
        )
        rec.detail = f"fee {fiscal_year} {v} {category}: {'-' if old is None else old} -> {amount}"
    return yen_text(old), yen_text(amount)


# --- tax and welfare status import (税・福祉情報の取込) --------------------------------------------


class StatusImportRejected(InputRejected):
    def __init__(self, message: str, summary: StatusSummary) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class StatusSummary:
    file: str
    applied: bool = False
    batch_id: int | None = None
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "batch_id": self.batch_id, "rows_read": self.rows_read,
                "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
                "problems": len([p for p in self.problems if p.severity == ERROR])}


def import_status(ctx: AccessContext, path: str | Path, *, encoding: str = "auto",
                  on_problem: Callable[[Problem], None] | None = None) -> StatusSummary:
    """Import the tax/welfare status file (docs/formats/tax-welfare.md), all or nothing.

    Upserts by (宛名番号, 種別, 年度 or 開始日). A file with any error (a bad cell, a duplicate row, a
    宛名番号 the registry does not know) applies nothing and raises :class:`StatusImportRejected`
    with every problem. Re-importing the same file reports everything unchanged.
    """
    p = Path(path)
    sf = statusfile.read_status_file(p, encoding)
    s = StatusSummary(file=p.name, rows_read=sf.rows_read, problems=list(sf.problems))
    started = timezone.now()
    sha = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""

    def refuse() -> StatusImportRejected:
        for pr in s.problems:
            if on_problem:
                on_problem(pr)
        n = len([x for x in s.problems if x.severity == ERROR])
        with transaction.atomic():
            b = StatusImport.objects.create(
                municipality=_m(), status="rejected", file_name=p.name[:255], file_sha256=sha, encoding=sf.encoding,
                operator_id=ctx.staff_id, terminal=ctx.terminal[:64], started_at=started, rows_read=s.rows_read,
                problems=n)
        s.batch_id = b.pk
        return StatusImportRejected(
            f"{p.name}: 取込を中止しました。{n}件の問題があります（何も反映していません）。"
            f" / {p.name}: import refused, {n} problem(s); nothing was applied.", s)

    if sf.errors:
        # Checked by the door first: a refused operator learns nothing about the file.
        with door(ctx, Operation.CREATE, resource=RESOURCE_STATUS, detail="status import (rejected)"):
            pass
        raise refuse()
    try:
        with door(ctx, Operation.CREATE, resource=RESOURCE_STATUS) as rec:
            batch = StatusImport.objects.create(
                municipality=_m(), status="applied", file_name=p.name[:255], file_sha256=sha, encoding=sf.encoding,
                operator_id=ctx.staff_id, terminal=ctx.terminal[:64], started_at=started, rows_read=s.rows_read)
            s.batch_id = batch.pk
            unknown = _apply_status(ctx, sf, batch, s)
            if unknown:
                s.problems += [Problem(p.name, row, statusfile.ATENA,
                                       f"宛名番号 {a} は台帳に登録されていません。 / unknown 宛名番号 {a}.")
                               for row, a in unknown]
                raise _Rollback
            batch.inserted, batch.updated, batch.unchanged = s.inserted, s.updated, s.unchanged
            batch.save(update_fields=["inserted", "updated", "unchanged"])
            rec.detail = (f"status import batch={batch.pk} inserted={s.inserted} updated={s.updated} "
                          f"unchanged={s.unchanged}")
    except _Rollback:
        s.inserted = s.updated = s.unchanged = 0
        raise refuse() from None
    except AccessDenied:
        raise
    s.applied = True
    return s


class _Rollback(Exception):  # internal signal: undo the batch, then refuse the file
    pass


def _apply_status(ctx: AccessContext, sf: statusfile.StatusFile, batch: StatusImport,
                  s: StatusSummary) -> list[tuple[int, str]]:
    """Check the rows' persons against the register, then stage the rows and upsert in SQL. Returns
    the (row, 宛名番号) the register does not know; then nothing is written."""
    # The register is read through its selector (one logged read of the file's persons).
    known = {f.atena_no for f in people.bulk_facts(ctx, {r.atena_no for r in sf.rows})}
    unknown = [(r.row, r.atena_no) for r in sf.rows if r.atena_no not in known]
    if unknown:
        return sorted(unknown)
    m = _m()
    cols = ("atena_no", "kind", "key", "tax_year", "tax_status", "valid_from", "valid_until")
    pg = _pg()

    def d(x: date | None) -> Any:
        return x if pg or x is None else x.isoformat()

    rows = [(r.atena_no, int(r.kind), r.key, r.tax_year, int(r.tax_status) if r.tax_status else None,
             d(r.valid_from), d(r.valid_until)) for r in sf.rows]
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {STAGE}")
        tail = " ON COMMIT DROP" if pg else ""
        cur.execute(f"CREATE TEMPORARY TABLE {STAGE} (atena_no text, kind smallint, key text, tax_year smallint,"
                    f" tax_status smallint, valid_from date, valid_until date){tail}")
        if pg:
            raw: Any = cur.cursor
            with raw.copy(f"COPY {STAGE} ({', '.join(cols)}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
        else:
            cur.executemany(f"INSERT INTO {STAGE} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})", rows)
        cur.execute(f"CREATE INDEX {STAGE}_k ON {STAGE} (atena_no, kind, key)")
        ne = "IS DISTINCT FROM" if pg else "IS NOT"
        differs = " OR ".join(f"t.{c} {ne} s.{c}" for c in ("tax_year", "tax_status", "valid_from", "valid_until"))
        join = "t.municipality = %s AND t.atena_no = s.atena_no AND t.kind = s.kind AND t.key = s.key"
        cur.execute(f"SELECT count(*) FROM {STAGE} s JOIN fees_status t ON {join} WHERE {differs}", [m])
        s.updated = int(cur.fetchone()[0])
        cur.execute(f"SELECT count(*) FROM {STAGE} s JOIN fees_status t ON {join}", [m])
        s.unchanged = int(cur.fetchone()[0]) - s.updated
        s.inserted = len(rows) - s.updated - s.unchanged
        if s.updated:
            cur.execute(
                f"UPDATE fees_status AS t SET tax_year = s.tax_year, tax_status = s.tax_status, "
                f"valid_from = s.valid_from, valid_until = s.valid_until, source = 'import', batch_id = %s, "
                f"updated_at = %s FROM {STAGE} s WHERE {join} AND ({differs})", [batch.pk, now, m])
        cur.execute(
            f"INSERT INTO fees_status (municipality, atena_no, kind, key, tax_year, tax_status, valid_from, "
            f"valid_until, source, batch_id, updated_at) SELECT %s, s.atena_no, s.kind, s.key, s.tax_year, "
            f"s.tax_status, s.valid_from, s.valid_until, 'import', %s, %s FROM {STAGE} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM fees_status t WHERE {join})", [m, batch.pk, now, m])
        if not pg:
            cur.execute(f"DROP TABLE IF EXISTS {STAGE}")
    return []


# --- the exemption check on application (免除の可否確認) -------------------------------------------


def _facts(m: str, members: list[people.PersonView], tax_year: int, on: date) -> list[rules.MemberFacts]:
    ids = [p.atena_no for p in members]
    recs: list[dict[str, Any]] = [dict(r) for r in StatusRecord.objects.filter(municipality=m, atena_no__in=ids).values(
        "atena_no", "kind", "tax_year", "tax_status", "valid_from", "valid_until", "source")]
    out = []
    for p in members:
        mine = [r for r in recs if r["atena_no"] == p.atena_no]
        tax = next((r for r in mine if r["kind"] == StatusKind.RESIDENT_TAX and r["tax_year"] == tax_year), None)

        def active(kind: int, mine: list[dict[str, Any]] = mine) -> bool:
            return any(r["kind"] == kind and r["valid_from"] <= on and (r["valid_until"] is None
                       or r["valid_until"] >= on) for r in mine)

        out.append(rules.MemberFacts(
            atena_no=p.atena_no, birth_date=p.birth_date, relationship=p.relationship,
            tax_status=TaxStatus(tax["tax_status"]) if tax and tax["tax_status"] else None,
            tax_source=tax["source"] if tax else "",
            welfare=active(StatusKind.WELFARE), china_support=active(StatusKind.CHINA_SUPPORT)))
    return out


def _amount_due(m: str, fy: int, vaccine: str, category: str) -> int | None:
    row = FeeSetting.objects.filter(municipality=m, fiscal_year=fy, vaccine=vaccine, category=category).first()
    return row.amount_yen if row else None


def check_exemption(ctx: AccessContext, atena_no: str, vaccine: str, applied_on: date | None = None) -> int:
    """Decide an application for exemption (免除の可否確認) and record it with its basis.

    Reads the person and the household (``people`` selectors, logged under this purpose) and the
    members' tax and welfare status; a member without a record of 1 January of the 年度 gets a tax
    query to their municipality of that date (pending until answered). Returns the decision id.
    """
    v = check_vaccine(vaccine)
    on = applied_on or timezone.localdate()
    a = str(atena_no).strip()
    with door(ctx, Operation.CREATE, resource=RESOURCE_DECISION, target=a) as rec:
        m = _m()
        person = people.get_person(ctx, a)
        if not person.is_resident:
            raise InputRejected(f"宛名番号 {a} は現在住民ではありません（{person.status_label}）。"
                                " / this person is not a resident.")
        members = [p for p in people.household_members(ctx, person.household_no) if p.is_resident]
        tax_year = rules.tax_year_for(on)
        outcome = rules.decide(_facts(m, members, tax_year, on), tax_year)
        fy = fiscal_year(on)
        now = timezone.now()
        d = ExemptionDecision.objects.create(
            municipality=m, decision_no=f"{fy}{next_serial(m, f'decision{fy}'):06d}", atena_no=a,
            household_no=person.household_no, vaccine=v, applied_on=on, fiscal_year=fy, tax_year=tax_year,
            result=outcome.result, category=outcome.category, reason=outcome.reason, basis=outcome.basis,
            amount_due_yen=_amount_due(m, fy, v, outcome.category), decided_by_id=ctx.staff_id, decided_at=now)
        for member in outcome.to_query:
            q = TaxQuery.objects.create(municipality=m, decision=d, atena_no=member, tax_year=tax_year, created_at=now)
            _send_query(ctx, q)
        rec.targets = [a, *(p.atena_no for p in members if p.atena_no != a)]
        rec.detail = f"exemption decision={d.decision_no} result={d.result}"
    return d.pk


def _send_query(ctx: AccessContext, q: TaxQuery) -> None:
    """Send the tax query through the exchange (中間サーバー経由の情報照会, decisions 121 and 083).

    ``exchange.services.query_tax_status`` queues it to the municipality the household came from and
    sends it once this transaction commits; its id is kept in ``exchange_ref`` (state ``sent``) and
    the answer comes back through ``apply_exchange_answer``. When the exchange cannot tell where the
    household came from, the query stays ``pending`` for staff (``answer_query``)."""
    from yobo.exchange import services as exchange

    ref = exchange.query_tax_status(ctx, atena_no=q.atena_no, tax_year=q.tax_year)
    if ref is None:
        return
    q.exchange_ref, q.state = str(ref)[:64], QueryState.SENT
    q.save(update_fields=["exchange_ref", "state"])


def apply_exchange_answer(ctx: AccessContext, result: Any) -> None:
    """Take the answer to a tax query from the exchange (registered at app ready, decision 083):
    a provided status is recorded and the application decided again (``answer_query``, F01);
    ``not_found``/``withheld`` leave the query for staff."""
    fctx = ctx.for_purpose(Purpose.FEE_EXEMPTION)
    with door(fctx, Operation.READ, resource=RESOURCE_QUERY, target=result.atena_no, detail="exchange answer"):
        q = TaxQuery.objects.filter(municipality=_m(), exchange_ref=result.query_id).first()
    if q is None or q.state == QueryState.ANSWERED:
        return
    rows = [r for r in result.items if str(r.get("tax_year")) == str(q.tax_year)]
    if result.outcome != "provided" or len(rows) != 1:
        return
    answer_query(fctx, q.pk, int(rows[0]["tax_status"]))


def answer_query(ctx: AccessContext, query_id: int, tax_status: int) -> int:
    """Record the other municipality's answer to a tax query (照会結果の受領) and decide again.

    The answer is kept as the member's record of that 年度 (source ``exchange``); when no query of
    the decision is left open, the decision is made again from the full facts and the earlier
    result is kept in its history. Returns the decision id.
    """
    try:
        status = TaxStatus(int(tax_status))
    except ValueError:
        raise InputRejected("課税区分は 1/課税, 2/非課税, 3/未申告 のいずれかです。 / use 1, 2 or 3.") from None
    with door(ctx, Operation.UPDATE, resource=RESOURCE_QUERY) as rec:
        m = _m()
        q = TaxQuery.objects.select_for_update().filter(municipality=m, pk=query_id).first()
        if q is None:
            raise InputRejected(f"照会 {query_id} はありません。 / no such query.")
        if q.state == QueryState.ANSWERED:
            raise InputRejected("この照会は回答済みです。 / this query is already answered.")
        now = timezone.now()
        q.state, q.answer_status, q.answered_at, q.answered_by_id = QueryState.ANSWERED, int(status), now, ctx.staff_id
        q.save()
        StatusRecord.objects.update_or_create(
            municipality=m, atena_no=q.atena_no, kind=int(StatusKind.RESIDENT_TAX), key=str(q.tax_year),
            defaults={"tax_year": q.tax_year, "tax_status": int(status), "source": "exchange", "batch": None,
                      "updated_at": now})
        d = ExemptionDecision.objects.select_for_update().get(pk=q.decision_id)
        rec.targets = [q.atena_no, d.atena_no] if q.atena_no != d.atena_no else [d.atena_no]
        if not TaxQuery.objects.filter(decision=d).exclude(state=QueryState.ANSWERED).exists():
            _redecide(ctx, d)
        rec.detail = f"tax query={q.pk} answered decision={d.decision_no} result={d.result}"
    return d.pk


def _redecide(ctx: AccessContext, d: ExemptionDecision) -> None:
    person = people.get_person(ctx, d.atena_no)
    members = [p for p in people.household_members(ctx, person.household_no) if p.is_resident]
    outcome = rules.decide(_facts(d.municipality, members, d.tax_year, d.applied_on), d.tax_year)
    d.history = [*d.history, {"result": d.result, "category": d.category, "reason": d.reason,
                              "decided_at": d.decided_at.isoformat(), "decided_by": d.decided_by_id}]
    d.result, d.category, d.reason, d.basis = outcome.result, outcome.category, outcome.reason, outcome.basis
    d.amount_due_yen = _amount_due(d.municipality, d.fiscal_year, d.vaccine, d.category)
    d.decided_by_id, d.decided_at = ctx.staff_id, timezone.now()
    d.save()
    now = timezone.now()
    for member in outcome.to_query:  # a member still unknown (e.g. the household changed): ask again
        q = TaxQuery.objects.create(municipality=d.municipality, decision=d, atena_no=member, tax_year=d.tax_year,
                                    created_at=now)
        _send_query(ctx, q)


def issue_certificate(ctx: AccessContext, decision_id: int, out: str | Path) -> Path:
    """Write the exemption certificate (予防接種費用免除証明書) PDF for an exempt decision.

    The person shows it at the clinic, which then collects no fee. Logged as an ISSUE of the person.
    """
    from . import certificate

    with door(ctx, Operation.ISSUE, resource=RESOURCE_DECISION) as rec:
        d = ExemptionDecision.objects.select_for_update().filter(municipality=_m(), pk=decision_id).first()
        if d is None:
            raise InputRejected(f"免除決定 {decision_id} はありません。 / no such decision.")
        rec.targets = [d.atena_no]
        if d.result != DecisionResult.EXEMPT:
            raise InputRejected("免除に該当しない（または照会中の）決定には証明書を発行できません。"
                                " / only an exempt decision gets a certificate.")
        person = people.get_person(ctx, d.atena_no)
        d.certificate_count += 1
        d.certificate_issued_at = timezone.now()
        d.save(update_fields=["certificate_count", "certificate_issued_at"])
        path = certificate.draw(Path(out), certificate.CertificateData(
            decision_no=d.decision_no, issue_no=d.certificate_count, name=person.name_kanji, kana=person.name_kana,
            birth_date=person.birth_date, address=person.address, vaccine=d.vaccine,
            category=FeeCategory(d.category).label,
            fiscal_year=d.fiscal_year, applied_on=d.applied_on, issued_on=timezone.localdate(),
            municipality=d.municipality))
        rec.detail = f"exemption certificate decision={d.decision_no} issue={d.certificate_count}"
    return path
