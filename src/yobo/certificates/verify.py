"""Offline verification of a SMART Health Card (接種証明書の検証). Pure (no Django).

Checks, in order, and says which one failed:

1. ``damaged``: the text is not a ``shc:/`` numeric text, a compact JWS or a ``.smart-health-card``
   file; the header, payload or DEFLATE stream does not decode (base64url must be canonical);
2. ``unsupported``: the header is not ``alg: ES256`` with ``zip: DEF``;
3. ``unknown_kid``: no key of the issuer's key set has the header's ``kid``;
4. ``bad_signature``: the ES256 signature does not match;
5. ``not_yet_valid`` / ``expired``: ``nbf`` in the future (beyond a small clock skew) or ``exp`` past;
6. ``revoked``: the card's ``rid`` is in the issuer's revocation list for that ``kid`` (with a
   ``.timestamp`` suffix: only cards whose ``nbf`` is before it).

A key whose JWK carries ``crlVersion`` promises a revocation list; when none was supplied the card
still verifies but the result says the revocation was not checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from jwcrypto import jwk, jws
from jwcrypto.common import JWException

from .shc import CVX, CVX_TO_YOBO, HEALTH_CARD, PREFIX, YOBO_VACCINE, b64url_decode, from_numeric, inflate

CLOCK_SKEW = timedelta(minutes=5)


class Reason(StrEnum):
    VALID = "valid"
    DAMAGED = "damaged"
    UNSUPPORTED = "unsupported"
    UNKNOWN_KID = "unknown_kid"
    BAD_SIGNATURE = "bad_signature"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"


MESSAGES: dict[Reason, str] = {
    Reason.VALID: "有効な接種証明書です。 / The card is valid.",
    Reason.DAMAGED: "QRコードまたは証明書のデータが壊れています。 / The QR code or card data is damaged.",
    Reason.UNSUPPORTED: "対応していない署名方式です。 / Unsupported signature algorithm or compression.",
    Reason.UNKNOWN_KID: "発行者の鍵一覧にない鍵で署名されています。 / Signed with a key not in the issuer's key set.",
    Reason.BAD_SIGNATURE: "署名が一致しません（改ざんまたは別の発行者）。 / The signature does not match.",
    Reason.NOT_YET_VALID: "有効期間の開始前です。 / The card is not valid yet (nbf).",
    Reason.EXPIRED: "有効期限が切れています。 / The card has expired (exp).",
    Reason.REVOKED: "この証明書は取り消されています。 / The card has been revoked.",
}


@dataclass(frozen=True, slots=True)
class DoseLine:
    vaccine: str  # yobo code when present, else "CVX <code>"
    date: str
    lot: str = ""


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome; ``names``/``birth_date``/``doses`` are filled whenever the payload could be read."""

    reason: Reason
    detail: str = ""
    kid: str = ""
    iss: str = ""
    nbf: datetime | None = None
    exp: datetime | None = None
    rid: str = ""
    names: tuple[str, ...] = ()
    birth_date: str = ""
    doses: tuple[DoseLine, ...] = field(default=())
    revocation_checked: bool = False

    @property
    def ok(self) -> bool:
        return self.reason is Reason.VALID

    @property
    def message(self) -> str:
        return MESSAGES[self.reason] + (f" ({self.detail})" if self.detail else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.ok, "reason": str(self.reason), "message": self.message, "kid": self.kid, "iss": self.iss,
            "nbf": self.nbf.isoformat() if self.nbf else None, "exp": self.exp.isoformat() if self.exp else None,
            "names": list(self.names), "birth_date": self.birth_date,
            "doses": [{"vaccine": d.vaccine, "date": d.date, "lot": d.lot} for d in self.doses],
            "revocation_checked": self.revocation_checked,
        }


def read_cards(text: str) -> list[str]:
    """The cards in an input: ``shc:/`` texts (one per line), compact JWSs, or a ``.smart-health-card``
    JSON (``{"verifiableCredential": [...]}``). Items that are none of these are returned as they are,
    so :func:`verify` reports them as damaged."""
    t = text.strip()
    if t.startswith("{"):
        try:
            data = json.loads(t)
            vcs = data.get("verifiableCredential") if isinstance(data, dict) else None
            if isinstance(vcs, list) and vcs and all(isinstance(v, str) for v in vcs):
                return list(vcs)
        except json.JSONDecodeError:
            pass
        return [t]
    lines = [ln.strip() for ln in t.splitlines() if ln.strip()]
    if lines and all(ln.lower().startswith(PREFIX) for ln in lines):
        return lines
    return [t] if t else [""]


def read_input(arg: str) -> list[str]:
    """A file (path) or the card text itself."""
    if not arg.lower().startswith(PREFIX) and arg.count(".") != 2:
        p = Path(arg)
        if p.is_file():
            return read_cards(p.read_text(encoding="utf-8-sig"))
    return read_cards(arg)


def _ts(v: Any) -> datetime | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return datetime.fromtimestamp(v, UTC)


