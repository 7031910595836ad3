"""The certificate issuer's signing keys (発行者鍵), kept in ``YOBO_KEY_DIR``, never in the database.

File ``shc-issuer-keys.json`` (mode 0600, written atomically)::

    {"format": 1, "active": "<kid>", "rid_secret": "<base64 32 bytes>",
     "keys": [{"kid": "...", "jwk": {...private P-256 JWK...}, "created": ISO, "retired": null,
               "keep_until": null}, ...]}

Rotation (``yobo certificates keys rotate``) makes a new key active and destroys the private half of
the old one (SHC "Key Management": retired private keys are destroyed); its public half stays in the
key set so cards it signed keep verifying — until ``keep_until`` (retirement + the card validity,
``YOBO_SHC_VALID_DAYS``), or for good when cards do not expire (the default: SHC cards state facts
that do not change). The revocation-id secret (``rid_secret``) outlives the keys: it must, to list an
old card in a revocation list.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jwcrypto import jwk

from yobo.core.errors import IntegrityBroken
from yobo.core.keyfile import write_private

from .shc import kid_of

FILE_NAME = "shc-issuer-keys.json"
FORMAT = 1


class IssuerKeyError(IntegrityBroken):
    """The issuer key file is missing, unreadable or unsafe (発行者鍵の不備)."""


@dataclass(frozen=True)
class KeyEntry:
    kid: str
    jwk: dict[str, Any]  # private while active; public only once retired
    created: str
    retired: str | None = None
    keep_until: str | None = None

    @property
    def has_private(self) -> bool:
        return "d" in self.jwk

    def public(self) -> dict[str, Any]:
        return {k: self.jwk[k] for k in ("kty", "crv", "x", "y")}


@dataclass(frozen=True)
class IssuerKeys:
    active: str
    rid_secret: bytes
    keys: tuple[KeyEntry, ...] = field(default=())

    def entry(self, kid: str) -> KeyEntry:
        for k in self.keys:
            if k.kid == kid:
                return k
        raise IssuerKeyError(f"発行者鍵 {kid} がありません。 / Issuer key {kid} is not in the key file.")

    def signing_key(self) -> jwk.JWK:
        e = self.entry(self.active)
        if not e.has_private:
            raise IssuerKeyError("有効な発行者鍵に秘密鍵がありません。 / The active issuer key has no private part.")
        return jwk.JWK(**e.jwk)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "active": self.active, "rid_secret": base64.b64encode(self.rid_secret).decode(),
            "keys": [{"kid": k.kid, "jwk": k.jwk, "created": k.created, "retired": k.retired,
                      "keep_until": k.keep_until} for k in self.keys],
        }

    def published(self, now: datetime | None = None) -> list[KeyEntry]:
        """Keys whose public half belongs in the key set: the active one and retired ones still needed."""
        t = (now or datetime.now(UTC)).isoformat()
        return [k for k in self.keys if k.keep_until is None or k.keep_until >= t]


def valid_days() -> int:
    """Card validity in days (``exp``); 0 means cards carry no ``exp`` (the SHC default)."""
    from django.conf import settings

    raw = getattr(settings, "YOBO_SHC_VALID_DAYS", None) or os.environ.get("YOBO_SHC_VALID_DAYS", "0")
    try:
        return max(0, int(raw))
    except ValueError:
        return 0


def key_path() -> Path:
    from django.conf import settings

    return Path(settings.KEY_DIR) / FILE_NAME


def _new_entry(now: datetime) -> KeyEntry:
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    return KeyEntry(kid_of(key), json.loads(key.export_private()), now.isoformat())


def generate(now: datetime | None = None) -> IssuerKeys:
    e = _new_entry(now or datetime.now(UTC))
    return IssuerKeys(e.kid, secrets.token_bytes(32), (e,))


def parse(text: str) -> IssuerKeys:
    try:
        data = json.loads(text)
        keys = tuple(KeyEntry(str(k["kid"]), dict(k["jwk"]), str(k["created"]), k.get("retired"), k.get("keep_until"))
                     for k in data["keys"])
        ring = IssuerKeys(str(data["active"]), base64.b64decode(data["rid_secret"], validate=True), keys)
    except (ValueError, KeyError, TypeError) as exc:
        raise IssuerKeyError("発行者鍵ファイルの形式が正しくありません。 / The issuer key file is malformed.") from exc
    ring.entry(ring.active)
    if len(ring.rid_secret) != 32:
        raise IssuerKeyError("失効識別子の鍵が32バイトではありません。 / rid_secret is not 32 bytes.")
    return ring


_lock = threading.Lock()
_cache: dict[tuple[Any, ...], IssuerKeys] = {}


def load() -> IssuerKeys | None:
    """The issuer keys, or None when none were created yet."""
    path = key_path()
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise IssuerKeyError(f"発行者鍵ファイル {path} は所有者以外も読めます。chmod 600 にしてください。"
                             f" / The issuer key file {path} is readable by others; chmod 600 it.")
    ck = (str(path), st.st_mtime_ns, st.st_size, st.st_ino)
    with _lock:
        if ck not in _cache:
            _cache.clear()
            _cache[ck] = parse(path.read_text(encoding="utf-8"))
        return _cache[ck]


def require() -> IssuerKeys:
    ring = load()
    if ring is None:
        raise IssuerKeyError("発行者鍵がありません。yobo init を実行してください。"
                             " / No issuer key yet: run `yobo init` (or `yobo certificates keys rotate`).")
    return ring


def save(ring: IssuerKeys) -> Path:
    path = write_private(key_path(), json.dumps(ring.to_json(), indent=1))
    with _lock:
        _cache.clear()
    return path


def ensure_keys() -> list[str]:
    """Create the issuer key when there is none (``yobo init``); never replaces one."""
    if load() is not None:
        return []
    path = save(generate())
    return [f"接種証明書の発行者鍵 (P-256) を作成しました: {path} / Created the certificate issuer key: {path}."]


def rotate(now: datetime | None = None) -> tuple[str, str | None, list[str]]:
    """A new active key; the old one retired (private half destroyed). Retired keys past their
    ``keep_until`` are dropped. Returns (new kid, retired kid, dropped kids)."""
    now = now or datetime.now(UTC)
    ring = load()
    if ring is None:
        ring = generate(now)
        save(ring)
        return ring.active, None, []
    days = valid_days()
    keep = (now + timedelta(days=days)).isoformat() if days else None
    new = _new_entry(now)
    kept: list[KeyEntry] = []
    dropped: list[str] = []
    for k in ring.keys:
        if k.kid == ring.active:
            kept.append(replace(k, jwk=k.public(), retired=now.isoformat(), keep_until=keep))
        elif k.keep_until is not None and k.keep_until < now.isoformat():
            dropped.append(k.kid)
        else:
            kept.append(k)
    save(replace(ring, active=new.kid, keys=(*kept, new)))
    return new.kid, ring.active, dropped


def public_jwks(crl_versions: dict[str, int] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The key set to publish (``/.well-known/jwks.json``): public halves only, with ``crlVersion``."""
    ring = load()
    out = []
    for k in ring.published(now) if ring else []:
        out.append({**k.public(), "kid": k.kid, "use": "sig", "alg": "ES256",
                    "crlVersion": (crl_versions or {}).get(k.kid, 1)})
    return {"keys": out}
