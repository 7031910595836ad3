"""Message security of the exchange (電文の署名・暗号化): JOSE with jwcrypto. No Django.

Every party (each municipality's intermediary side, and the hub) holds two P-256 key pairs in its
own key directory, never in a database: ``sig.jwk.json`` signs (JWS ES256) and ``enc.jwk.json``
receives (JWE ECDH-ES+A256KW / A256GCM). Public halves are published in the hub's member
directory. See docs/decisions/080-exchange-messages.md.

- ``sign`` / ``verify``: a JSON object as a compact JWS; the protected header names the signer
  (``kid`` = the party code) so a verifier picks the key from its directory.
- ``seal`` / ``unseal``: content signed by the sender, then encrypted to the receiver (nested:
  sign-then-encrypt), so only the receiver can read it and it can tell who wrote it. The hub only
  ever sees the ciphertext.
- ``fresh``: the timestamp window of replay protection (the seen-id half lives with each store).
- ``linkage_token``: the keyed hash of a My Number that a city sends when it asks the hub for its
  linkage code (符号); the plaintext number never leaves the city (decision 081).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jwcrypto import jwe, jwk, jws
from jwcrypto.common import JWException

from yobo.core.keyfile import write_private

SIG_ALG = "ES256"
KEY_ALG = "ECDH-ES+A256KW"
ENC_ALG = "A256GCM"
SIG_FILE = "sig.jwk.json"
ENC_FILE = "enc.jwk.json"
LINKAGE_FILE = "linkage.key"
# Messages older or newer than this (seconds) are refused even if their id is new; the seen-id
# stores keep ids at least twice this long, so a replay inside the window is caught by its id.
WINDOW_SECONDS = 300


class MessageRejected(Exception):
    """A message failed a check (署名・暗号・再送の検査). ``reason`` is a short stable code."""

    def __init__(self, reason: str, message: str = "") -> None:
        self.reason = reason
        super().__init__(message or MESSAGES.get(reason, reason))


MESSAGES = {
    "bad_signature": "電文の署名を検証できません (改ざんまたは鍵の誤り)。 / The signature does not verify.",
    "bad_encryption": "電文を復号できません (宛先の鍵ではありません)。 / The message cannot be decrypted with our key.",
    "unknown_party": "送信元が登録されていません。 / The sender is not a registered member.",
    "stale": "電文の時刻が許容範囲外です (再送の疑い)。 / The message time is outside the allowed window.",
    "replayed": "同じ電文IDを既に受け取っています (再送攻撃の疑い)。 / This message id was already received.",
    "malformed": "電文の形式が正しくありません。 / The message is malformed.",
    "wrong_receiver": "この電文の宛先は当団体ではありません。 / The message is not addressed to us.",
}


@dataclass(frozen=True)
class PartyKeys:
    """One party's private keys (its code is the kid of every signature it makes)."""

    party: str
    sig: jwk.JWK
    enc: jwk.JWK

    def public(self) -> dict[str, Any]:
        """The public member entry: ``{"code", "sig", "enc"}`` with public JWKs only."""
        return {"code": self.party, "sig": _public(self.sig), "enc": _public(self.enc)}


def _public(k: jwk.JWK) -> dict[str, Any]:
    return dict(k.export_public(as_dict=True))


def init_keys(key_dir: Path, party: str) -> tuple[PartyKeys, bool]:
    """Create the party's key pairs in ``key_dir`` unless present; returns (keys, created)."""
    created = False
    for name, use in ((SIG_FILE, "sig"), (ENC_FILE, "enc")):
        p = key_dir / name
        if not p.exists():
            k = jwk.JWK.generate(kty="EC", crv="P-256", use=use, kid=party)
            write_private(p, k.export_private())
            created = True
    return load_keys(key_dir, party), created


