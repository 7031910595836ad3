"""Encryption of relief documents at rest (書類の暗号化保管): AES-256-GCM, keys outside the database.

The key file ``relief-document-keys.json`` lives in ``settings.KEY_DIR`` (mode 0600), created on
first use: ``{"active": KID, "keys": {KID: base64}}``. A new key can be added and made active; old
keys stay to open old documents (their rows keep the key id). Associated data binds a ciphertext to
its claim and document name, so a blob copied onto another row does not open.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from yobo.core.errors import IntegrityBroken
from yobo.core.keyfile import write_private

FILE_NAME = "relief-document-keys.json"


def _path() -> Path:
    return Path(settings.KEY_DIR) / FILE_NAME


def _load(create: bool) -> dict[str, object]:
    p = _path()
    if not p.exists():
        if not create:
            raise IntegrityBroken("救済書類の鍵ファイルがありません。 / the relief document key file is missing.")
        kid = secrets.token_hex(4)
        key = base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()
        ring: dict[str, object] = {"active": kid, "keys": {kid: key}}
        write_private(p, json.dumps(ring))
        return ring
    return dict(json.loads(p.read_text()))


def _key(ring: dict[str, object], kid: str) -> bytes:
    keys = ring.get("keys")
    if not isinstance(keys, dict) or kid not in keys:
        raise IntegrityBroken(f"救済書類の鍵 {kid} がありません。 / relief document key {kid} is missing.")
    return base64.b64decode(keys[kid])


def aad(municipality: str, claim_no: str, kind: str, file_name: str) -> bytes:
    return "\x1f".join(("relief-doc", municipality, claim_no, kind, file_name)).encode()


def seal(data: bytes, associated: bytes) -> tuple[str, bytes, bytes]:
    """(key id, nonce, ciphertext) of ``data``."""
    ring = _load(create=True)
    kid = str(ring["active"])
    nonce = secrets.token_bytes(12)
    return kid, nonce, AESGCM(_key(ring, kid)).encrypt(nonce, data, associated)


def open_(kid: str, nonce: bytes, ciphertext: bytes, associated: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag

    try:
        return AESGCM(_key(_load(create=False), kid)).decrypt(bytes(nonce), bytes(ciphertext), associated)
    except InvalidTag:
        raise IntegrityBroken("書類の復号に失敗しました（改ざんまたは鍵の不一致）。"
                              " / the document does not open.") from None
