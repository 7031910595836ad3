"""The local hub (情報提供ネットワークシステムの代役): permission list, permits, code registry, routing
and provision records, as a small WSGI application. No Django.

The hub authenticates every request by the member's signature, refuses replays (message id +
time window + seen-id table), refuses any query not on the permission list, and records every
permit, refusal, query and answer (情報提供等記録). It routes the sealed content it cannot open:
the content is encrypted to the receiving city's key, which the hub never holds.

Protocol: JSON over HTTP, every request body ``{"request": <JWS by the member>}`` or, for
messages, ``{"envelope": <JWS by the sender>}``. See docs/decisions/080 and 081 and CONTRACTS.md §6.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from yobo.exchange import crypto
from yobo.exchange.items import ITEM_SETS

from .store import Store

log = logging.getLogger("yobo.hub")
HUB_CODE = "hub"
CODE_KEY_FILE = "code.key"
PERMIT_TTL = timedelta(minutes=30)
MAX_BODY = 2_000_000
OUTCOMES = frozenset({"provided", "not_found", "withheld"})


class HubError(Exception):
    """A refusal the hub answers with an HTTP status and a stable reason code."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(message)


REFUSALS = {
    "not_on_list": "照会許可用照合リストにない照会です。 / The query is not on the permission list.",
    "unknown_item": "照会できない項目です。 / Unknown or unlisted item set.",
    "unknown_code": "照会者の符号が登録されていません。 / The asker's linkage code is not registered.",
    "bad_permit": "情報提供許可証が無効です。 / The provision permit is not valid for this message.",
    "unknown_receiver": "宛先が登録されていません。 / The receiver is not a registered member.",
}


