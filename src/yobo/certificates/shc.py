"""SMART Health Card (SHC) issuing: FHIR R4 bundle, JWS ES256 over raw DEFLATE, ``shc:/`` numeric text.

Pure (no Django). The issuer key is a jwcrypto ``JWK`` handed in by the caller (``issuer_keys``
loads it from ``YOBO_KEY_DIR``). What the spec asks of a card meant for a QR code, and how it is met:

- the bundle is ``type: collection``; entries carry ``fullUrl: resource:N`` and references use the same
  short scheme; no ``Resource.id``, ``meta``, ``text``, ``CodeableConcept.text`` or ``Coding.display``;
- the payload is ``{"iss", "nbf", ["exp"], "vc": {"type", "credentialSubject", "rid"}}``, minified
  and raw-DEFLATE compressed (zlib ``wbits=-15``) before signing;
- the protected header is ``{"alg": "ES256", "zip": "DEF", "kid": <JWK thumbprint, SHA-256, base64url>}``;
- one card fits one QR code (version 22): the JWS is at most 1195 characters. Chunking is deprecated
  by the spec, so a history too long for one card is split into several complete cards
  (:func:`build_cards`), each verifiable on its own.

Vaccines are coded with CVX (the code system SHC verifiers know; the "unspecified formulation"
code of each routine series) and, second, with yobo's series code (CONTRACTS.md §2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from yobo.core.errors import InputRejected

HEALTH_CARD = "https://smarthealth.cards#health-card"
IMMUNIZATION_CARD = "https://smarthealth.cards#immunization"
VC_TYPES = (HEALTH_CARD, IMMUNIZATION_CARD)
FHIR_VERSION = "4.0.1"
CVX = "http://hl7.org/fhir/sid/cvx"
YOBO_VACCINE = "urn:yobo:vaccine"
PREFIX = "shc:/"
# Longest JWS one QR code of version 22 holds in numeric mode (SHC "Health Cards as QR Codes").
MAX_JWS = 1195
_JWS_CHARS = re.compile(r"^[A-Za-z0-9_\-.]+$")

# yobo series code -> CVX code (unspecified formulation of the series).
CVX_CODES: dict[str, str] = {
    "HIB": "17", "PCV": "152", "HEPB": "45", "ROTA": "122", "DPT-IPV-HIB": "120", "DPT-IPV": "130",
    "BCG": "19", "MR1": "04", "MR2": "04", "VAR": "21", "JE1": "129", "JE2": "129", "DT": "28",
    "HPV": "137", "FLU-B": "88", "PPSV-B": "33", "COVID-B": "213", "HZ-B": "188",
}
CVX_TO_YOBO = {v: k for k, v in reversed(CVX_CODES.items())}


class ShcError(InputRejected):
    """The card could not be built (e.g. one dose alone does not fit a QR code)."""


@dataclass(frozen=True, slots=True)
class CardName:
    """One name of the holder: ``family``/``given`` as printed (漢字, or romanised for overseas use)."""

    family: str
    given: str = ""


@dataclass(frozen=True, slots=True)
class CardDose:
    """One dose put on the card (接種記録)."""

    vaccine: str  # yobo series code, e.g. "HIB"
    date: date
    lot: str = ""


@dataclass(frozen=True, slots=True)
class CardSubject:
    """Who the card is about and what it certifies."""

    names: tuple[CardName, ...]
    birth_date: date
    doses: tuple[CardDose, ...] = field(default=())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url: the alphabet only, and canonical (unused trailing bits zero), so one text
    means one byte string and a flipped padding bit cannot pass for the original."""
    if not re.fullmatch(r"[A-Za-z0-9_\-]*", text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(raw) != text:
        raise ValueError("non-canonical base64url")
    return raw


def _name(n: CardName) -> dict[str, Any]:
    out: dict[str, Any] = {"family": n.family}
    if n.given:
        out["given"] = [n.given]
    return out


def _immunization(d: CardDose) -> dict[str, Any]:
    codings = []
    if d.vaccine in CVX_CODES:
        codings.append({"system": CVX, "code": CVX_CODES[d.vaccine]})
    codings.append({"system": YOBO_VACCINE, "code": d.vaccine})
    res: dict[str, Any] = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": codings},
        "patient": {"reference": "resource:0"},
        "occurrenceDateTime": d.date.isoformat(),
    }
    if d.lot:
        res["lotNumber"] = d.lot
    return res


def bundle(subject: CardSubject) -> dict[str, Any]:
    """The FHIR R4 Bundle (collection) of a card: the Patient, then one Immunization per dose."""
    patient = {
        "resourceType": "Patient",
        "name": [_name(n) for n in subject.names],
        "birthDate": subject.birth_date.isoformat(),
    }
    entries = [{"fullUrl": "resource:0", "resource": patient}]
    for i, d in enumerate(sorted(subject.doses, key=lambda d: (d.date, d.vaccine)), start=1):
        entries.append({"fullUrl": f"resource:{i}", "resource": _immunization(d)})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def payload(subject: CardSubject, *, iss: str, nbf: datetime, rid: str = "", exp: datetime | None = None
            ) -> dict[str, Any]:
    """The JWT claims of a card (before minifying and compressing)."""
    out: dict[str, Any] = {"iss": iss, "nbf": int(nbf.timestamp())}
    if exp is not None:
        out["exp"] = int(exp.timestamp())
    vc: dict[str, Any] = {
        "type": list(VC_TYPES),
        "credentialSubject": {"fhirVersion": FHIR_VERSION, "fhirBundle": bundle(subject)},
    }
    if rid:
        vc["rid"] = rid
    out["vc"] = vc
    return out


