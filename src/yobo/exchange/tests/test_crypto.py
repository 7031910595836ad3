"""Message security properties: what is sealed opens only for the receiver and only unchanged;
the time window; linkage tokens are keyed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yobo.exchange import crypto


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> tuple[crypto.PartyKeys, ...]:
    d = tmp_path_factory.mktemp("x")
    return tuple(crypto.init_keys(d / c, c)[0] for c in ("141003", "172014", "011002"))


json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=20),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                           max_leaves=10)


@settings(max_examples=40, deadline=None)
@given(content=st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=5),
       flip=st.integers(min_value=0))
def test_seal_opens_for_the_receiver_only_and_unchanged(parties: tuple[crypto.PartyKeys, ...],
                                                        content: dict[str, object], flip: int) -> None:
    a, b, c = parties
    token = crypto.seal(content, a, b.public())
    assert crypto.unseal(token, b, a.public()) == content
    with pytest.raises(crypto.MessageRejected):  # a third party's key does not open it
        crypto.unseal(token, c, a.public())
    with pytest.raises(crypto.MessageRejected):  # signed by a, not by c
        crypto.unseal(token, b, c.public())
    parts = token.split(".")
    i = flip % len(parts[3])
    parts[3] = parts[3][:i] + ("A" if parts[3][i] != "A" else "B") + parts[3][i + 1:]
    with pytest.raises(crypto.MessageRejected):
        crypto.unseal(".".join(parts), b, a.public())


def test_signature_names_and_binds_the_signer(parties: tuple[crypto.PartyKeys, ...]) -> None:
    a, b, _ = parties
    t = crypto.sign({"n": 1}, a)
    assert crypto.signer_of(t) == "141003" and crypto.verify(t, a.public()) == {"n": 1}
    with pytest.raises(crypto.MessageRejected):
        crypto.verify(t, b.public())


@given(offset=st.integers(min_value=-10_000, max_value=10_000))
def test_time_window(offset: int) -> None:
    now = crypto.now_utc()
    at = crypto.stamp(now + timedelta(seconds=offset))
    if abs(offset) <= crypto.WINDOW_SECONDS - 1:
        crypto.fresh(at, now)
    elif abs(offset) > crypto.WINDOW_SECONDS + 1:
        with pytest.raises(crypto.MessageRejected):
            crypto.fresh(at, now)


def test_linkage_token_is_keyed(tmp_path: Path) -> None:
    crypto.init_linkage_key(tmp_path / "k1")
    crypto.init_linkage_key(tmp_path / "k2")
    k1, k2 = crypto.read_linkage_key(tmp_path / "k1"), crypto.read_linkage_key(tmp_path / "k2")
    n = "0" * 11 + "0"
    assert crypto.linkage_token(k1, n) == crypto.linkage_token(k1, n) != crypto.linkage_token(k2, n)
    assert n not in crypto.linkage_token(k1, n)
