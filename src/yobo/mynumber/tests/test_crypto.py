"""Key ring and cipher: AES-GCM with row-bound associated data, blind index."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import stat
from pathlib import Path

import pytest

from yobo.mynumber import checkdigit, crypto, keys


def number(seed: int = 0) -> str:
    return checkdigit.generate(random.Random(seed))


def test_ensure_keys_creates_private_file_once(key_dir: Path) -> None:
    msgs = keys.ensure_keys()
    assert len(msgs) == 1 and "mynumber-keys.json" in msgs[0]
    path = key_dir / keys.FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = keys.load()
    assert ring is not None and ring.active_data_key in ring.data_keys
    assert ring.active_index_key in ring.index_keys
    assert len(ring.data_keys[ring.active_data_key]) == 32
    assert ring.data_keys[ring.active_data_key] != ring.index_keys[ring.active_index_key]
    before = path.read_bytes()
    assert keys.ensure_keys() == []
    assert path.read_bytes() == before  # never replaced


def test_key_file_readable_by_others_is_refused(key_dir: Path) -> None:
    keys.ensure_keys()
    path = key_dir / keys.FILE_NAME
    os.chmod(path, 0o644)
    with pytest.raises(keys.KeyRingError, match="chmod 600"):
        keys.load()


def test_keys_from_environment_json_or_base64(key_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ring = keys.generate()
    text = json.dumps(ring.to_json())
    for value in (text, base64.b64encode(text.encode()).decode()):
        monkeypatch.setenv(keys.ENV_VAR, value)
        got = keys.load()
        assert got is not None and got.source == "env"
        assert got.data_keys == ring.data_keys and got.index_keys == ring.index_keys
    assert keys.ensure_keys() == []
    assert not (key_dir / keys.FILE_NAME).exists()
    with pytest.raises(keys.KeyRingError, match=keys.ENV_VAR):
        keys.save(ring)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(active_data_key="nope"),
        lambda d: d.update(data_keys={"d1": base64.b64encode(b"short").decode()}),
        lambda d: d.update(index_keys={}),
    ],
)
def test_malformed_key_ring_refused(mutate, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    d = keys.generate().to_json()
    mutate(d)
    monkeypatch.setenv(keys.ENV_VAR, json.dumps(d))
    with pytest.raises(keys.KeyRingError):
        keys.load()


def test_seal_and_open_round_trip() -> None:
    ring = keys.generate()
    s = crypto.Sealer(ring)
    n = number(1)
    sealed = s.seal("141003", "141003000000018", n)
    assert sealed.key_id == ring.active_data_key
    assert len(sealed.nonce) == 12
    assert n.encode() not in sealed.ciphertext
    assert s.open("141003", "141003000000018", sealed) == n
    # A fresh nonce each time: the same number never seals to the same bytes.
    assert s.seal("141003", "141003000000018", n).ciphertext != sealed.ciphertext


def test_seal_many_is_seal_with_distinct_nonces_bound_to_each_row() -> None:
    ring = keys.generate()
    s = crypto.Sealer(ring)
    inos = [f"14100300000{i:03d}" + "0" for i in range(40)]
    nums = [number(100 + i) for i in range(40)]
    got = s.seal_many("141003", inos, nums)
    assert len({nonce for _, nonce in got}) == 40 and all(len(nonce) == 12 for _, nonce in got)
    for ino, n, (ct, nonce) in zip(inos, nums, got, strict=True):
        sealed = crypto.Sealed(ct, nonce, ring.active_data_key)
        assert n.encode() not in ct and s.open("141003", ino, sealed) == n
    with pytest.raises(crypto.CipherError):  # bound to its own row, as ``seal`` is
        s.open("141003", inos[1], crypto.Sealed(got[0][0], got[0][1], ring.active_data_key))


def test_tampered_ciphertext_fails() -> None:
    s = crypto.Sealer(keys.generate())
    sealed = s.seal("141003", "141003000000018", number(2))
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(crypto.CipherError):
        s.open("141003", "141003000000018", crypto.Sealed(flipped, sealed.nonce, sealed.key_id))
    with pytest.raises(crypto.CipherError):
        s.open("141003", "141003000000018", crypto.Sealed(sealed.ciphertext, bytes(12), sealed.key_id))


def test_ciphertext_moved_to_another_row_fails() -> None:
    s = crypto.Sealer(keys.generate())
    sealed = s.seal("141003", "141003000000018", number(3))
    with pytest.raises(crypto.CipherError):
        s.open("141003", "141003000000026", sealed)  # another integrated number
    with pytest.raises(crypto.CipherError):
        s.open("131016", "141003000000018", sealed)  # another municipality


def test_key_id_is_bound_too() -> None:
    ring = keys.generate().with_new_data_key("now")
    old_id = next(k for k in ring.data_keys if k != ring.active_data_key)
    s = crypto.Sealer(ring)
    sealed = s.seal("141003", "141003000000018", number(4), key_id=old_id)
    # Relabelling the row with the other key id does not open it.
    with pytest.raises(crypto.CipherError):
        s.open("141003", "141003000000018", crypto.Sealed(sealed.ciphertext, sealed.nonce, ring.active_data_key))
    assert s.open("141003", "141003000000018", sealed) == number(4)


def test_unknown_key_id_is_an_integrity_error_naming_no_number() -> None:
    s = crypto.Sealer(keys.generate())
    with pytest.raises(keys.KeyRingError) as exc:
        s.open("141003", "141003000000018", crypto.Sealed(b"x" * 28, bytes(12), "dgone"))
    assert "dgone" in str(exc.value)


def test_blind_index_is_keyed_and_stable() -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    n, m = number(5), number(6)
    assert crypto.blind_index(k1, n) == crypto.blind_index(k1, n)
    assert crypto.blind_index(k1, n) != crypto.blind_index(k2, n)
    assert crypto.blind_index(k1, n) != crypto.blind_index(k1, m)
    assert re.fullmatch(r"[0-9a-f]{32}", crypto.blind_index(k1, n))
    ring = keys.generate()
    ring2, new_id = ring.with_new_index_key()
    assert ring2.active_index_key == ring.active_index_key  # added, not active yet
    assert len(crypto.index_all(ring2, n)) == 2
    assert crypto.blind_index(ring2.index_keys[new_id], n) in crypto.index_all(ring2, n)
    assert crypto.index_active(ring2, n)[0] == ring.active_index_key