def minify(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def deflate(data: bytes) -> bytes:
    """Raw DEFLATE (RFC 1951, no zlib or gzip header)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def inflate(data: bytes, limit: int = 1 << 20) -> bytes:
    d = zlib.decompressobj(-15)
    out = d.decompress(data, limit)
    if d.unconsumed_tail or not d.eof:
        raise ValueError("truncated or oversized DEFLATE stream")
    return out


def kid_of(key: jwk.JWK) -> str:
    """The key id: base64url SHA-256 JWK thumbprint (RFC 7638)."""
    return str(key.thumbprint())


def header(kid: str) -> dict[str, str]:
    return {"alg": "ES256", "zip": "DEF", "kid": kid}


def jws_length(claims: dict[str, Any], kid: str) -> int:
    """The length the compact JWS of ``claims`` will have (an ES256 signature is 64 bytes = 86 chars)."""
    return len(b64url(json_encode(header(kid)).encode())) + 1 + len(b64url(deflate(minify(claims)))) + 1 + 86


def sign(claims: dict[str, Any], key: jwk.JWK) -> str:
    """The compact JWS of ``claims`` signed ES256 with ``key`` (a P-256 private JWK)."""
    token = jws.JWS(deflate(minify(claims)))
    token.add_signature(key, None, json_encode(header(kid_of(key))))
    return str(token.serialize(compact=True))


def to_numeric(token: str) -> str:
    """``shc:/`` + two digits per JWS character (ord(c) - 45)."""
    if not _JWS_CHARS.match(token):
        raise ShcError("JWS に使えない文字があります。 / The JWS holds characters outside its alphabet.")
    return PREFIX + "".join(f"{ord(c) - 45:02d}" for c in token)


def from_numeric(text: str) -> str:
    """The JWS of a ``shc:/`` text (whitespace ignored). Raises ``ValueError`` saying what is wrong."""
    t = re.sub(r"\s+", "", text)
    if not t.lower().startswith(PREFIX):
        raise ValueError("shc:/ で始まっていません / does not start with shc:/")
    body = t[len(PREFIX):]
    if re.match(r"^\d+/\d+/", body):
        raise ValueError("分割QR (廃止された形式) には対応していません / chunked QR codes are not supported")
    if not body.isdigit() or not body.isascii():
        raise ValueError("数字以外の文字があります / non-digit characters after shc:/")
    if len(body) % 2:
        raise ValueError("桁数が奇数です / odd number of digits")
    chars = []
    for i in range(0, len(body), 2):
        n = int(body[i:i + 2])
        if n > ord("z") - 45:
            raise ValueError(f"{i + 1}桁目の値 {n:02d} は範囲外です / digit pair out of range")
        chars.append(chr(n + 45))
    token = "".join(chars)
    if not _JWS_CHARS.match(token) or token.count(".") != 2:
        raise ValueError("JWS の形になりません / does not decode to a compact JWS")
    return token


def rid_for(secret: bytes, kid: str, certificate_id: str) -> str:
    """Revocation id (SHC "Revocation"): base64url of the first 64 bits of
    HMAC-SHA-256(secret || kid, certificate id) — meaningless to anyone without the secret."""
    mac = hmac.new(secret + kid.encode(), certificate_id.encode(), hashlib.sha256).digest()
    return b64url(mac[:8])


@dataclass(frozen=True, slots=True)
class Card:
    """One signed card: the JWS, its ``shc:/`` text and the doses it carries."""

    jws: str
    doses: tuple[CardDose, ...]

    @property
    def numeric(self) -> str:
        return to_numeric(self.jws)


def build_cards(subject: CardSubject, key: jwk.JWK, *, iss: str, nbf: datetime | None = None, rid: str = "",
                exp: datetime | None = None, max_jws: int = MAX_JWS) -> list[Card]:
    """Sign the subject's doses as one card, or as several when they do not fit one QR code.

    Doses are packed in date order; each card repeats the Patient, so each verifies on its own. A
    person with no dose gets one card with the Patient only (what the paper certificate says too).
    Raises ``ShcError`` when the Patient and one dose alone exceed the size (e.g. an absurd name).
    """
    nbf = nbf or datetime.now(UTC)
    kid = kid_of(key)
    doses = sorted(subject.doses, key=lambda d: (d.date, d.vaccine))
    whole = payload(CardSubject(subject.names, subject.birth_date, tuple(doses)), iss=iss, nbf=nbf, rid=rid, exp=exp)
    if jws_length(whole, kid) <= max_jws:  # the usual case: one card, sized once
        return [Card(sign(whole, key), tuple(doses))]
    groups: list[list[CardDose]] = [[]]
    for d in doses:
        trial = [*groups[-1], d]
        claims = payload(CardSubject(subject.names, subject.birth_date, tuple(trial)), iss=iss, nbf=nbf, rid=rid,
                         exp=exp)
        if jws_length(claims, kid) <= max_jws:
            groups[-1] = trial
            continue
        if not groups[-1]:
            raise ShcError("接種記録1件でもQRコード1つに収まりません。 / One dose alone does not fit a QR code.")
        groups.append([d])
    cards = []
    for g in groups:
        claims = payload(CardSubject(subject.names, subject.birth_date, tuple(g)), iss=iss, nbf=nbf, rid=rid, exp=exp)
        if jws_length(claims, kid) > max_jws:
            raise ShcError("氏名が長すぎてQRコードに収まりません。 / The holder's data does not fit a QR code.")
        cards.append(Card(sign(claims, key), tuple(g)))
    return cards
