"""Writes of exchange (情報連携): linkage codes, copy registration, queries, answers, release of held
answers, purge and reconciliation. Every function takes an ``AccessContext`` and runs inside the
audit door; network calls to the hub happen outside database transactions.

Purposes: X03 副本登録 (copies, codes), X01 情報照会 (queries and their answers), X02 情報提供
(answering), G02 保存期間満了による削除 (purge). Acquiring a linkage code reads the My Number
under M01 (番号連携: the 符号 is requested when a number is registered), so it needs that purpose
and the My Number right. See docs/decisions/080–083.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Operation, Purpose
from yobo.mynumber import selectors as mynumber
from yobo.people import protection
from yobo.people import selectors as people

from . import conf, crypto, ledger, registry
from .client import HubRefused, HubUnavailable
from .items import IMMUNIZATION_HISTORY, ITEM_SETS, RESIDENT_TAX, only_allowed
from .models import (
    CopyEntry,
    CopyRun,
    InboxEvent,
    LinkageCode,
    Outbox,
    Provision,
    ProvisionState,
    Query,
    QueryState,
    SeenMessage,
)

log = logging.getLogger(__name__)
RESOURCE_CODE = "exchange.code"
RESOURCE_COPY = "exchange.copy"
RESOURCE_QUERY = "exchange.query"
RESOURCE_PROVISION = "exchange.provision"
# A delivery may wait at the hub while the city is down; older than this it is refused as stale.
# Seen ids are kept twice as long, so a replay inside the window is always caught by its id.
DELIVERY_MAX_AGE = 7 * 24 * 3600
SEEN_KEEP = timedelta(seconds=2 * DELIVERY_MAX_AGE)
MAX_BACKOFF = 3600
FINAL_QUERY_STATES = (QueryState.ANSWERED, QueryState.NOT_FOUND, QueryState.WITHHELD, QueryState.REFUSED,
                      QueryState.ABANDONED)


class ExchangeRejected(InputRejected):
    """Bad exchange input (unknown item, own code as provider, no My Number, …); nothing changed."""


def _m() -> str:
    return conf.municipality()


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def _request(kind: str, **fields: Any) -> str:
    """A signed request to the hub, with a new message id and the current time."""
    keys = conf.my_keys()
    return crypto.sign({"type": kind, "sender": keys.party, "msg_id": crypto.new_message_id(),
                        "sent_at": crypto.stamp(), **fields}, keys)


# --- linkage codes (符号) ---------------------------------------------------------------------------


def acquire_codes(ctx: AccessContext, atena_nos: Iterable[str]) -> dict[str, int]:
    """Obtain this city's linkage codes for persons who have none yet (符号取得).

    For each person, the My Number is read from the vault (purpose M01, logged) only to compute the
    keyed linkage token; the hub gets the tokens, never a number, and returns the codes sealed to
    this city. Persons without a registered My Number are counted as ``no_number``.
    """
    m = _m()
    wanted = sorted({str(a).strip() for a in atena_nos})
    op = Operation.BATCH if ctx.purpose == Purpose.COPY_REGISTRATION else Operation.READ
    with door(ctx, op, resource=RESOURCE_CODE, detail="codes held") as rec:
        have: set[str] = set()
        for i in range(0, len(wanted), 500):
            have.update(LinkageCode.objects.filter(municipality=m, atena_no__in=wanted[i:i + 500])
                        .values_list("atena_no", flat=True))
        rec.targets = [""]
    missing = [a for a in wanted if a not in have]
    if not missing:
        return {"acquired": 0, "held": len(have), "no_number": 0}
    key = crypto.read_linkage_key(conf.linkage_key_path())
    reveal_ctx = ctx.for_purpose(Purpose.MYNUMBER_REGISTRATION)
    pending: list[tuple[str, str, str]] = []
    no_number = 0
    for a in missing:
        info = mynumber.status(ctx, a)
        if not info.registered or not info.integrated_no:
            no_number += 1
            continue
        token = crypto.linkage_token(key, mynumber.reveal(reveal_ctx, a))
        pending.append((a, info.integrated_no, token))
    if not pending:
        return {"acquired": 0, "held": len(have), "no_number": no_number}
    reply = conf.client().codes(_request("codes", tokens=[t for _, _, t in pending]))
    obj = crypto.unseal(reply, conf.my_keys(), conf.hub_entry())
    codes = [str(c) for c in obj.get("codes") or []]
    if len(codes) != len(pending):
        raise crypto.MessageRejected("malformed")
    now = timezone.now()
    write_op = Operation.BATCH if ctx.purpose == Purpose.COPY_REGISTRATION else Operation.CREATE
    with door(ctx, write_op, resource=RESOURCE_CODE, detail=f"codes acquired={len(codes)}") as rec:
        LinkageCode.objects.bulk_create(
            [LinkageCode(municipality=m, atena_no=a, integrated_no=ino, code=c, acquired_at=now)
             for (a, ino, _), c in zip(pending, codes, strict=True)],
            ignore_conflicts=True,
        )
        rec.targets = [a for a, _, _ in pending]
    return {"acquired": len(codes), "held": len(have), "no_number": no_number}


def _code_of(atena_no: str) -> str | None:
    return LinkageCode.objects.filter(municipality=_m(), atena_no=atena_no).values_list("code", flat=True).first()


# --- copy registration (副本登録) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopySummary:
    run_id: int
    persons: int
    inserted: int
    updated: int
    deleted: int
    unchanged: int
    codes: dict[str, int]


def register_copies(
    ctx: AccessContext,
    *,
    atena_nos: Iterable[str] | None = None,
    originals: Iterable[ledger.OriginalDose] | None = None,
    acquire: bool = True,
) -> CopySummary:
    """Bring the copy (副本) in line with the dose records (原本): all persons, or only ``atena_nos``
    (on change). Only date, vaccine and dose are copied. Set-based and idempotent: a re-run
    changes nothing. Purpose X03, operation BATCH; the log names every person whose copy changed."""
    m = _m()
    subset = sorted({str(a).strip() for a in atena_nos}) if atena_nos is not None else None
    rows = list(originals) if originals is not None else ledger.original_doses(ctx, subset)
    desired: dict[tuple[str, str, int], date] = {}
    for r in rows:
        if subset is None or r.atena_no in subset:
            desired[(r.atena_no, r.vaccine, int(r.dose))] = r.given_on
    now = timezone.now()
    with door(ctx, Operation.BATCH, resource=RESOURCE_COPY, detail="register copies") as rec:
        qs = CopyEntry.objects.filter(municipality=m)
        existing: dict[tuple[str, str, int], tuple[int, date]] = {}
        chunks = [subset[i:i + 500] for i in range(0, len(subset), 500)] if subset is not None else [None]
        for chunk in chunks:
            q = qs if chunk is None else qs.filter(atena_no__in=chunk)
            for pk, a, v, d, g in q.values_list("pk", "atena_no", "vaccine", "dose", "given_on"):
                existing[(a, v, d)] = (pk, g)
        inserts = [CopyEntry(municipality=m, atena_no=a, vaccine=v, dose=d, given_on=g, registered_at=now)
                   for (a, v, d), g in desired.items() if (a, v, d) not in existing]
        updates = [(existing[k][0], g) for k, g in desired.items() if k in existing and existing[k][1] != g]
        deletes = [pk for k, (pk, _) in existing.items() if k not in desired]
        CopyEntry.objects.bulk_create(inserts, batch_size=1000)
        for pk, g in updates:
            CopyEntry.objects.filter(pk=pk).update(given_on=g, registered_at=now)
        for i in range(0, len(deletes), 500):
            CopyEntry.objects.filter(pk__in=deletes[i:i + 500]).delete()
        changed = {e.atena_no for e in inserts}
        changed |= {k[0] for k, g in desired.items() if k in existing and existing[k][1] != g}
        changed |= {k[0] for k in existing if k not in desired}
        persons = {k[0] for k in desired}
        run = CopyRun.objects.create(
            municipality=m, mode="full" if subset is None else "persons", operator=ctx.username,
            terminal=ctx.terminal, started_at=now, finished_at=timezone.now(), persons=len(persons),
            inserted=len(inserts), updated=len(updates), deleted=len(deletes),
            unchanged=len(desired) - len(inserts) - len(updates),
        )
        rec.targets = sorted(changed) or [""]
        rec.detail = f"copy run {run.pk}: +{len(inserts)} ~{len(updates)} -{len(deletes)}"
    codes = acquire_codes(ctx, sorted(persons)) if acquire and persons else {"acquired": 0, "held": 0, "no_number": 0}
    return CopySummary(run.pk, len(persons), run.inserted, run.updated, run.deleted, run.unchanged, codes)


# --- queries (情報照会) -----------------------------------------------------------------------------


def _check_code(code: str) -> str:
    c = str(code).strip()
    if len(c) != 6 or not c.isdigit():
        raise ExchangeRejected(f"地方公共団体コード {c!r} は6桁の数字です。 / A municipality code has 6 digits.")
    return c


def _check_params(item_set: str, params: dict[str, Any] | None) -> dict[str, Any]:
    if item_set == RESIDENT_TAX.code:
        raw = (params or {}).get("tax_year")
        try:
            year = int(str(raw))
        except ValueError:
            raise ExchangeRejected("税情報の照会には年度 (tax_year) が必要です。 / tax_year is needed.") from None
        if not 2000 <= year <= 2100:
            raise ExchangeRejected(f"年度 {year} は範囲外です。 / tax_year out of range.")
        return {"tax_year": year}
    return {}


def send_query(ctx: AccessContext, atena_no: str, provider: str, item_set: str = IMMUNIZATION_HISTORY.code,
               params: dict[str, Any] | None = None) -> str:
    """Query another municipality about one of our persons (usually moved in); returns the query id.

    The person is named by this city's linkage code only; the hub translates it to the provider's.
    The query is saved first and sent at once when the hub answers, else retried later (never lost).
    ``params`` travel sealed with the query (``tax_year`` for ``resident_tax_status``). Purpose X01."""
    a = str(atena_no).strip()
    p = _check_code(provider)
    if p == _m():
        raise ExchangeRejected("自団体には照会できません。 / A city cannot query itself.")
    if item_set not in ITEM_SETS:
        raise ExchangeRejected(f"照会できない項目です: {item_set} / Unknown item set.")
    checked = _check_params(item_set, params)
    people.get_person(ctx, a)
    if _code_of(a) is None:
        try:
            got: dict[str, int] | None = acquire_codes(ctx, [a])
        except HubUnavailable:
            got = None  # the code is requested again before the permit, when the hub is back
        if got is not None and got["no_number"]:
            raise ExchangeRejected(
                f"宛名番号 {a} は個人番号が登録されていないため照会できません。 / No My Number is registered for {a}."
            )
    with door(ctx, Operation.CREATE, resource=RESOURCE_QUERY, target=a, detail=f"query {p} {item_set}"):
        q = Query.objects.create(
            municipality=_m(), query_id=crypto.new_message_id(), atena_no=a, provider=p, item_set=item_set,
            params=checked, requested_by=ctx.username, terminal=ctx.terminal, created_at=timezone.now(),
        )
    flush(ctx)
    return q.query_id


def query_tax_status(ctx: AccessContext, *, atena_no: str, tax_year: int, provider: str | None = None) -> str | None:
    """Queue a query for a person's resident-tax status of ``tax_year`` (地方税関係情報) to the
    municipality that assessed it; returns the query id, or None when the provider is not known.

    Called by ``fees`` inside its own door (purpose F01, decision 121), so nothing here talks to the
    hub inside that transaction: the query is saved ``queued`` and sent when the caller's transaction
    commits (or by the next ``yobo exchange send|inbox``). The provider, unless given, is the
    municipality this city last queried about the person or a member of the household — the city
    the family moved from (decision 083); with none, the caller keeps the query for staff."""
    a = str(atena_no).strip()
    checked = _check_params(RESIDENT_TAX.code, {"tax_year": tax_year})
    person = people.get_person(ctx, a)
    p = _check_code(provider) if provider else _previous_municipality(ctx, a, person.household_no)
    if p is None or p == _m():
        return None
    with door(ctx, Operation.CREATE, resource=RESOURCE_QUERY, target=a, detail=f"query {p} {RESIDENT_TAX.code}"):
        q = Query.objects.create(
            municipality=_m(), query_id=crypto.new_message_id(), atena_no=a, provider=p, item_set=RESIDENT_TAX.code,
            params=checked, requested_by=ctx.username, terminal=ctx.terminal, created_at=timezone.now(),
        )
    transaction.on_commit(lambda: _flush_quietly(ctx))
    return q.query_id


def _previous_municipality(ctx: AccessContext, atena_no: str, household_no: str) -> str | None:
    """The provider of the latest query about this person, else about a member of the household."""
    members = [m.atena_no for m in people.household_members(ctx, household_no)] if household_no else []
    with door(ctx, Operation.READ, resource=RESOURCE_QUERY, target=atena_no, detail="previous municipality"):
        for who in ([atena_no], [m for m in members if m != atena_no]):
            found = (Query.objects.filter(municipality=_m(), atena_no__in=who).exclude(provider=_m())
                     .order_by("-created_at", "-pk").values_list("provider", flat=True).first())
            if found:
                return str(found)
    return None


def _flush_quietly(ctx: AccessContext) -> None:
    """Send now if this operator may (X01) and the hub answers; otherwise the queue waits (never lost)."""
    try:
        flush(ctx)
    except (AccessDenied, HubUnavailable, HubRefused, crypto.MessageRejected, FileNotFoundError) as exc:
        log.info("exchange: queued query left for the next send (%s)", type(exc).__name__)


def abandon(ctx: AccessContext, query_id: str) -> None:
    """Abandon a query still waiting (中断); its result, if one comes, is refused."""
    with door(ctx, Operation.UPDATE, resource=RESOURCE_QUERY, detail="abandon") as rec:
        q = Query.objects.select_for_update().filter(municipality=_m(), query_id=query_id).first()
        if q is None:
            raise ExchangeRejected(f"照会 {query_id} がありません。 / No query {query_id}.")
        rec.targets = [q.atena_no]
        if q.state in FINAL_QUERY_STATES:
            raise ExchangeRejected("この照会は既に完了しています。 / The query is already complete.")
        q.state, q.completed_at = QueryState.ABANDONED, timezone.now()
        q.save(update_fields=["state", "completed_at"])


def _query_ctx(ctx: AccessContext) -> AccessContext:
    return ctx if ctx.purpose == Purpose.EXCHANGE_QUERY else ctx.for_purpose(Purpose.EXCHANGE_QUERY)


def _request_permit(ctx: AccessContext, q: Query) -> None:
    """Ask the hub for a permit and put the sealed query in the outbox (or back off / refuse)."""
    now = timezone.now()
    try:
        if _code_of(q.atena_no) is None:
            acquire_codes(ctx, [q.atena_no])
        code = _code_of(q.atena_no) or ""
        permit_token = conf.client().permit(
            _request("permit", provider=q.provider, item_set=q.item_set, code=code))
        permit = crypto.verify(permit_token, conf.hub_entry())
        if (permit.get("asker"), permit.get("provider"), permit.get("item_set")) != (_m(), q.provider, q.item_set):
            raise crypto.MessageRejected("malformed")
        envelope = _envelope("query", q.provider, str(permit["permit_id"]),
                             {"query_id": q.query_id, "asker": _m(), "provider": q.provider,
                              "item_set": q.item_set, "params": q.params or {}})
    except (HubUnavailable, AccessDenied) as exc:
        # No code yet and this operator may not read the number to get one (M01 + the My Number
        # right): wait like a hub outage, for an operator who may (or the copy registration run).
        why = (f"中継サーバーに接続できません / hub unavailable ({exc})" if isinstance(exc, HubUnavailable)
               else "符号未取得: M01と個人番号参照権限のある職員の送信待ち / no linkage code yet (needs M01)")
        with door(ctx, Operation.UPDATE, resource=RESOURCE_QUERY, target=q.atena_no, detail="permit deferred"):
            q.attempts += 1
            q.next_attempt_at = now + _backoff(q.attempts)
            q.last_error = why[:200]
            q.save(update_fields=["attempts", "next_attempt_at", "last_error"])
        return
    except (HubRefused, crypto.MessageRejected) as exc:
        with door(ctx, Operation.UPDATE, resource=RESOURCE_QUERY, target=q.atena_no, detail="refused"):
            q.state, q.completed_at = QueryState.REFUSED, now
            q.last_error = str(exc)[:200]
            q.save(update_fields=["state", "completed_at", "last_error"])
        return
    with door(ctx, Operation.UPDATE, resource=RESOURCE_QUERY, target=q.atena_no, detail="permit"):
        q.permit_id, q.clause = str(permit["permit_id"]), str(permit.get("clause", ""))[:200]
        q.last_error = ""
        q.save(update_fields=["permit_id", "clause", "last_error"])
        _queue(envelope)


def _envelope(kind: str, receiver: str, permit_id: str, content: dict[str, Any],
              outcome: str | None = None) -> dict[str, Any]:
    """The unsigned envelope (signed at each send attempt) around content sealed to the receiver."""
    msg_id = crypto.new_message_id()
    sealed = crypto.seal({"type": kind, "msg_id": msg_id, **content}, conf.my_keys(), conf.member(receiver))
    env: dict[str, Any] = {"type": "message", "sender": _m(), "receiver": receiver, "permit_id": permit_id,
                           "msg_id": msg_id, "kind": kind, "content": sealed}
    if outcome is not None:
        env["outcome"] = outcome
    return env


def _queue(envelope: dict[str, Any]) -> None:
    now = timezone.now()
    Outbox.objects.create(
        municipality=_m(), msg_id=envelope["msg_id"], kind=envelope["kind"], receiver=envelope["receiver"],
        permit_id=envelope["permit_id"], envelope=json.dumps(envelope), created_at=now, next_attempt_at=now,
    )


def flush(ctx: AccessContext, *, now: datetime | None = None) -> dict[str, int]:
    """Send what waits: queued queries get a permit, then every due outbox message goes to the hub.
    A hub that does not answer is retried with exponential backoff (5 s … 1 h)."""
    m = _m()
    now = now or timezone.now()
    qctx = _query_ctx(ctx)
    with door(qctx, Operation.SEARCH, resource=RESOURCE_QUERY, detail="queued queries") as rec:
        queued = list(Query.objects.filter(municipality=m, state=QueryState.QUEUED, permit_id=""))
        queued = [q for q in queued if q.next_attempt_at is None or q.next_attempt_at <= now]
        rec.targets = [q.atena_no for q in queued] or [""]
    for q in queued:
        _request_permit(qctx, q)
    due_by = max(now, timezone.now())  # messages queued just now by the permits above are due
    due = list(Outbox.objects.filter(municipality=m, sent_at__isnull=True, next_attempt_at__lte=due_by)
               .order_by("pk"))
    sent = failed = 0
    keys = conf.my_keys()
    for o in due:
        env = json.loads(o.envelope)
        env["sent_at"] = crypto.stamp()  # signed afresh at each attempt; the message id stays
        try:
            conf.client().send(crypto.sign(env, keys))
            ok = True
        except HubUnavailable as exc:
            o.attempts += 1
            o.next_attempt_at = timezone.now() + _backoff(o.attempts)
            o.last_error = f"hub unavailable ({exc})"[:200]
            o.save(update_fields=["attempts", "next_attempt_at", "last_error"])
            failed += 1
            continue
        except HubRefused as exc:
            # A retry whose first attempt reached the hub is refused as a replay: it was delivered.
            ok = exc.reason == "replayed" and o.attempts > 0
            if not ok:
                _refused_outbox(qctx, o, exc)
                failed += 1
                continue
        if ok:
            _sent_outbox(qctx, o)
            sent += 1
    return {"queries": len(queued), "sent": sent, "failed": failed}


def _sent_outbox(ctx: AccessContext, o: Outbox) -> None:
    now = timezone.now()
    o.sent_at, o.envelope, o.last_error = now, "", ""  # the sealed content is not kept once the hub has it
    o.save(update_fields=["sent_at", "envelope", "last_error"])
    if o.kind == "query":
        q = Query.objects.filter(municipality=_m(), permit_id=o.permit_id).first()
        if q is not None and q.state == QueryState.QUEUED:
            with door(ctx, Operation.UPDATE, resource=RESOURCE_QUERY, target=q.atena_no, detail="sent"):
                q.state, q.sent_at = QueryState.SENT, now
                q.save(update_fields=["state", "sent_at"])


def _refused_outbox(ctx: AccessContext, o: Outbox, exc: HubRefused) -> None:
    o.attempts += 1
    o.last_error = f"{exc.reason}: {exc}"[:200]
    o.next_attempt_at = timezone.now() + timedelta(days=3650)  # parked; visible to staff
    o.save(update_fields=["attempts", "last_error", "next_attempt_at"])
    if o.kind == "query":
        q = Query.objects.filter(municipality=_m(), permit_id=o.permit_id).first()
        if q is not None:
            with door(ctx, Operation.UPDATE, resource=RESOURCE_QUERY, target=q.atena_no, detail="refused"):
                q.state, q.completed_at, q.last_error = QueryState.REFUSED, timezone.now(), str(exc)[:200]
                q.save(update_fields=["state", "completed_at", "last_error"])


# --- receiving (受信: queries to answer, answers to our queries) -----------------------------------------


@dataclass(frozen=True, slots=True)
class PollSummary:
    received: int
    rejected: int
    answered: int
    held: int
    results: int


def poll(ctx: AccessContext) -> PollSummary:
    """Take the deliveries waiting at the hub, check each (hub signature, sender signature, our
    key, freshness, new id), answer queries (automatically, except for protected persons), store
    answers to our queries, and acknowledge them all; a refused message is recorded with its
    reason and dropped. Then send what the answers queued. Purpose X02 (answers to our queries are
    stored under X01)."""
    deliveries = conf.client().inbox(_request("inbox"))
    counts = {"rejected": 0, "answered": 0, "held": 0, "results": 0}
    done: list[int] = []
    stored: list[str] = []
    for d in deliveries:
        counts[_receive(ctx, str(d.get("token", "")), stored)] += 1
        done.append(int(d["id"]))
    if done:
        conf.client().ack(_request("ack", ids=done))
    _hand_over(ctx, stored)
    flush(ctx)
    return PollSummary(len(done) - counts["rejected"], counts["rejected"], counts["answered"], counts["held"],
                       counts["results"])


def _event(sender: str, msg_id: str, kind: str, outcome: str, reason: str = "") -> None:
    InboxEvent.objects.create(municipality=_m(), at=timezone.now(), sender=sender[:6], msg_id=msg_id[:64],
                              kind=kind[:10], outcome=outcome, reason=reason[:40])


def _hand_over(ctx: AccessContext, query_ids: list[str]) -> None:
    """Pass stored results to the app that asked (registered consumer, e.g. fees' tax query), each
    in its own transaction after the receive one: a consumer that fails (e.g. this operator lacks
    the consumer's purpose) leaves the result stored here for staff, and is logged."""
    for qid in query_ids:
        q = Query.objects.filter(municipality=_m(), query_id=qid).first()
        fn = registry.consumer(q.item_set) if q is not None else None
        if q is None or fn is None:
            continue
        outcome = "provided" if q.state == QueryState.ANSWERED else str(q.state)
        result = registry.Result(q.query_id, q.atena_no, q.provider, q.item_set, outcome, list(q.result or []),
                                 dict(q.params or {}))
        try:
            fn(ctx, result)
        except (AccessDenied, InputRejected) as exc:
            log.warning("exchange: result of %s not taken by its consumer (%s)", q.item_set, type(exc).__name__)


def _receive(ctx: AccessContext, token: str, stored: list[str] | None = None) -> str:
    m = _m()
    sender = msg_id = kind = ""
    try:
        delivery = crypto.verify(token, conf.hub_entry())
        env_token = str(delivery.get("envelope", ""))
        sender = crypto.signer_of(env_token)
        entry = conf.member(sender)
        env = crypto.verify(env_token, entry)
        msg_id, kind = str(env.get("msg_id", "")), str(env.get("kind", ""))
        if env.get("receiver") != m:
            raise crypto.MessageRejected("wrong_receiver")
        if env.get("sender") != sender or env.get("permit_id") != delivery.get("permit_id"):
            raise crypto.MessageRejected("malformed")
        crypto.fresh(env.get("sent_at"), window=DELIVERY_MAX_AGE)
        content = crypto.unseal(str(env.get("content", "")), conf.my_keys(), entry)
        if content.get("msg_id") != msg_id or content.get("type") != kind:
            raise crypto.MessageRejected("malformed")
        with transaction.atomic():
            try:
                with transaction.atomic():
                    SeenMessage.objects.create(municipality=m, sender=sender, msg_id=msg_id, seen_at=timezone.now())
            except IntegrityError:
                raise crypto.MessageRejected("replayed") from None
            if kind == "query":
                outcome = _answer_query(ctx, sender, env, content, delivery)
            elif kind == "answer":
                outcome = _store_answer(_query_ctx(ctx), sender, env, content)
                if stored is not None:
                    stored.append(str(content.get("query_id", "")))
            else:
                raise crypto.MessageRejected("malformed")
            _event(sender, msg_id, kind, "accepted")
        return outcome
    except crypto.MessageRejected as exc:
        log.warning("exchange message refused: %s (sender %s, kind %s)", exc.reason, sender, kind)
        _event(sender, msg_id, kind, "rejected", exc.reason)
        return "rejected"


def _answer_query(ctx: AccessContext, asker: str, env: dict[str, Any], content: dict[str, Any],
                  delivery: dict[str, Any]) -> str:
    """A query for one person: answered from the copy at once, held for review when the person is
    protected, answered 'not found' (releasing nothing) when no person here has that code or the
    query names another municipality."""
    m = _m()
    pctx = ctx if ctx.purpose == Purpose.EXCHANGE_PROVISION else ctx.for_purpose(Purpose.EXCHANGE_PROVISION)
    item_set = str(delivery.get("item_set", ""))
    code = str(delivery.get("code") or "")
    with door(pctx, Operation.READ, resource=RESOURCE_PROVISION, detail="match code") as rec:
        atena = ""
        if content.get("provider") == m and code and item_set in ITEM_SETS:
            atena = (LinkageCode.objects.filter(municipality=m, code=code)
                     .values_list("atena_no", flat=True).first() or "")
        rec.targets = [atena]
    items: list[dict[str, str]] = []
    if atena and item_set == IMMUNIZATION_HISTORY.code:
        with door(pctx, Operation.READ, resource=RESOURCE_COPY, target=atena, detail="answer from copy"):
            rows = list(CopyEntry.objects.filter(municipality=m, atena_no=atena).order_by("vaccine", "dose")
                        .values("vaccine", "dose", "given_on"))
        items = only_allowed(item_set, [{"vaccine": r["vaccine"], "dose": r["dose"],
                                         "date": r["given_on"].isoformat()} for r in rows])
    elif atena:
        # Another app holds this item set (decision 083); nothing registered here: nothing to release.
        fn = registry.provider(item_set)
        raw = content.get("params")
        params: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
        got = fn(pctx, atena, params) if fn is not None else None
        if got is None:
            atena = ""  # this city holds no such information about the person: not found
        else:
            items = only_allowed(item_set, list(got))
    held = bool(atena) and protection.is_protected(pctx, atena)
    state = ProvisionState.HELD if held else ProvisionState.SENT if atena else ProvisionState.NOT_FOUND
    now = timezone.now()
    with door(pctx, Operation.CREATE, resource=RESOURCE_PROVISION, target=atena, detail=f"provision {state}"):
        Provision.objects.create(
            municipality=m, msg_id=str(env["msg_id"]), query_id=str(content.get("query_id", ""))[:32], asker=asker,
            permit_id=str(env["permit_id"]), item_set=item_set, clause=str(delivery.get("clause", ""))[:200],
            atena_no=atena, state=state, answer=items if atena else None, received_at=now,
            answered_at=None if held else now,
        )
        if not held:
            outcome = "provided" if atena else "not_found"
            _queue(_envelope("answer", asker, str(env["permit_id"]),
                             {"query_id": content.get("query_id"), "provider": m, "outcome": outcome,
                              "items": items if atena else []}, outcome=outcome))
    return "held" if held else "answered"


def _store_answer(ctx: AccessContext, provider: str, env: dict[str, Any], content: dict[str, Any]) -> str:
    m = _m()
    with door(ctx, Operation.UPDATE, resource=RESOURCE_QUERY, detail="answer received") as rec:
        q = Query.objects.select_for_update().filter(
            municipality=m, query_id=str(content.get("query_id", "")), provider=provider,
            permit_id=str(env.get("permit_id", "")),
        ).first()
        if q is None or q.state not in (QueryState.SENT, QueryState.QUEUED):
            raise crypto.MessageRejected("malformed")
        rec.targets = [q.atena_no]
        outcome = str(content.get("outcome", ""))
        if outcome == "provided":
            q.state, q.result = QueryState.ANSWERED, only_allowed(q.item_set, list(content.get("items") or []))
        elif outcome == "not_found":
            q.state, q.result = QueryState.NOT_FOUND, []
        elif outcome == "withheld":
            q.state, q.result = QueryState.WITHHELD, []
        else:
            raise crypto.MessageRejected("malformed")
        q.completed_at = timezone.now()
        q.save(update_fields=["state", "result", "completed_at"])
    return "results"


# --- review of held answers (支援措置対象者の回答確認) ---------------------------------------------------------


def decide_held(ctx: AccessContext, provision_id: int, *, release: bool) -> None:
    """A staff member reviews a held answer: send it as prepared (``release``), or answer that
    nothing is provided. Purpose X02. Then the outbox is flushed."""
    with door(ctx, Operation.UPDATE, resource=RESOURCE_PROVISION, detail="release" if release else "withhold") as rec:
        p = Provision.objects.select_for_update().filter(municipality=_m(), pk=provision_id).first()
        if p is None:
            raise ExchangeRejected(f"提供記録 {provision_id} がありません。 / No provision {provision_id}.")
        rec.targets = [p.atena_no]
        if p.state != ProvisionState.HELD:
            raise ExchangeRejected("この回答は確認待ちではありません。 / This answer is not waiting for review.")
        now = timezone.now()
        outcome = "provided" if release else "withheld"
        items = list(p.answer or []) if release else []
        _queue(_envelope("answer", p.asker, p.permit_id,
                         {"query_id": p.query_id, "provider": _m(), "outcome": outcome, "items": items},
                         outcome=outcome))
        p.state = ProvisionState.RELEASED if release else ProvisionState.WITHHELD
        p.decided_by, p.decided_at, p.answered_at = ctx.username, now, now
        if not release:
            p.answer = []
        p.save(update_fields=["state", "decided_by", "decided_at", "answered_at", "answer"])
    flush(ctx)


# --- retention (照会結果の削除) --------------------------------------------------------------------------


def purge(ctx: AccessContext, *, days: int | None = None, now: datetime | None = None) -> dict[str, int]:
    """Delete the results of queries completed or abandoned more than ``days`` ago (default
    ``YOBO_EXCHANGE_RETENTION_DAYS``), abandon queries still unanswered after that long, drop the
    prepared answers of decided provisions as old, and forget old seen ids. Purpose G02, DELETE."""
    keep = conf.retention_days() if days is None else int(days)
    if keep < 0:
        raise ExchangeRejected("保存日数は0以上です。 / Days must be 0 or more.")
    now = now or timezone.now()
    cutoff = now - timedelta(days=keep)
    m = _m()
    with door(ctx, Operation.DELETE, resource=RESOURCE_QUERY, detail=f"purge results older than {keep} days") as rec:
        stale = Query.objects.filter(municipality=m, state__in=(QueryState.QUEUED, QueryState.SENT),
                                     created_at__lt=cutoff)
        abandoned = list(stale.values_list("atena_no", flat=True))
        stale.update(state=QueryState.ABANDONED, completed_at=now)
        qs = Query.objects.filter(municipality=m, state__in=FINAL_QUERY_STATES, completed_at__lt=cutoff,
                                  purged_at__isnull=True)
        if keep == 0:
            qs = Query.objects.filter(municipality=m, state__in=FINAL_QUERY_STATES, completed_at__lte=now,
                                      purged_at__isnull=True)
        atenas = list(qs.values_list("atena_no", flat=True))
        purged = qs.update(result=None, purged_at=now)
        ps = Provision.objects.filter(municipality=m, answered_at__lt=cutoff if keep else now + timedelta(seconds=1),
                                      answer__isnull=False).exclude(state=ProvisionState.HELD)
        patenas = list(ps.values_list("atena_no", flat=True))
        provisions = ps.update(answer=None)
        seen = SeenMessage.objects.filter(municipality=m, seen_at__lt=now - SEEN_KEEP).delete()[0]
        Outbox.objects.filter(municipality=m, sent_at__lt=cutoff).delete()
        rec.targets = sorted({*atenas, *abandoned, *(a for a in patenas if a)}) or [""]
    return {"purged": purged, "abandoned": len(abandoned), "provisions": provisions, "seen": seen}


# --- reconciliation (副本と原本の照合) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Difference:
    atena_no: str
    vaccine: str
    dose: int
    original: date | None
    copy: date | None

    @property
    def kind(self) -> str:
        if self.copy is None:
            return "missing_in_copy"
        if self.original is None:
            return "extra_in_copy"
        return "date_differs"


DIFFERENCE_LABELS = {"missing_in_copy": "副本になし", "extra_in_copy": "原本になし", "date_differs": "接種日が異なる"}


def reconcile(ctx: AccessContext, *, out: Path | None = None,
              originals: Iterable[ledger.OriginalDose] | None = None) -> dict[str, Any]:
    """Compare the copy with the original dose records and list every difference; with ``out``,
    write them as CSV (UTF-8 with BOM: 宛名番号, ワクチン, 回数, 原本接種日, 副本接種日, 差異).
    Purpose X03, operation BATCH. The file holds 宛名番号 and dates only, never a My Number."""
    m = _m()
    rows = list(originals) if originals is not None else ledger.original_doses(ctx, None)
    orig = {(r.atena_no, r.vaccine, int(r.dose)): r.given_on for r in rows}
    with door(ctx, Operation.BATCH, resource=RESOURCE_COPY, detail="reconcile") as rec:
        copy = {(a, v, d): g for a, v, d, g in CopyEntry.objects.filter(municipality=m)
                .values_list("atena_no", "vaccine", "dose", "given_on")}
        diffs = [Difference(k[0], k[1], k[2], orig.get(k), copy.get(k))
                 for k in sorted(orig.keys() | copy.keys()) if orig.get(k) != copy.get(k)]
        rec.targets = sorted({d.atena_no for d in diffs}) or [""]
        rec.detail = f"reconcile: {len(diffs)} differences"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(["宛名番号", "ワクチン", "回数", "原本接種日", "副本接種日", "差異"])
            for d in diffs:
                w.writerow([d.atena_no, d.vaccine, d.dose, d.original or "", d.copy or "", DIFFERENCE_LABELS[d.kind]])
    counts = {k: sum(1 for d in diffs if d.kind == k) for k in DIFFERENCE_LABELS}
    return {"original": len(orig), "copy": len(copy), "differences": len(diffs), **counts,
            "file": str(out) if out else None, "items": diffs}


# --- provision records at the hub (情報提供等記録) ---------------------------------------------------------


def hub_records(ctx: AccessContext) -> list[dict[str, Any]]:
    """The hub's provision records that concern this city (asker or provider). They name cities,
    permits, clauses and outcomes, never a person. Logged as a read under the caller's purpose."""
    with door(ctx, Operation.READ, resource="exchange.records", detail="hub provision records"):
        pass
    return conf.client().records(_request("records"))