@dataclass
class Hub:
    store: Store
    keys: crypto.PartyKeys
    code_key: bytes
    clock: Callable[[], datetime] = crypto.now_utc

    # --- administration (from the hub's CLI) ----------------------------------------------------

    def load_permissions(self, doc: dict[str, Any], *, replace: bool = True) -> dict[str, int]:
        """Load members (public keys) and the permission list from a JSON document (atomic)."""
        members = doc.get("members") or []
        perms = doc.get("permissions") or []
        now = crypto.stamp(self.clock())
        problems: list[str] = []
        for i, m in enumerate(members, 1):
            code = str(m.get("code", ""))
            if not code or "sig" not in m or "enc" not in m:
                problems.append(f"members[{i}]: code, sig, enc が必要です / code, sig and enc are required")
                continue
            try:
                crypto.public_key(m, "sig")
                crypto.public_key(m, "enc")
            except crypto.MessageRejected:
                problems.append(f"members[{i}] ({code}): 公開鍵が正しくありません / invalid public key")
        for i, p in enumerate(perms, 1):
            if str(p.get("item_set", "")) not in ITEM_SETS:
                problems.append(f"permissions[{i}]: item_set {p.get('item_set')!r} は未定義です / unknown item set")
            if not p.get("asker") or not p.get("provider") or not p.get("clause"):
                problems.append(f"permissions[{i}]: asker, provider, clause が必要です"
                                " / asker, provider and clause are required")
        if problems:
            raise ValueError("\n".join(problems))
        with self.store.tx() as cur:
            if replace:
                cur.execute("DELETE FROM hub_permission")
            for m in members:
                cur.execute("DELETE FROM hub_member WHERE code = ?", (str(m["code"]),))
                cur.execute(
                    "INSERT INTO hub_member (code, name, sig_jwk, enc_jwk, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (str(m["code"]), str(m.get("name", "")), json.dumps(m["sig"]), json.dumps(m["enc"]), now),
                )
            for p in perms:
                cur.execute("DELETE FROM hub_permission WHERE asker = ? AND provider = ? AND item_set = ?",
                            (str(p["asker"]), str(p["provider"]), str(p["item_set"])))
                cur.execute("INSERT INTO hub_permission (asker, provider, item_set, clause) VALUES (?, ?, ?, ?)",
                            (str(p["asker"]), str(p["provider"]), str(p["item_set"]), str(p["clause"])))
        return {"members": len(members), "permissions": len(perms)}

    def records(self, party: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Provision records (情報提供等記録), newest first; those concerning ``party`` if given."""
        sql = "SELECT id, at, event, asker, provider, item_set, clause, permit_id, outcome, detail FROM hub_record"
        params: tuple[Any, ...] = ()
        if party:
            sql += " WHERE asker = ? OR provider = ?"
            params = (party, party)
        sql += " ORDER BY id DESC LIMIT ?"
        with self.store.tx() as cur:
            rows = cur.execute(sql, (*params, limit)).fetchall()
        cols = ("id", "at", "event", "asker", "provider", "item_set", "clause", "permit_id", "outcome", "detail")
        return [dict(zip(cols, r, strict=True)) for r in rows]

    # --- member lookups ---------------------------------------------------------------------------

    def member(self, code: str) -> dict[str, Any] | None:
        if code == HUB_CODE:
            return self.keys.public()
        rows = self.store.read("SELECT code, name, sig_jwk, enc_jwk FROM hub_member WHERE code = ?", (code,))
        if not rows:
            return None
        row = rows[0]
        return {"code": row[0], "name": row[1], "sig": json.loads(row[2]), "enc": json.loads(row[3])}

    def directory(self) -> str:
        with self.store.tx() as cur:
            rows = cur.execute("SELECT code, name, sig_jwk, enc_jwk FROM hub_member ORDER BY code").fetchall()
        members = [{"code": r[0], "name": r[1], "sig": json.loads(r[2]), "enc": json.loads(r[3])} for r in rows]
        return crypto.sign({"type": "directory", "issued_at": crypto.stamp(self.clock()), "members": members},
                           self.keys)

    # --- request authentication ---------------------------------------------------------------------

    def authenticate(self, token: Any, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Verify a member's signed request: signature, type, freshness and a new message id."""
        if not isinstance(token, str):
            raise HubError(400, "malformed", crypto.MESSAGES["malformed"])
        try:
            sender = crypto.signer_of(token)
            entry = self.member(sender)
            if entry is None or sender == HUB_CODE:
                raise crypto.MessageRejected("unknown_party")
            obj = crypto.verify(token, entry)
            if obj.get("type") != kind or obj.get("sender") != sender or not obj.get("msg_id"):
                raise crypto.MessageRejected("malformed")
            now = self.clock()
            crypto.fresh(obj.get("sent_at"), now)
            with self.store.tx() as cur:
                # Forget ids older than twice the window: a message that old is refused as stale anyway.
                cur.execute("DELETE FROM hub_seen WHERE seen_at < ?",
                            (crypto.stamp(now - timedelta(seconds=2 * crypto.WINDOW_SECONDS)),))
                n = cur.execute("INSERT INTO hub_seen (sender, msg_id, seen_at) VALUES (?, ?, ?) "
                                "ON CONFLICT DO NOTHING", (sender, str(obj["msg_id"]), crypto.stamp(now))).rowcount
            if n != 1:
                raise crypto.MessageRejected("replayed")
        except crypto.MessageRejected as exc:
            status = {"bad_signature": 401, "unknown_party": 401, "replayed": 409}.get(exc.reason, 400)
            log.warning("hub refused a %s request: %s", kind, exc.reason)
            raise HubError(status, exc.reason, str(exc)) from None
        return obj, entry

    # --- linkage codes (符号) --------------------------------------------------------------------------

    def code_for(self, party: str, token: str) -> str:
        """The party's linkage code for a person: a keyed hash of the party and the person's
        linkage token under the hub's code key (so each body gets a different code)."""
        return hmac.new(self.code_key, f"{party}:{token}".encode(), hashlib.sha256).hexdigest()[:32]

    def issue_codes(self, token: str) -> str:
        obj, entry = self.authenticate(token, "codes")
        party = entry["code"]
        tokens = [str(t) for t in obj.get("tokens") or []]
        if len(tokens) > 10_000 or any(len(t) != 64 for t in tokens):
            raise HubError(400, "malformed", crypto.MESSAGES["malformed"])
        now = crypto.stamp(self.clock())
        codes = [self.code_for(party, t) for t in tokens]
        with self.store.tx() as cur:
            for t, c in zip(tokens, codes, strict=True):
                cur.execute("INSERT INTO hub_code (party, code, token, issued_at) VALUES (?, ?, ?, ?) "
                            "ON CONFLICT DO NOTHING", (party, c, t, now))
        return crypto.seal({"type": "codes", "in_reply_to": obj["msg_id"], "codes": codes}, self.keys, entry)

    # --- permits (情報提供許可証) ------------------------------------------------------------------------

    def _record(self, cur: Any, event: str, asker: str, provider: str, item_set: str, clause: str, permit_id: str,
                outcome: str, detail: str = "") -> None:
        cur.execute(
            "INSERT INTO hub_record (at, event, asker, provider, item_set, clause, permit_id, outcome, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (crypto.stamp(self.clock()), event, asker, provider, item_set, clause, permit_id, outcome, detail[:200]),
        )

    def issue_permit(self, token: str) -> str:
        obj, entry = self.authenticate(token, "permit")
        asker = entry["code"]
        provider = str(obj.get("provider", ""))
        item_set = str(obj.get("item_set", ""))
        code = str(obj.get("code", ""))
        provider_known = provider != HUB_CODE and self.member(provider) is not None
        with self.store.tx() as cur:
            clause_row = cur.execute(
                "SELECT clause FROM hub_permission WHERE asker IN (?, '*') AND provider IN (?, '*') AND item_set = ? "
                "ORDER BY (asker = '*'), (provider = '*') LIMIT 1", (asker, provider, item_set),
            ).fetchone()
            reason = ""
            if item_set not in ITEM_SETS:
                reason = "unknown_item"
            elif clause_row is None or provider == asker or not provider_known:
                reason = "not_on_list"
            else:
                row = cur.execute("SELECT token FROM hub_code WHERE party = ? AND code = ?", (asker, code)).fetchone()
                if row is None:
                    reason = "unknown_code"
            if reason:
                self._record(cur, "permit", asker, provider, item_set, "", "", "refused", reason)
        if reason:
            raise HubError(403, reason, REFUSALS[reason])
        if clause_row is None or row is None:  # unreachable: a missing row set a reason above
            raise HubError(403, "not_on_list", REFUSALS["not_on_list"])
        clause = str(clause_row[0])
        permit_id = crypto.new_message_id()
        now = self.clock()
        permit = {"type": "permit", "permit_id": permit_id, "asker": asker, "provider": provider,
                  "item_set": item_set, "clause": clause, "issued_at": crypto.stamp(now),
                  "expires_at": crypto.stamp(now + PERMIT_TTL)}
        with self.store.tx() as cur:
            cur.execute(
                "INSERT INTO hub_permit (permit_id, asker, provider, item_set, clause, asker_code, provider_code, "
                "state, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'issued', ?, ?)",
                (permit_id, asker, provider, item_set, clause, code, self.code_for(provider, str(row[0])),
                 permit["issued_at"], permit["expires_at"]),
            )
            self._record(cur, "permit", asker, provider, item_set, clause, permit_id, "issued")
        return crypto.sign(permit, self.keys)

    # --- routing ---------------------------------------------------------------------------------------

    def accept(self, envelope: str) -> dict[str, Any]:
        """Take a sealed message for routing; the content stays sealed (the hub holds no key for it)."""
        obj, _entry = self.authenticate(envelope, "message")
        sender, receiver = obj["sender"], str(obj.get("receiver", ""))
        kind, permit_id = str(obj.get("kind", "")), str(obj.get("permit_id", ""))
        if not isinstance(obj.get("content"), str) or kind not in {"query", "answer"}:
            raise HubError(400, "malformed", crypto.MESSAGES["malformed"])
        if self.member(receiver) is None:
            raise HubError(404, "unknown_receiver", REFUSALS["unknown_receiver"])
        now = self.clock()
        with self.store.tx() as cur:
            p = cur.execute(
                "SELECT asker, provider, item_set, clause, provider_code, state, expires_at FROM hub_permit "
                "WHERE permit_id = ?", (permit_id,),
            ).fetchone()
            ok = p is not None and (
                (kind == "query" and (sender, receiver) == (p[0], p[1]) and p[5] == "issued"
                 and datetime.fromisoformat(p[6]) >= now)
                or (kind == "answer" and (sender, receiver) == (p[1], p[0]) and p[5] == "queried"
                    and str(obj.get("outcome")) in OUTCOMES)
            )
            if not ok or p is None:
                self._record(cur, kind, sender if kind == "query" else receiver,
                             receiver if kind == "query" else sender, p[2] if p else "", p[3] if p else "",
                             permit_id, "refused", "bad_permit")
                refused = True
            else:
                refused = False
                delivery = {"type": "delivery", "envelope": envelope, "permit_id": permit_id,
                            "item_set": p[2], "clause": p[3]}
                if kind == "query":
                    delivery["code"] = p[4]  # the provider's own code for the person, never the asker's
                cur.execute(
                    "INSERT INTO hub_message (msg_id, sender, receiver, permit_id, kind, token, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (str(obj["msg_id"]), sender, receiver, permit_id, kind, crypto.sign(delivery, self.keys),
                     crypto.stamp(now)),
                )
                cur.execute("UPDATE hub_permit SET state = ? WHERE permit_id = ?",
                            ("queried" if kind == "query" else "answered", permit_id))
                outcome = "routed" if kind == "query" else str(obj["outcome"])
                self._record(cur, kind, p[0], p[1], p[2], p[3], permit_id, outcome)
        if refused:
            raise HubError(403, "bad_permit", REFUSALS["bad_permit"])
        return {"accepted": obj["msg_id"]}

    def inbox(self, token: str, limit: int = 200) -> list[dict[str, Any]]:
        obj, entry = self.authenticate(token, "inbox")
        with self.store.tx() as cur:
            rows = cur.execute(
                "SELECT delivery_id, token FROM hub_message WHERE receiver = ? AND delivered_at IS NULL "
                "ORDER BY delivery_id LIMIT ?", (entry["code"], min(int(obj.get("limit") or limit), limit)),
            ).fetchall()
        return [{"id": r[0], "token": r[1]} for r in rows]

    def ack(self, token: str) -> int:
        obj, entry = self.authenticate(token, "ack")
        ids = [int(i) for i in obj.get("ids") or []]
        n = 0
        with self.store.tx() as cur:
            for i in ids:
                n += cur.execute("UPDATE hub_message SET delivered_at = ?, token = '' WHERE delivery_id = ? "
                                 "AND receiver = ? AND delivered_at IS NULL",
                                 (crypto.stamp(self.clock()), i, entry["code"])).rowcount
        return n

    def member_records(self, token: str) -> list[dict[str, Any]]:
        _obj, entry = self.authenticate(token, "records")
        return self.records(entry["code"])

    # --- WSGI ----------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        try:
            status, body = self._dispatch(method, path, environ)
        except HubError as exc:
            status, body = exc.status, {"error": exc.reason, "message": str(exc)}
        except Exception:  # the hub keeps serving; details stay in its own log
            log.exception("hub error on %s %s", method, path)
            status, body = 500, {"error": "internal", "message": "中継サーバーの内部エラー / internal hub error"}
        data = json.dumps(body, ensure_ascii=False).encode()
        start_response(f"{status} {_REASONS.get(status, 'Error')}",
                       [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))])
        return [data]

    def _dispatch(self, method: str, path: str, environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "GET" and path == "/v1/health":
            return 200, {"ok": True}
        if method == "GET" and path == "/v1/directory":
            return 200, {"directory": self.directory()}
        if method != "POST":
            raise HubError(404, "not_found", "Not found")
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        if size <= 0 or size > MAX_BODY:
            raise HubError(400, "malformed", crypto.MESSAGES["malformed"])
        try:
            body = json.loads(environ["wsgi.input"].read(size))
        except ValueError:
            raise HubError(400, "malformed", crypto.MESSAGES["malformed"]) from None
        if not isinstance(body, dict):
            raise HubError(400, "malformed", crypto.MESSAGES["malformed"])
        req = str(body.get("request") or "")
        if path == "/v1/codes":
            return 200, {"reply": self.issue_codes(req)}
        if path == "/v1/permits":
            return 200, {"permit": self.issue_permit(req)}
        if path == "/v1/messages":
            return 202, self.accept(str(body.get("envelope") or ""))
        if path == "/v1/inbox":
            return 200, {"deliveries": self.inbox(req)}
        if path == "/v1/ack":
            return 200, {"acked": self.ack(req)}
        if path == "/v1/records":
            return 200, {"records": self.member_records(req)}
        raise HubError(404, "not_found", "Not found")


_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}


def open_hub(db_url: str, key_dir: Path, *, create_keys: bool = True) -> Hub:
    """The hub over its database and key directory (keys and tables created when missing)."""
    if create_keys:
        keys, _ = crypto.init_keys(key_dir, HUB_CODE)
        crypto.init_linkage_key(key_dir / CODE_KEY_FILE)
    else:
        keys = crypto.load_keys(key_dir, HUB_CODE)
    store = Store(db_url)
    store.migrate()
    return Hub(store, keys, crypto.read_linkage_key(key_dir / CODE_KEY_FILE))