def _summary(claims: Mapping[str, Any]) -> tuple[tuple[str, ...], str, tuple[DoseLine, ...]]:
    names: list[str] = []
    birth = ""
    doses: list[DoseLine] = []
    try:
        entries = claims["vc"]["credentialSubject"]["fhirBundle"]["entry"]
    except (KeyError, TypeError):
        return (), "", ()
    for e in entries if isinstance(entries, list) else []:
        r = e.get("resource") if isinstance(e, dict) else None
        if not isinstance(r, dict):
            continue
        if r.get("resourceType") == "Patient":
            for n in r.get("name") or []:
                if isinstance(n, dict):
                    names.append(" ".join([str(n.get("family", "")), *[str(g) for g in n.get("given") or []]]).strip())
            birth = str(r.get("birthDate", ""))
        elif r.get("resourceType") == "Immunization":
            codings = (r.get("vaccineCode") or {}).get("coding") or []
            code = ""
            for c in codings:
                if isinstance(c, dict) and c.get("system") == YOBO_VACCINE:
                    code = str(c.get("code"))
            if not code:
                for c in codings:
                    if isinstance(c, dict) and c.get("system") == CVX:
                        code = CVX_TO_YOBO.get(str(c.get("code")), f"CVX {c.get('code')}")
            doses.append(DoseLine(code or "?", str(r.get("occurrenceDateTime", ""))[:10], str(r.get("lotNumber", ""))))
    return tuple(names), birth, tuple(doses)


def _revoked(rid: str, nbf: datetime | None, crl: Mapping[str, Any]) -> bool:
    for entry in crl.get("rids") or []:
        value, _, stamp = str(entry).partition(".")
        if value != rid:
            continue
        if not stamp:
            return True
        try:
            cutoff = datetime.fromtimestamp(int(stamp), UTC)
        except ValueError:
            return True  # an unreadable suffix: take the listing at its word
        if nbf is None or nbf < cutoff:
            return True
    return False


def verify(text: str, keyset: Mapping[str, Any], crls: Mapping[str, Mapping[str, Any]] | None = None, *,
           now: datetime | None = None) -> Verification:
    """Verify one card (``shc:/`` text or compact JWS) against a JWK set (``{"keys": [...]}``) and the
    revocation lists by kid (``{kid: {"kid", "method": "rid", "ctr", "rids"}}``)."""
    now = now or datetime.now(UTC)
    t = text.strip()
    try:
        token = from_numeric(t) if t.lower().startswith(PREFIX) else t
    except ValueError as exc:
        return Verification(Reason.DAMAGED, str(exc))
    parts = token.split(".")
    if len(parts) != 3:
        return Verification(Reason.DAMAGED, "JWS の形になりません / not a compact JWS")
    try:
        head = json.loads(b64url_decode(parts[0]))
        compressed = b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        return Verification(Reason.DAMAGED, "base64url")
    if not isinstance(head, dict):
        return Verification(Reason.DAMAGED, "header")
    if head.get("alg") != "ES256" or head.get("zip") != "DEF" or len(signature) != 64:
        return Verification(Reason.UNSUPPORTED, f"alg={head.get('alg')!s:.10} zip={head.get('zip')!s:.10}")
    kid = str(head.get("kid", ""))
    jwk_data = next((k for k in keyset.get("keys") or [] if isinstance(k, dict) and k.get("kid") == kid), None)
    if jwk_data is None:
        return Verification(Reason.UNKNOWN_KID, f"kid={kid[:43]}", kid=kid)
    try:
        key = jwk.JWK(**{k: v for k, v in jwk_data.items() if k in ("kty", "crv", "x", "y")})
        checker = jws.JWS()
        checker.deserialize(token)
        checker.verify(key, alg="ES256")
    except (JWException, ValueError, TypeError):
        return Verification(Reason.BAD_SIGNATURE, kid=kid)
    try:
        claims = json.loads(inflate(compressed))
    except (ValueError, UnicodeDecodeError):
        return Verification(Reason.DAMAGED, "payload", kid=kid)
    if not isinstance(claims, dict) or not isinstance(claims.get("vc"), dict):
        return Verification(Reason.DAMAGED, "payload", kid=kid)
    names, birth, doses = _summary(claims)
    vc = claims["vc"]
    nbf, exp = _ts(claims.get("nbf")), _ts(claims.get("exp"))
    rid = str(vc.get("rid", ""))
    crl = (crls or {}).get(kid)
    def result(reason: Reason, detail: str = "") -> Verification:
        return Verification(reason, detail, kid=kid, iss=str(claims.get("iss", "")), nbf=nbf, exp=exp, rid=rid,
                            names=names, birth_date=birth, doses=doses, revocation_checked=crl is not None)

    if HEALTH_CARD not in (vc.get("type") or []):
        return result(Reason.DAMAGED, "vc.type")
    if nbf is None:
        return result(Reason.DAMAGED, "nbf")
    if nbf > now + CLOCK_SKEW:
        return result(Reason.NOT_YET_VALID, nbf.isoformat())
    if exp is not None and exp < now:
        return result(Reason.EXPIRED, exp.isoformat())
    if crl is not None and rid and _revoked(rid, nbf, crl):
        return result(Reason.REVOKED)
    return result(Reason.VALID)

