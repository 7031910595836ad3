"""The checkpoint signing key (チェックポイント署名鍵): Ed25519, kept outside the database.

The private key is ``settings.KEY_DIR / audit-ed25519.pem`` (PKCS#8 PEM, mode 0600). Retired keys'
public halves may be kept as ``audit-ed25519-<key id>.pub`` so that old checkpoints still verify.
The key id is the first 16 hex digits of sha256 over the raw public key.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from yobo.core.keyfile import write_private

KEY_FILE = "audit-ed25519.pem"


def key_path() -> Path:
    return Path(settings.KEY_DIR) / KEY_FILE


def key_id_of(pub: Ed25519PublicKey) -> str:
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def ensure_key() -> list[str]:
    """Create the signing key when missing; returns messages about what was created (for ``yobo init``)."""
    path = key_path()
    if path.exists():
        return []
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(path, pem, exclusive=True)
    _load.cache_clear()
    return [
        f"アクセスログ署名鍵を作成しました: {path} (key id {key_id_of(key.public_key())})。"
        "本番ではサーバー外の鍵保管庫に保管してください。"
        f" / Created the access-log checkpoint key {path}; keep production keys in a key store outside the host."
    ]


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Ed25519PrivateKey | None:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    return key if isinstance(key, Ed25519PrivateKey) else None


def private_key() -> Ed25519PrivateKey | None:
    """The current signing key, or None when ``yobo init`` has not created one."""
    path = key_path()
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return _load(str(path), mtime)


def public_keys() -> dict[str, Ed25519PublicKey]:
    """Every key that may have signed: the current one and retired public keys."""
    out: dict[str, Ed25519PublicKey] = {}
    key = private_key()
    if key is not None:
        out[key_id_of(key.public_key())] = key.public_key()
    for p in sorted(Path(settings.KEY_DIR).glob("audit-ed25519-*.pub")):
        pub = serialization.load_pem_public_key(p.read_bytes())
        if isinstance(pub, Ed25519PublicKey):
            out[key_id_of(pub)] = pub
    return out


def checkpoint_message(seq: int, hash_: str, at_us: int, key_id: str) -> bytes:
    return f"yobo-audit-checkpoint\x1f{seq}\x1f{hash_}\x1f{at_us}\x1f{key_id}".encode()


def archive_message(first_seq: int, last_seq: int, last_hash: str, file_sha256: str, entries: int,
                    at_us: int, key_id: str) -> bytes:
    return (
        f"yobo-audit-archive\x1f{first_seq}\x1f{last_seq}\x1f{last_hash}\x1f{file_sha256}\x1f{entries}"
        f"\x1f{at_us}\x1f{key_id}"
    ).encode()


def sign(message: bytes) -> tuple[str, str] | None:
    """(key id, hex signature), or None when there is no key."""
    key = private_key()
    if key is None:
        return None
    return key_id_of(key.public_key()), key.sign(message).hex()


def check(message: bytes, key_id: str, signature: str, keys: dict[str, Ed25519PublicKey]) -> bool:
    pub = keys.get(key_id)
    if pub is None:
        return False
    try:
        pub.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True