def load_keys(key_dir: Path, party: str) -> PartyKeys:
    """The party's keys from ``key_dir``; ``FileNotFoundError`` names the directory, not a key."""
    try:
        sig = jwk.JWK.from_json((key_dir / SIG_FILE).read_text(encoding="utf-8"))
        enc = jwk.JWK.from_json((key_dir / ENC_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"情報連携の鍵がありません ({key_dir})。`yobo exchange keys init` で作成してください。"
            f" / Exchange keys are missing in {key_dir}."
        ) from None
    return PartyKeys(party, sig, enc)


def public_key(entry: dict[str, Any], use: str) -> jwk.JWK:
    """A public JWK from a member entry (``use`` is ``"sig"`` or ``"enc"``)."""
    try:
        return _jwk(json.dumps(entry[use], sort_keys=True))
    except (KeyError, TypeError, ValueError, JWException):
        raise MessageRejected("unknown_party") from None


@functools.lru_cache(maxsize=4096)
def _jwk(text: str) -> jwk.JWK:
    # Parsing a key costs more than a signature check; keys are immutable values, so cache them.
    return jwk.JWK.from_json(text)


def thumbprint(entry: dict[str, Any]) -> str:
    """A short fingerprint of a member's public keys, for staff to compare by telephone."""
    return public_key(entry, "sig").thumbprint()[:16] + "/" + public_key(entry, "enc").thumbprint()[:16]


# --- signing ------------------------------------------------------------------------------------


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def sign(obj: dict[str, Any], keys: PartyKeys) -> str:
    """``obj`` as a compact JWS signed with the party's signing key (kid = party code)."""
    t = jws.JWS(_dumps(obj))
    t.add_signature(keys.sig, alg=SIG_ALG, protected=json.dumps({"alg": SIG_ALG, "kid": keys.party}))
    return str(t.serialize(compact=True))


def signer_of(token: str) -> str:
    """The kid (party code) a compact JWS claims, unverified: to pick the key to verify with."""
    try:
        header = json.loads(base64.urlsafe_b64decode(token.split(".", maxsplit=1)[0] + "==="))
        return str(header["kid"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise MessageRejected("malformed") from None


def verify(token: str, public_entry: dict[str, Any]) -> dict[str, Any]:
    """The JSON object of a compact JWS, after checking the signature with the member's key."""
    key = public_key(public_entry, "sig")
    t = jws.JWS()
    try:
        t.deserialize(token)
        if t.jose_header.get("alg") != SIG_ALG:
            raise MessageRejected("bad_signature")
        t.verify(key, alg=SIG_ALG)
        obj = json.loads(t.payload)
    except MessageRejected:
        raise
    except (JWException, ValueError, TypeError):
        raise MessageRejected("bad_signature") from None
    if not isinstance(obj, dict):
        raise MessageRejected("malformed")
    return obj


# --- sealing (sign, then encrypt to the receiver) --------------------------------------------------


def seal(content: dict[str, Any], sender: PartyKeys, receiver_entry: dict[str, Any]) -> str:
    """``content`` signed by ``sender`` and encrypted to the receiver: a compact JWE whose
    plaintext is a compact JWS. Only the receiver's private key opens it."""
    inner = sign(content, sender).encode()
    t = jwe.JWE(inner, protected=json.dumps({"alg": KEY_ALG, "enc": ENC_ALG, "cty": "JWT",
                                             "kid": str(receiver_entry.get("code", ""))}))
    t.add_recipient(public_key(receiver_entry, "enc"))
    return str(t.serialize(compact=True))


def unseal(token: str, receiver: PartyKeys, sender_entry: dict[str, Any]) -> dict[str, Any]:
    """Decrypt with our key and verify the sender's signature; ``MessageRejected`` otherwise."""
    t = jwe.JWE()
    try:
        t.deserialize(token, key=receiver.enc)
        inner = t.payload.decode()
    except (JWException, ValueError, TypeError):
        raise MessageRejected("bad_encryption") from None
    if signer_of(inner) != sender_entry.get("code"):
        raise MessageRejected("bad_signature")
    return verify(inner, sender_entry)


# --- freshness and ids ---------------------------------------------------------------------------


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_message_id() -> str:
    return uuid.uuid4().hex


def stamp(at: datetime | None = None) -> str:
    return (at or now_utc()).astimezone(UTC).isoformat(timespec="seconds")


def fresh(sent_at: Any, now: datetime | None = None, window: int = WINDOW_SECONDS) -> datetime:
    """The parsed send time, if within ``window`` seconds of now; ``MessageRejected("stale")``."""
    try:
        t = datetime.fromisoformat(str(sent_at))
    except ValueError:
        raise MessageRejected("malformed") from None
    if t.tzinfo is None:
        raise MessageRejected("malformed")
    if abs(((now or now_utc()) - t).total_seconds()) > window:
        raise MessageRejected("stale")
    return t


# --- linkage tokens (符号取得用の鍵付きハッシュ) ------------------------------------------------------


def init_linkage_key(path: Path, source: Path | None = None) -> bool:
    """Create (or import from ``source``) the network linkage key; True when written."""
    if source is not None:
        data = source.read_text(encoding="utf-8").strip()
        base64.b64decode(data, validate=True)
        write_private(path, data + "\n")
        return True
    if path.exists():
        return False
    write_private(path, base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    return True


def linkage_token(key: bytes, normalised_number: str) -> str:
    """HMAC-SHA256 of a (validated, normalised) My Number under the network linkage key, hex.

    The hub never holds this key, so it cannot test candidate numbers against the tokens it sees."""
    return hmac.new(key, b"yobo-linkage-v1:" + normalised_number.encode(), hashlib.sha256).hexdigest()


def read_linkage_key(path: Path) -> bytes:
    try:
        return base64.b64decode(path.read_text(encoding="utf-8").strip(), validate=True)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"符号取得用の連携鍵がありません ({path})。`yobo exchange keys init` で作成または取込してください。"
            " / The linkage key is missing."
        ) from None
