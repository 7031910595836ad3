"""End to end, in-process: city A registers copies, city B queries for a moved-in person through
the hub, A answers, B sees the history; the hub records it and could not read it; refusals,
replays, protected persons, wrong municipality codes and the retention purge."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from yobo.audit.models import AccessLogEntry
from yobo.core.purposes import Purpose
from yobo.exchange import conf, crypto, selectors, services
from yobo.exchange.hub.app import Hub
from yobo.exchange.ledger import OriginalDose
from yobo.exchange.models import Provision, Query
from yobo.people import protection

from .conftest import CITY_A, CITY_B, CITY_C

pytestmark = pytest.mark.django_db

DOSES = [("HIB", 1, date(2020, 6, 1)), ("HIB", 2, date(2020, 7, 1)), ("MR1", 1, date(2021, 4, 10))]


def _setup_pair(city: Callable[[str], None], admin_ctx: Callable[..., Any], resident: Callable[..., str],
                number: str, *, atena_a: str = "100001", atena_b: str = "900001") -> tuple[str, str]:
    """The same person in A (moved out, with doses and copies) and in B (moved in)."""
    city(CITY_A)
    resident(atena_a, number, admin_ctx())
    summary = services.register_copies(
        admin_ctx(Purpose.COPY_REGISTRATION),
        originals=[OriginalDose(atena_a, v, d, g) for v, d, g in DOSES],
    )
    assert (summary.inserted, summary.codes["acquired"]) == (3, 1)
    city(CITY_B)
    resident(atena_b, number, admin_ctx())
    return atena_a, atena_b


def test_query_answered_through_the_hub(hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any],
                                        resident: Callable[..., str], new_number: Callable[[], str]) -> None:
    number = new_number()
    atena_a, atena_b = _setup_pair(city, admin_ctx, resident, number)

    qid = services.send_query(admin_ctx(), atena_b, CITY_A)
    q0 = Query.objects.get(query_id=qid)
    assert q0.state == "sent", q0.last_error

    city(CITY_A)
    s = services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    assert (s.received, s.answered, s.held, s.rejected) == (1, 1, 0, 0)
    p = Provision.objects.get(municipality=CITY_A)
    assert (p.atena_no, p.state, p.asker) == (atena_a, "sent", CITY_B)

    city(CITY_B)
    s = services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    assert s.results == 1
    q = selectors.query(admin_ctx(), qid)
    assert q is not None and q.state == "answered"
    assert q.result == [{"vaccine": v, "dose": str(d), "date": g.isoformat()} for v, d, g in DOSES]
    assert [r.query_id for r in selectors.queries(admin_ctx(), atena_no=atena_b)] == [qid]

    # The hub recorded the permit, the query and the answer; it never held a readable item.
    recs = hub.records()
    assert [(r["event"], r["outcome"]) for r in reversed(recs)] == [
        ("permit", "issued"), ("query", "routed"), ("answer", "provided")]
    assert all(r["clause"] for r in recs)
    dump = json.dumps(_hub_dump(hub))
    assert "HIB" not in dump and "2020-06-01" not in dump and number not in dump
    assert atena_a not in dump and atena_b not in dump
    # The provider's own code went to the provider; B never learned it.
    assert hub.code_for(CITY_A, _token(hub, CITY_B)) in dump

    # Both cities logged their side with the person as target; no My Number in any log entry.
    assert AccessLogEntry.objects.filter(resource="exchange.provision", target=atena_a, purpose="X02").exists()
    assert AccessLogEntry.objects.filter(resource="exchange.query", target=atena_b, purpose="X01").exists()
    assert not AccessLogEntry.objects.filter(detail__contains=number).exists()
    assert not AccessLogEntry.objects.filter(target__contains=number).exists()


def _hub_dump(hub: Hub) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with hub.store.tx() as cur:
        for t in ("hub_member", "hub_permission", "hub_code", "hub_permit", "hub_message", "hub_seen", "hub_record"):
            out[t] = [list(map(str, r)) for r in cur.execute(f"SELECT * FROM {t}").fetchall()]
    return out


def _token(hub: Hub, party: str) -> str:
    with hub.store.tx() as cur:
        row = cur.execute("SELECT token FROM hub_code WHERE party = ?", (party,)).fetchone()
    assert row is not None
    return str(row[0])


def test_hub_cannot_open_the_content(hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any],
                                     resident: Callable[..., str], new_number: Callable[[], str]) -> None:
    _setup_pair(city, admin_ctx, resident, new_number())
    services.send_query(admin_ctx(), "900001", CITY_A)
    with hub.store.tx() as cur:
        token = cur.execute("SELECT token FROM hub_message").fetchone()[0]
    delivery = crypto.verify(token, hub.keys.public())
    envelope = crypto.verify(delivery["envelope"], hub.member(CITY_B) or {})
    with pytest.raises(crypto.MessageRejected) as exc:
        crypto.unseal(envelope["content"], hub.keys, hub.member(CITY_B) or {})
    assert exc.value.reason == "bad_encryption"


def test_query_not_on_the_list_is_refused(hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any],
                                          resident: Callable[..., str], new_number: Callable[[], str]) -> None:
    number = new_number()
    _setup_pair(city, admin_ctx, resident, number)
    city(CITY_C)  # a member, but the list gives it no right to ask
    resident("700001", number, admin_ctx())
    qid = services.send_query(admin_ctx(), "700001", CITY_A)
    q = Query.objects.get(query_id=qid)
    assert q.state == "refused" and "not_on_list" not in q.last_error and "許可" in q.last_error
    assert hub.records()[0]["outcome"] == "refused" and hub.records()[0]["detail"] == "not_on_list"
    with hub.store.tx() as cur:
        assert cur.execute("SELECT COUNT(*) FROM hub_message").fetchone()[0] == 0


def test_unknown_item_set_is_refused_by_the_city_and_the_hub(
        hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any], resident: Callable[..., str],
        new_number: Callable[[], str]) -> None:
    _setup_pair(city, admin_ctx, resident, new_number())
    with pytest.raises(services.ExchangeRejected):
        services.send_query(admin_ctx(), "900001", CITY_A, item_set="tax_income")
    code = services._code_of("900001")
    from yobo.exchange.client import HubRefused

    with pytest.raises(HubRefused) as exc:
        conf.client().permit(services._request("permit", provider=CITY_A, item_set="tax_income", code=code))
    assert exc.value.reason == "unknown_item"


def test_replayed_message_is_refused(hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any],
                                     resident: Callable[..., str], new_number: Callable[[], str]) -> None:
    _setup_pair(city, admin_ctx, resident, new_number())
    services.send_query(admin_ctx(), "900001", CITY_A)
    with hub.store.tx() as cur:
        delivery_token = cur.execute("SELECT token FROM hub_message").fetchone()[0]
    city(CITY_A)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    # The same signed envelope sent to the hub again: the hub refuses the id it has seen.
    envelope = crypto.verify(delivery_token, hub.keys.public())["envelope"]
    from yobo.exchange.client import HubRefused

    with pytest.raises(HubRefused) as exc:
        conf.client().send(envelope)
    assert exc.value.reason == "replayed"
    # And the same delivery handed to city A again (e.g. a copy of the hub's queue): A refuses it.
    assert services._receive(admin_ctx(Purpose.EXCHANGE_PROVISION), delivery_token) == "rejected"
    events = selectors.inbox_events(admin_ctx(Purpose.EXCHANGE_PROVISION))
    assert events[0]["outcome"] == "rejected" and events[0]["reason"] == "replayed"
    assert Provision.objects.filter(municipality=CITY_A).count() == 1


def test_stale_request_is_refused_by_the_hub(hub: Hub, city: Callable[[str], None],
                                             admin_ctx: Callable[..., Any]) -> None:
    city(CITY_B)
    keys = conf.my_keys()
    old = crypto.stamp(crypto.now_utc() - timedelta(seconds=crypto.WINDOW_SECONDS + 5))
    from yobo.exchange.client import HubRefused

    with pytest.raises(HubRefused) as exc:
        conf.client().inbox(crypto.sign({"type": "inbox", "sender": CITY_B, "msg_id": "x1", "sent_at": old}, keys))
    assert exc.value.reason == "stale"


def test_tampered_message_is_rejected(hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any],
                                      resident: Callable[..., str], new_number: Callable[[], str]) -> None:
    _setup_pair(city, admin_ctx, resident, new_number())
    services.send_query(admin_ctx(), "900001", CITY_A)
    with hub.store.tx() as cur:
        token = cur.execute("SELECT token FROM hub_message").fetchone()[0]
        # Someone with access to the hub's queue flips a byte of the ciphertext.
        head, body, sig = token.split(".")
        bad = head + "." + body[:40] + ("A" if body[40] != "A" else "B") + body[41:] + "." + sig
        cur.execute("UPDATE hub_message SET token = ?", (bad,))
    city(CITY_A)
    s = services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    assert (s.rejected, s.answered) == (1, 0)
    assert not Provision.objects.filter(municipality=CITY_A).exists()
    ev = selectors.inbox_events(admin_ctx(Purpose.EXCHANGE_PROVISION))[0]
    assert ev["outcome"] == "rejected" and ev["reason"] in {"bad_signature", "malformed"}


def test_protected_person_waits_for_review(hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any],
                                           resident: Callable[..., str], new_number: Callable[[], str],
                                           make_ctx: Callable[..., Any]) -> None:
    atena_a, atena_b = _setup_pair(city, admin_ctx, resident, new_number())
    city(CITY_A)
    rid = protection.request_change(admin_ctx(Purpose.PROTECTION_MEASURE), atena_a, "set", "DV")
    protection.confirm(make_ctx(Purpose.PROTECTION_MEASURE, duties=["supervisor"]), rid)
    city(CITY_B)
    qid = services.send_query(admin_ctx(), atena_b, CITY_A)
    city(CITY_A)
    s = services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    assert (s.held, s.answered) == (1, 0)
    held = selectors.held(admin_ctx(Purpose.EXCHANGE_PROVISION))
    assert [h.atena_no for h in held] == [atena_a] and len(held[0].answer or []) == 3
    city(CITY_B)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    assert Query.objects.get(query_id=qid).state == "sent"  # nothing released yet
    assert hub.records()[0]["event"] == "query"

    city(CITY_A)
    reviewer = make_ctx(Purpose.EXCHANGE_PROVISION, duties=["exchange"])
    services.decide_held(reviewer, held[0].id, release=True)
    p = Provision.objects.get(pk=held[0].id)
    assert (p.state, p.decided_by) == ("released", reviewer.username)
    with pytest.raises(services.ExchangeRejected):
        services.decide_held(reviewer, held[0].id, release=True)
    city(CITY_B)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    q = Query.objects.get(query_id=qid)
    assert q.state == "answered" and len(q.result) == 3


def test_withheld_after_review_releases_nothing(hub: Hub, city: Callable[[str], None],
                                                admin_ctx: Callable[..., Any], resident: Callable[..., str],
                                                new_number: Callable[[], str], make_ctx: Callable[..., Any]) -> None:
    atena_a, atena_b = _setup_pair(city, admin_ctx, resident, new_number())
    city(CITY_A)
    protection.request_change(admin_ctx(Purpose.PROTECTION_MEASURE), atena_a, "set", "DV")  # pending set: held too
    city(CITY_B)
    qid = services.send_query(admin_ctx(), atena_b, CITY_A)
    city(CITY_A)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    pid = selectors.held(admin_ctx(Purpose.EXCHANGE_PROVISION))[0].id
    services.decide_held(make_ctx(Purpose.EXCHANGE_PROVISION, duties=["exchange"]), pid, release=False)
    city(CITY_B)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    q = Query.objects.get(query_id=qid)
    assert (q.state, q.result) == ("withheld", [])
    assert hub.records()[0]["outcome"] == "withheld"


def test_wrong_municipality_finds_nobody(hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any],
                                         resident: Callable[..., str], new_number: Callable[[], str]) -> None:
    number = new_number()
    _setup_pair(city, admin_ctx, resident, number)
    # City C holds copies of someone else; B asks C by mistake about its moved-in person.
    city(CITY_C)
    resident("300001", new_number(), admin_ctx())
    services.register_copies(admin_ctx(Purpose.COPY_REGISTRATION),
                             originals=[OriginalDose("300001", "BCG", 1, date(2020, 9, 1))])
    city(CITY_B)
    qid = services.send_query(admin_ctx(), "900001", CITY_C)
    city(CITY_C)
    s = services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    assert s.answered == 1
    p = Provision.objects.get(municipality=CITY_C)
    assert (p.state, p.atena_no, p.answer) == ("not_found", "", None)
    city(CITY_B)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    q = Query.objects.get(query_id=qid)
    assert (q.state, q.result) == ("not_found", [])
    assert hub.records()[0]["outcome"] == "not_found"


def test_hub_down_queues_and_retries(hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any],
                                     resident: Callable[..., str], new_number: Callable[[], str]) -> None:
    _setup_pair(city, admin_ctx, resident, new_number())
    from yobo.exchange.client import HubUnavailable, wsgi_transport

    def down(*_a: Any) -> Any:
        raise HubUnavailable("ConnectionRefusedError")

    conf.set_transport(down)
    qid = services.send_query(admin_ctx(), "900001", CITY_A)
    q = Query.objects.get(query_id=qid)
    assert (q.state, q.attempts) == ("queued", 1) and q.next_attempt_at > timezone.now()
    services.flush(admin_ctx())  # not due yet: no new attempt
    assert Query.objects.get(query_id=qid).attempts == 1
    conf.set_transport(wsgi_transport(hub))
    services.flush(admin_ctx(), now=timezone.now() + timedelta(seconds=6))
    assert Query.objects.get(query_id=qid).state == "sent"


def test_purge_after_retention(hub: Hub, city: Callable[[str], None], admin_ctx: Callable[..., Any],
                               resident: Callable[..., str], new_number: Callable[[], str], settings: Any) -> None:
    _setup_pair(city, admin_ctx, resident, new_number())
    city(CITY_B)
    qid = services.send_query(admin_ctx(), "900001", CITY_A)
    city(CITY_A)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    city(CITY_B)
    services.poll(admin_ctx(Purpose.EXCHANGE_PROVISION))
    settings.YOBO_EXCHANGE_RETENTION_DAYS = 10
    retention = admin_ctx(Purpose.RETENTION)
    assert services.purge(retention)["purged"] == 0  # not yet old enough
    assert Query.objects.get(query_id=qid).result
    out = services.purge(retention, now=timezone.now() + timedelta(days=11))
    assert out["purged"] == 1
    q = Query.objects.get(query_id=qid)
    assert q.result is None and q.purged_at is not None and q.state == "answered"
    assert AccessLogEntry.objects.filter(resource="exchange.query", operation="delete", target="900001").exists()
    with pytest.raises(Exception, match=r"権限|permit"):
        services.purge(admin_ctx(Purpose.EXCHANGE_QUERY))


def test_copy_registration_is_idempotent_and_reconciles(hub: Hub, city: Callable[[str], None],
                                                        admin_ctx: Callable[..., Any], resident: Callable[..., str],
                                                        new_number: Callable[[], str], tmp_path: Any) -> None:
    city(CITY_A)
    resident("100001", new_number(), admin_ctx())
    ctx = admin_ctx(Purpose.COPY_REGISTRATION)
    orig = [OriginalDose("100001", v, d, g) for v, d, g in DOSES]
    services.register_copies(ctx, originals=orig)
    again = services.register_copies(ctx, originals=orig)
    assert (again.inserted, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 3)
    assert again.codes["acquired"] == 0
    changed = [*orig[:2], OriginalDose("100001", "MR1", 1, date(2021, 4, 11)), OriginalDose("100001", "BCG", 1,
                                                                                             date(2020, 10, 1))]
    out = tmp_path / "reconcile.csv"
    r = services.reconcile(ctx, out=out, originals=changed)
    assert (r["differences"], r["missing_in_copy"], r["date_differs"], r["extra_in_copy"]) == (2, 1, 1, 0)
    text = out.read_text(encoding="utf-8-sig")
    assert "副本になし" in text and "接種日が異なる" in text and "2021-04-11" in text
    s = services.register_copies(ctx, originals=changed[:3])
    assert (s.inserted, s.updated, s.deleted) == (0, 1, 0)
    assert services.reconcile(ctx, originals=changed[:3])["differences"] == 0
    # Only the allowed items are in the copy.
    assert set(selectors.copy_of(ctx, "100001")[0]) == {"vaccine", "dose", "date"}
