"""The city's exchange keys: create, import the shared linkage key and the hub's public key, show.

Not personal data; no door. The private keys stay in ``settings.KEY_DIR / "exchange"``; ``show``
prints only the public member entry the hub's permission list needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from yobo.core.errors import InputRejected

from . import conf, crypto


def init(*, linkage_key: Path | None = None, hub_key: Path | None = None) -> dict[str, Any]:
    """Create this city's key pairs and the linkage key when missing; import the linkage key and
    the hub's public key when given. Existing private keys are never replaced."""
    m = conf.municipality()
    _keys, created = crypto.init_keys(conf.key_dir(m), m)
    try:
        linkage_written = crypto.init_linkage_key(conf.linkage_key_path(), linkage_key)
    except (OSError, ValueError):
        raise InputRejected(f"{linkage_key}: 連携鍵を読み込めません。 / Cannot read the linkage key.") from None
    hub_written = False
    if hub_key is not None:
        try:
            entry = json.loads(hub_key.read_text(encoding="utf-8"))
            crypto.public_key(entry, "sig")
            crypto.public_key(entry, "enc")
        except (OSError, ValueError, crypto.MessageRejected):
            raise InputRejected(
                f"{hub_key}: 中継サーバーの公開鍵ではありません。 / Not the hub's public key.") from None
        trust_hub(entry)
        hub_written = True
    return {"municipality": m, "created": created, "linkage_key_written": linkage_written,
            "hub_key_registered": hub_written, "key_dir": str(conf.key_dir(m))}


def trust_hub(entry: dict[str, Any]) -> None:
    """Register the hub's public keys (public halves only)."""
    public = {"code": entry.get("code", "hub"), "sig": entry["sig"], "enc": entry["enc"]}
    for use in ("sig", "enc"):
        public[use] = {k: v for k, v in public[use].items() if k != "d"}
    path = conf.key_dir() / conf.HUB_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(public), encoding="utf-8")
    conf._directory_cache.clear()  # the directory is verified with the hub key: fetch it again


def show() -> dict[str, Any]:
    """This city's public member entry (for the hub's permission list) and key fingerprints."""
    m = conf.municipality()
    entry = crypto.load_keys(conf.key_dir(m), m).public()
    hub = conf.key_dir(m) / conf.HUB_FILE
    return {**entry, "fingerprint": crypto.thumbprint(entry), "hub_key_registered": hub.exists(),
            "linkage_key_present": conf.linkage_key_path().exists()}
