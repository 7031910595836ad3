"""Where the city's exchange keys live, how to reach the hub, and how long results are kept.

Keys (never in the database) under ``settings.KEY_DIR / "exchange"``:
``<municipality>/sig.jwk.json``, ``<municipality>/enc.jwk.json`` (the city's private keys),
``<municipality>/hub.pub.json`` (the hub's public keys this city trusts) and ``linkage.key`` (the
network linkage key, the same file in every city; decision 081).

Settings: ``YOBO_HUB_URL`` (default ``http://127.0.0.1:8700``), ``YOBO_EXCHANGE_RETENTION_DAYS``
(days a completed or abandoned query's result is kept; default 30).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from . import crypto
from .client import HubClient, Transport, http_transport

HUB_FILE = "hub.pub.json"
DEFAULT_HUB_URL = "http://127.0.0.1:8700"
DEFAULT_RETENTION_DAYS = 30
DIRECTORY_TTL = 60.0

_state: dict[str, Transport | None] = {"transport": None}
_directory_cache: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}


def municipality() -> str:
    return str(settings.MUNICIPALITY_CODE)


def exchange_dir() -> Path:
    return Path(settings.KEY_DIR) / "exchange"


def key_dir(m: str | None = None) -> Path:
    return exchange_dir() / (m or municipality())


def linkage_key_path() -> Path:
    return exchange_dir() / crypto.LINKAGE_FILE


def hub_url() -> str:
    return str(getattr(settings, "YOBO_HUB_URL", None) or os.environ.get("YOBO_HUB_URL") or DEFAULT_HUB_URL)


def retention_days() -> int:
    raw = getattr(settings, "YOBO_EXCHANGE_RETENTION_DAYS", None) or os.environ.get("YOBO_EXCHANGE_RETENTION_DAYS")
    return int(raw) if raw else DEFAULT_RETENTION_DAYS


def set_transport(transport: Transport | None) -> None:
    """Use ``transport`` instead of HTTP to ``YOBO_HUB_URL`` (tests run the hub in-process)."""
    _state["transport"] = transport
    _directory_cache.clear()


def client() -> HubClient:
    return HubClient(_state["transport"] or http_transport(hub_url()))


def my_keys() -> crypto.PartyKeys:
    m = municipality()
    return crypto.load_keys(key_dir(m), m)


def hub_entry() -> dict[str, Any]:
    path = key_dir() / HUB_FILE
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"中継サーバーの公開鍵が登録されていません ({path})。"
            "`yobo exchange keys init --hub-key FILE` で登録してください。"
            " / The hub's public key is not registered."
        ) from None


def directory(*, refresh: bool = False) -> dict[str, dict[str, Any]]:
    """Member public keys by code, from the hub's signed directory (verified with the hub's key)."""
    m = municipality()
    cached = _directory_cache.get(m)
    if cached and not refresh and time.monotonic() - cached[0] < DIRECTORY_TTL:
        return cached[1]
    obj = crypto.verify(client().directory(), hub_entry())
    entries = {str(e["code"]): e for e in obj.get("members") or []}
    entries["hub"] = hub_entry()
    _directory_cache[m] = (time.monotonic(), entries)
    return entries


def member(code: str) -> dict[str, Any]:
    d = directory()
    if code not in d:
        d = directory(refresh=True)
    if code not in d:
        raise crypto.MessageRejected("unknown_party")
    return d[code]
