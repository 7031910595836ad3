"""SMART Health Card encoding and offline verification (pure: no database)."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwcrypto import jwk

from yobo.certificates import shc
from yobo.certificates.verify import Reason, read_cards, verify

ISS = "https://yobo.example.jp"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
KEY = jwk.JWK.generate(kty="EC", crv="P-256")
OTHER = jwk.JWK.generate(kty="EC", crv="P-256")


def keyset(*keys: jwk.JWK) -> dict[str, object]:
    return {"keys": [{**k.export_public(as_dict=True), "kid": shc.kid_of(k), "use": "sig", "alg": "ES256"}
                     for k in keys]}


def subject(n: int = 3) -> shc.CardSubject:
    codes = list(shc.CVX_CODES)
    doses = tuple(shc.CardDose(codes[i % len(codes)], date(2020, 1, 1) + timedelta(days=40 * i), f"LOT{i:03d}")
                  for i in range(n))
    return shc.CardSubject((shc.CardName("山田", "太郎"), shc.CardName("YAMADA", "TARO")), date(2019, 5, 1), doses)


def one_card(n: int = 3, **kw: object) -> shc.Card:
    cards = shc.build_cards(subject(n), KEY, iss=ISS, nbf=NOW, **kw)  # type: ignore[arg-type]
    assert len(cards) == 1
    return cards[0]


def test_card_follows_the_spec_shape() -> None:
    card = one_card(rid="abcDEF123_-")
    head_b64, body_b64, sig_b64 = card.jws.split(".")
    head = json.loads(shc.b64url_decode(head_b64))
    assert head == {"alg": "ES256", "zip": "DEF", "kid": KEY.thumbprint()}
    raw = zlib.decompress(shc.b64url_decode(body_b64), -15)  # raw DEFLATE, no zlib header
    assert b" " not in raw.replace("山田".encode(), b"")  # minified
    claims = json.loads(raw)
    assert claims["iss"] == ISS and claims["nbf"] == int(NOW.timestamp()) and "exp" not in claims
    assert claims["vc"]["type"][0] == shc.HEALTH_CARD and claims["vc"]["rid"] == "abcDEF123_-"
    subj = claims["vc"]["credentialSubject"]
    assert subj["fhirVersion"] == "4.0.1"
    b = subj["fhirBundle"]
    assert b["type"] == "collection" and [e["fullUrl"] for e in b["entry"]] == [f"resource:{i}" for i in range(4)]
    for e in b["entry"]:
        r = e["resource"]
        assert not {"id", "meta", "text"} & set(r)
        if r["resourceType"] == "Immunization":
            assert r["patient"] == {"reference": "resource:0"}
            assert r["vaccineCode"]["coding"][0]["system"] == shc.CVX
            assert all("display" not in c for c in r["vaccineCode"]["coding"]) and "text" not in r["vaccineCode"]
    assert len(shc.b64url_decode(sig_b64)) == 64
    assert card.numeric.startswith("shc:/") and card.numeric[5:].isdigit()


def test_bundle_validates_as_fhir_r4() -> None:
    from fhir.resources.R4B.bundle import Bundle

    b = Bundle.model_validate(shc.bundle(subject(5)))
    assert b.entry[1].resource.get_resource_type() == "Immunization"


def test_numeric_example_from_the_spec() -> None:
    # 'X' is 88 - 45 = 43; '-' is 00 and 'z' is 77 (the range of the JWS alphabet).
    assert shc.to_numeric("X-z.a.b") == "shc:/43007701520153"
    assert shc.from_numeric("shc:/43007701520153") == "X-z.a.b"


def test_valid_card_verifies_and_tells_what_it_certifies() -> None:
    card = one_card()
    v = verify(card.numeric, keyset(KEY), now=NOW)
    assert v.ok and v.reason is Reason.VALID
    assert v.names == ("山田 太郎", "YAMADA TARO") and v.birth_date == "2019-05-01"
    assert [d.vaccine for d in v.doses] == ["HIB", "PCV", "HEPB"] and v.doses[0].lot == "LOT000"
    assert verify(card.jws, keyset(KEY), now=NOW).ok  # the bare JWS too


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("shc:/12345", Reason.DAMAGED),  # odd digits
        ("shc:/9999", Reason.DAMAGED),  # pairs out of range
        ("shc:/1/2/5676", Reason.DAMAGED),  # chunked
        ("hello", Reason.DAMAGED),
        ("", Reason.DAMAGED),
    ],
)
def test_damaged_inputs(text: str, reason: Reason) -> None:
    assert verify(text, keyset(KEY), now=NOW).reason is reason


def test_wrong_signature_unknown_kid_expired_revoked() -> None:
    card = one_card(rid="r1d")
    # Same kid, other key: the signature fails.
    forged_set = {"keys": [{**OTHER.export_public(as_dict=True), "kid": KEY.thumbprint()}]}
    assert verify(card.numeric, forged_set, now=NOW).reason is Reason.BAD_SIGNATURE
    assert verify(card.numeric, keyset(OTHER), now=NOW).reason is Reason.UNKNOWN_KID
    exp_card = one_card(exp=NOW + timedelta(days=30))
    assert verify(exp_card.numeric, keyset(KEY), now=NOW + timedelta(days=29)).ok
    assert verify(exp_card.numeric, keyset(KEY), now=NOW + timedelta(days=31)).reason is Reason.EXPIRED
    assert verify(card.numeric, keyset(KEY), now=NOW - timedelta(days=1)).reason is Reason.NOT_YET_VALID
    kid = KEY.thumbprint()
    crl = {kid: {"kid": kid, "method": "rid", "ctr": 2, "rids": ["r1d"]}}
    v = verify(card.numeric, keyset(KEY), crl, now=NOW)
    assert v.reason is Reason.REVOKED and v.revocation_checked and v.names  # still says whose card it was
    # A timestamp suffix revokes only cards issued before it.
    before = {kid: {"kid": kid, "method": "rid", "ctr": 2, "rids": [f"r1d.{int(NOW.timestamp()) - 60}"]}}
    assert verify(card.numeric, keyset(KEY), before, now=NOW).ok
    after = {kid: {"kid": kid, "method": "rid", "ctr": 2, "rids": [f"r1d.{int(NOW.timestamp()) + 60}"]}}
    assert verify(card.numeric, keyset(KEY), after, now=NOW).reason is Reason.REVOKED
    assert not verify(card.numeric, keyset(KEY), now=NOW).revocation_checked


def test_other_algorithm_is_refused() -> None:
    card = one_card()
    _, body, sig = card.jws.split(".")
    head = shc.b64url(json.dumps({"alg": "none", "zip": "DEF", "kid": KEY.thumbprint()}).encode())
    assert verify(f"{head}.{body}.{sig}", keyset(KEY), now=NOW).reason is Reason.UNSUPPORTED


def test_long_history_is_split_into_complete_cards() -> None:
    big = subject(60)
    cards = shc.build_cards(big, KEY, iss=ISS, nbf=NOW)
    assert len(cards) > 1
    assert sum(len(c.doses) for c in cards) == 60
    for c in cards:
        assert len(c.jws) <= shc.MAX_JWS
        v = verify(c.numeric, keyset(KEY), now=NOW)
        assert v.ok and len(v.doses) == len(c.doses) and v.birth_date == "2019-05-01"


def test_oversize_name_is_refused() -> None:
    name = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(1500))  # does not compress
    s = shc.CardSubject((shc.CardName(name),), date(2000, 1, 1), ())
    with pytest.raises(shc.ShcError):
        shc.build_cards(s, KEY, iss=ISS, nbf=NOW)


def test_smart_health_card_file_and_lines() -> None:
    card = one_card()
    assert read_cards(json.dumps({"verifiableCredential": [card.jws]})) == [card.jws]
    assert read_cards(f"{card.numeric}\n{card.numeric}\n") == [card.numeric, card.numeric]


name_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                    max_size=20)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=name_text, given_name=name_text, birth=st.dates(date(1900, 1, 1), date(2026, 1, 1)),
       n=st.integers(0, 8), lot=st.text(alphabet="ABCXYZ0123456789-", max_size=10))
def test_round_trip(family: str, given_name: str, birth: date, n: int, lot: str) -> None:
    doses = tuple(shc.CardDose("MR1", birth + timedelta(days=400 + i), lot) for i in range(n))
    s = shc.CardSubject((shc.CardName(family, given_name),), birth, doses)
    cards = shc.build_cards(s, KEY, iss=ISS, nbf=NOW)
    text = cards[0].numeric
    assert shc.to_numeric(shc.from_numeric(text)) == text
    v = verify(text, keyset(KEY), now=NOW)
    assert v.ok, v.message
    assert v.birth_date == birth.isoformat() and len(v.doses) == n
    assert v.names == (" ".join(x for x in (family, given_name)).strip(),)


CARD = one_card(4)


@settings(max_examples=300, deadline=None)
@given(pos=st.integers(0, len(CARD.jws) - 1), bit=st.integers(0, 6))
def test_any_bit_flip_in_the_jws_fails(pos: int, bit: int) -> None:
    chars = list(CARD.jws)
    chars[pos] = chr(ord(chars[pos]) ^ (1 << bit))
    v = verify("".join(chars), keyset(KEY), now=NOW)
    assert not v.ok


@settings(max_examples=300, deadline=None)
@given(pos=st.integers(5, len(CARD.numeric) - 1), bit=st.integers(0, 6))
def test_any_bit_flip_in_the_qr_text_fails(pos: int, bit: int) -> None:
    chars = list(CARD.numeric)
    chars[pos] = chr(ord(chars[pos]) ^ (1 << bit))
    assert not verify("".join(chars), keyset(KEY), now=NOW).ok
