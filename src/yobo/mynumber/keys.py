"""The vault's keys (暗号鍵), kept outside the database.

Source, first match wins:

1. ``YOBO_MYNUMBER_KEYS``: the key ring as JSON, or that JSON base64-encoded (for a secret store
   that injects environment variables). Read only; rotation refuses and says how to update it.
2. ``settings.KEY_DIR / "mynumber-keys.json"``, mode 0600, written atomically.

The key ring holds several AES-256 data keys by key id, one active (new rows use it; rows keep the
id of the key that sealed them), and HMAC-SHA256 index keys for the blind index, one active::

    {"format": 1,
     "data_keys": {"d5f1c2a9b": "<base64 32 bytes>", ...}, "active_data_key": "d5f1c2a9b",
     "index_keys": {"i0c8e77d1": "<base64 32 bytes>", ...}, "active_index_key": "i0c8e77d1"}

Key ids are random, never reused, so a row restored from an old backup never meets a different key
under its id.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import stat
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from yobo.core.errors import IntegrityBroken
from yobo.core.keyfile import write_private

ENV_VAR = "YOBO_MYNUMBER_KEYS"
FILE_NAME = "mynumber-keys.json"
KEY_BYTES = 32
FORMAT = 1


class KeyRingError(IntegrityBroken):
    """The key ring is missing, unreadable or lacks a key a row needs (鍵の不備)."""


@dataclass(frozen=True)
class Keyring:
    """Data keys (AES-256-GCM) and index keys (HMAC-SHA256) by key id, each with one active."""

    data_keys: dict[str, bytes]
    active_data_key: str
    index_keys: dict[str, bytes]
    active_index_key: str
    source: str = "file"  # "file" or "env"
    retired: dict[str, str] = field(default_factory=dict)  # key id -> ISO time it stopped being active

    def data_key(self, key_id: str) -> bytes:
        try:
            return self.data_keys[key_id]
        except KeyError:
            raise KeyRingError(
                f"暗号鍵 {key_id} が鍵ファイルにありません。鍵の保管場所を確認してください。"
                f" / Data key {key_id} is not in the key ring."
            ) from None

    def to_json(self) -> dict[str, Any]:
        enc = lambda d: {k: base64.b64encode(v).decode() for k, v in sorted(d.items())}  # noqa: E731
        return {
            "format": FORMAT,
            "data_keys": enc(self.data_keys),
            "active_data_key": self.active_data_key,
            "index_keys": enc(self.index_keys),
            "active_index_key": self.active_index_key,
            "retired": dict(sorted(self.retired.items())),
        }

    def with_new_data_key(self, now_iso: str) -> Keyring:
        kid = new_key_id("d", self.data_keys)
        return replace(
            self,
            data_keys={**self.data_keys, kid: secrets.token_bytes(KEY_BYTES)},
            active_data_key=kid,
            retired={**self.retired, self.active_data_key: now_iso},
        )

    def with_new_index_key(self) -> tuple[Keyring, str]:
        """A ring with a new index key added but NOT yet active (reindex activates it)."""
        kid = new_key_id("i", self.index_keys)
        return replace(self, index_keys={**self.index_keys, kid: secrets.token_bytes(KEY_BYTES)}), kid


def new_key_id(prefix: str, taken: dict[str, bytes]) -> str:
    while True:
        kid = prefix + secrets.token_hex(4)
        if kid not in taken:
            return kid


def key_path() -> Path:
    from django.conf import settings

    return Path(settings.KEY_DIR) / FILE_NAME


def _decode_keys(raw: Any, what: str) -> dict[str, bytes]:
    if not isinstance(raw, dict) or not raw:
        raise KeyRingError(f"鍵ファイルに{what}がありません。 / The key ring has no {what}.")
    out: dict[str, bytes] = {}
    for kid, b64 in raw.items():
        try:
            key = base64.b64decode(b64, validate=True)
        except (binascii.Error, TypeError, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise KeyRingError(f"鍵 {kid} の形式が正しくありません。 / Key {kid} is not 32 bytes of base64.")
        out[str(kid)] = key
    return out


def parse(text: str, source: str) -> Keyring:
    """A key ring from its JSON (or base64 of the JSON)."""
    text = text.strip()
    if not text.startswith("{"):
        try:
            text = base64.b64decode(text, validate=True).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise KeyRingError(
                "鍵の形式が正しくありません (JSON または base64)。 / Keys are not JSON or base64 JSON."
            ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise KeyRingError("鍵の形式が正しくありません (JSON)。 / The key ring is not valid JSON.") from None
    data_keys = _decode_keys(data.get("data_keys"), "データ鍵 (data keys)")
    index_keys = _decode_keys(data.get("index_keys"), "索引鍵 (index keys)")
    active_d, active_i = data.get("active_data_key"), data.get("active_index_key")
    if active_d not in data_keys or active_i not in index_keys:
        raise KeyRingError("有効な鍵の指定が正しくありません。 / The active key id is not in the key ring.")
    return Keyring(data_keys, active_d, index_keys, active_i, source=source,
                   retired={str(k): str(v) for k, v in (data.get("retired") or {}).items()})


_cache_lock = threading.Lock()
_cache: dict[tuple[Any, ...], Keyring] = {}


def load() -> Keyring | None:
    """The key ring, or None when there is none yet (no variable, no file)."""
    env = os.environ.get(ENV_VAR)
    if env:
        ck: tuple[Any, ...] = ("env", env)
        with _cache_lock:
            if ck not in _cache:
                _cache.clear()
                _cache[ck] = parse(env, "env")
            return _cache[ck]
    path = key_path()
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyRingError(
            f"鍵ファイル {path} は所有者以外も読めます。chmod 600 にしてください。"
            f" / The key file {path} is readable by others; chmod 600 it."
        )
    ck = ("file", str(path), st.st_mtime_ns, st.st_size, st.st_ino)
    with _cache_lock:
        if ck not in _cache:
            _cache.clear()
            _cache[ck] = parse(path.read_text(encoding="utf-8"), "file")
        return _cache[ck]


def save(ring: Keyring) -> Path:
    """Write the key ring to the key file atomically with mode 0600 (file source only)."""
    if os.environ.get(ENV_VAR):
        raise KeyRingError(
            f"鍵は環境変数 {ENV_VAR} から読み込まれているため、ここでは更新できません。"
            "鍵管理の担当者が新しい鍵を環境変数に設定してください。"
            f" / Keys come from {ENV_VAR}; update them in the secret store instead."
        )
    path = write_private(key_path(), json.dumps(ring.to_json(), indent=1))
    with _cache_lock:
        _cache.clear()
    return path


def generate() -> Keyring:
    """A fresh key ring: one data key and one index key."""
    return Keyring(
        data_keys={(d := new_key_id("d", {})): secrets.token_bytes(KEY_BYTES)},
        active_data_key=d,
        index_keys={(i := new_key_id("i", {})): secrets.token_bytes(KEY_BYTES)},
        active_index_key=i,
    )


def ensure_keys() -> list[str]:
    """Create the key file when there is no key ring yet; messages say what was created.

    Called by ``yobo init``. Never replaces existing keys (rows sealed under them would be lost).
    """
    if os.environ.get(ENV_VAR):
        load()  # fail loudly now if the variable is malformed
        return []
    if load() is not None:
        return []
    path = save(generate())
    return [
        f"個人番号の暗号鍵と索引鍵を作成しました: {path} / Created the My Number data and index keys: {path}."
        " 本番環境では鍵をホスト外の鍵保管庫に置いてください (YOBO_MYNUMBER_KEYS)。"
        " / In production keep keys in a key store outside the host."
    ]
