"""Field encryption and blind index for My Numbers (暗号化・ブラインドインデックス).

Only the mynumber app imports this module (import-linter contract + a test that greps the tree).

- Sealing: AES-256-GCM, a fresh random 96-bit nonce per seal, the key id kept with the row, and
  associated data (AAD) binding the ciphertext to its row: format version, municipality code,
  integrated address number and key id. A ciphertext copied onto another row, or a key id edited
  in place, fails authentication instead of decrypting to someone else's number.
- Blind index: HMAC-SHA256 under a separate index key over the normalised number, truncated to
  128 bits (hex). Lookups and the uniqueness constraint use it; it reveals nothing without the key.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from yobo.core.errors import IntegrityBroken

from .keys import Keyring

NONCE_BYTES = 12
INDEX_HEX = 32  # 128 bits
_AAD_PREFIX = b"yobo.mynumber.v1"
INDEX_PREFIX = b"yobo.mynumber.index.v1\x00"


class CipherError(IntegrityBroken):
    """A sealed number did not authenticate (tampered, moved to another row, or wrong key)."""

    def __init__(self) -> None:
        super().__init__(
            "個人番号の暗号データを検証できませんでした (改ざん・鍵の不一致の可能性)。"
            "システム管理者に連絡してください。"
            " / A sealed My Number failed authentication (tampering or wrong key)."
        )


@dataclass(frozen=True, slots=True)
class Sealed:
    """A sealed number as stored on its row."""

    ciphertext: bytes  # ciphertext || 16-byte tag
    nonce: bytes
    key_id: str


def aad(municipality: str, integrated_no: str, key_id: str) -> bytes:
    """The associated data that binds a ciphertext to its row."""
    return b"\x1f".join((_AAD_PREFIX, municipality.encode(), integrated_no.encode(), key_id.encode()))


class Sealer:
    """Seals and opens numbers with one key ring; keeps one AESGCM object per key id."""

    def __init__(self, ring: Keyring) -> None:
        self.ring = ring
        self._aead: dict[str, AESGCM] = {}

    def _cipher(self, key_id: str) -> AESGCM:
        c = self._aead.get(key_id)
        if c is None:
            c = self._aead[key_id] = AESGCM(self.ring.data_key(key_id))
        return c

    def seal(self, municipality: str, integrated_no: str, number: str, key_id: str | None = None) -> Sealed:
        kid = key_id or self.ring.active_data_key
        nonce = os.urandom(NONCE_BYTES)
        ct = self._cipher(kid).encrypt(nonce, number.encode("ascii"), aad(municipality, integrated_no, kid))
        return Sealed(ct, nonce, kid)

    def seal_many(self, municipality: str, integrated_nos: list[str], numbers: list[str]) -> list[tuple[bytes, bytes]]:
        """``seal`` for many numbers under the active key: (ciphertext, nonce) pairs, in order. The
        same construction (a fresh random nonce each, the same AAD); the nonces come from one
        ``os.urandom`` call and the AAD's fixed parts are built once (a bulk load seals 1M)."""
        kid = self.ring.active_data_key
        encrypt = self._cipher(kid).encrypt
        head = b"\x1f".join((_AAD_PREFIX, municipality.encode(), b""))
        tail = b"\x1f" + kid.encode()
        pool = os.urandom(NONCE_BYTES * len(numbers))
        out: list[tuple[bytes, bytes]] = []
        add = out.append
        for i, (ino, n) in enumerate(zip(integrated_nos, numbers, strict=True)):
            nonce = pool[i * NONCE_BYTES:(i + 1) * NONCE_BYTES]
            add((encrypt(nonce, n.encode("ascii"), head + ino.encode("ascii") + tail), nonce))
        return out

    def open(self, municipality: str, integrated_no: str, sealed: Sealed) -> str:
        try:
            pt = self._cipher(sealed.key_id).decrypt(
                bytes(sealed.nonce), bytes(sealed.ciphertext), aad(municipality, integrated_no, sealed.key_id)
            )
        except InvalidTag:
            raise CipherError() from None
        return pt.decode("ascii")


def blind_index(index_key: bytes, number: str) -> str:
    """The keyed blind index of a normalised number (hex, 128 bits)."""
    return hmac.digest(index_key, INDEX_PREFIX + number.encode("ascii"), "sha256").hex()[:INDEX_HEX]


def index_active(ring: Keyring, number: str) -> tuple[str, str]:
    """(index key id, blind index) under the active index key: what a new row stores."""
    return ring.active_index_key, blind_index(ring.index_keys[ring.active_index_key], number)


def index_all(ring: Keyring, number: str) -> list[str]:
    """The blind index under every index key in the ring: what a lookup searches for (a reindex may
    have been interrupted, leaving rows under the previous key)."""
    return [blind_index(k, number) for k in ring.index_keys.values()]
