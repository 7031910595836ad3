"""Reads of certificates (接種証明書): the searches of 7-② (券番号, 個人番号, 3情報), applications,
issued certificates and the document a PDF is drawn from — each through the door with the caller's
context (purpose C01). The revocation lists are public (revocation ids are meaningless without the
issuer's secret) and are read without a context.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Q

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation
from yobo.core.text import digits, search_key
from yobo.people import lookup

from . import doses as dose_source
from . import shc
from .models import ApplicantKind, Application, ApplicationState, Certificate, Language, SearchMethod
from .services import APPLICATION_RESOURCE, CERTIFICATE_RESOURCE, IDENTITY_DOCUMENTS, CertificateNotFound

SEARCH_LIMIT = 20


def _m() -> str:
    return str(settings.MUNICIPALITY_CODE)


# --- searches (7-②) --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidates:
    """Persons a search found. Staff pick one; nothing here ever picks for them."""

    method: str
    persons: list[lookup.PersonCard] = field(default_factory=list)
    more: bool = False
    exact: frozenset[str] = frozenset()  # 宛名番号 whose whole name equals the name searched

    @property
    def ambiguous(self) -> bool:
        return len(self.persons) > 1


def search_three_items(ctx: AccessContext, *, address: str, name: str, birth_date: date | None,
                       limit: int = SEARCH_LIMIT) -> Candidates:
    """By the three basic items (住所・氏名・生年月日), all required. Names match width- and
    kana-insensitively (``ﾔﾏﾀﾞ ﾀﾛｳ`` = ``やまだ　たろう`` = ``ヤマダタロウ``), addresses in either width."""
    if not (address or "").strip() or not (name or "").strip() or birth_date is None:
        raise InputRejected("住所・氏名・生年月日の3つとも入力してください。"
                            " / Enter all three: address, name and birth date.")
    res = lookup.search(ctx, lookup.Criteria(name=name.strip(), birth_date=birth_date, address=address.strip()),
                        limit=limit)
    key = search_key(name)
    exact = frozenset(p.atena_no for p in res.persons if key in (search_key(p.name_kanji), search_key(p.name_kana)))
    return Candidates(SearchMethod.THREE_ITEMS, res.persons, res.more, exact)


def search_voucher(ctx: AccessContext, voucher_no: str) -> Candidates:
    """By voucher number (券番号, 10 digits): the persons whose dose records carry it."""
    v = digits(voucher_no)
    if not v.isdigit() or len(v) != 10:
        raise InputRejected("券番号は10桁の数字です。 / The voucher number is 10 digits.")
    persons: list[lookup.PersonCard] = []
    for a in dose_source.atenas_by_voucher(ctx, v):
        persons.extend(lookup.search(ctx, lookup.Criteria(atena_no=a), limit=1).persons)
    return Candidates(SearchMethod.VOUCHER, persons)


def search_mynumber(ctx: AccessContext, number: str) -> Candidates:
    """By My Number (個人番号): only for staff with the My Number right (the vault refuses and logs
    otherwise). The number is neither kept nor logged."""
    _atena, res = lookup.search_by_mynumber(ctx, number)
    return Candidates(SearchMethod.MYNUMBER, res.persons)


# --- applications and certificates -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApplicationView:
    id: int
    channel: str
    applicant_kind: str
    applicant_name: str
    agent_relationship: str
    documents_seen: tuple[str, ...]
    letter_of_authority_seen: bool
    language: str
    romanised_name: str
    nationality: str
    passport_no: str
    note: str
    state: str
    atena_no: str
    search_method: str
    received_at: datetime
    received_by: str
    terminal: str

    @property
    def applicant_kind_label(self) -> str:
        return str(ApplicantKind(self.applicant_kind).label)

    @property
    def state_label(self) -> str:
        return str(ApplicationState(self.state).label)

    @property
    def language_label(self) -> str:
        return str(Language(self.language).label)

    @property
    def document_labels(self) -> list[str]:
        return [IDENTITY_DOCUMENTS.get(d, d) for d in self.documents_seen]

    @property
    def search_method_label(self) -> str:
        return str(SearchMethod(self.search_method).label) if self.search_method else ""

    @property
    def open(self) -> bool:
        return self.state in (ApplicationState.RECEIVED, ApplicationState.IDENTIFIED)


def _app_view(a: Application) -> ApplicationView:
    return ApplicationView(
        a.pk, a.channel, a.applicant_kind, a.applicant_name, a.agent_relationship, tuple(a.documents_seen or ()),
        a.letter_of_authority_seen, a.language, a.romanised_name, a.nationality, a.passport_no, a.note, a.state,
        a.atena_no, a.search_method, a.received_at, a.received_by.get_username(), a.terminal,
    )


def application(ctx: AccessContext, application_id: int) -> ApplicationView:
    with door(ctx, Operation.READ, resource=APPLICATION_RESOURCE, detail=f"application {application_id}") as rec:
        a = Application.objects.select_related("received_by").filter(pk=application_id, municipality=_m()).first()
        if a is None:
            from .services import ApplicationNotFound

            raise ApplicationNotFound(application_id)
        rec.targets = [a.atena_no]
    return _app_view(a)


def recent_applications(ctx: AccessContext, limit: int = 20) -> list[ApplicationView]:
    """The latest applications (受付一覧), newest first."""
    with door(ctx, Operation.READ, resource=APPLICATION_RESOURCE, detail="recent applications") as rec:
        rows = list(Application.objects.select_related("received_by").filter(municipality=_m())
                    .order_by("-received_at", "-pk")[:limit])
        rec.targets = sorted({a.atena_no for a in rows if a.atena_no}) or [""]
    return [_app_view(a) for a in rows]


@dataclass(frozen=True, slots=True)
class CertificateView:
    certificate_id: str
    atena_no: str
    application_id: int
    language: str
    issue_date: date
    issued_at: datetime
    issued_by: str
    kid: str
    rid: str
    nbf: datetime
    exp: datetime | None
    cards: tuple[str, ...]
    dose_count: int
    revoked_at: datetime | None
    revoke_reason: str

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def numerics(self) -> list[str]:
        return [shc.to_numeric(c) for c in self.cards]


def _cert_view(c: Certificate) -> CertificateView:
    return CertificateView(c.certificate_id, c.atena_no, c.application_id, c.language, c.issue_date, c.issued_at,
                           c.issued_by.get_username(), c.kid, c.rid, c.nbf, c.exp, tuple(c.cards), c.dose_count,
                           c.revoked_at, c.revoke_reason)


def certificates_for(ctx: AccessContext, atena_no: str) -> list[CertificateView]:
    """A person's certificates (証明書ID・発行年月日), newest first."""
    a = str(atena_no).strip()
    with door(ctx, Operation.READ, resource=CERTIFICATE_RESOURCE, target=a):
        rows = list(Certificate.objects.select_related("issued_by").filter(municipality=_m(), atena_no=a)
                    .order_by("-issued_at", "-pk"))
    return [_cert_view(c) for c in rows]


def certificate(ctx: AccessContext, certificate_id: str) -> CertificateView:
    with door(ctx, Operation.READ, resource=CERTIFICATE_RESOURCE, detail=f"certificate {certificate_id[:40]}") as rec:
        c = Certificate.objects.select_related("issued_by").filter(municipality=_m(),
                                                                    certificate_id=certificate_id).first()
        if c is None:
            raise CertificateNotFound(certificate_id)
        rec.targets = [c.atena_no]
    return _cert_view(c)


@dataclass(frozen=True, slots=True)
class PrintedDose:
    vaccine: str
    date: date
    lot: str


@dataclass(frozen=True, slots=True)
class CertificateDocument:
    """Everything the paper certificate shows; names and doses come from the signed cards themselves,
    so the paper says exactly what its QR codes say."""

    certificate: CertificateView
    names: tuple[tuple[str, str], ...]  # (family, given) as on the card
    birth_date: date
    doses: tuple[PrintedDose, ...]
    name_kana: str
    sex: int
    romanised_name: str
    nationality: str
    passport_no: str


def card_claims(token: str) -> dict[str, Any]:
    """The claims of one of our own stored cards (no verification: read back from our database)."""
    body = token.split(".")[1]
    return dict(json.loads(shc.inflate(shc.b64url_decode(body))))


def certificate_document(ctx: AccessContext, certificate_id: str) -> CertificateDocument:
    """The data of a certificate's PDF (a logged READ of the person under the caller's purpose)."""
    from yobo.people import selectors as people

    view = certificate(ctx, certificate_id)
    person = people.get_person(ctx, view.atena_no)
    with door(ctx, Operation.READ, resource=APPLICATION_RESOURCE, target=view.atena_no):
        row = Application.objects.filter(pk=view.application_id).values_list(
            "romanised_name", "nationality", "passport_no").first()
    roman, nationality, passport = row or ("", "", "")
    names: list[tuple[str, str]] = []
    birth = person.birth_date
    printed: list[PrintedDose] = []
    for token in view.cards:
        entries = card_claims(token)["vc"]["credentialSubject"]["fhirBundle"]["entry"]
        for e in entries:
            r = e["resource"]
            if r["resourceType"] == "Patient" and not names:
                names = [(n.get("family", ""), " ".join(n.get("given") or [])) for n in r.get("name", [])]
                birth = date.fromisoformat(r["birthDate"])
            elif r["resourceType"] == "Immunization":
                code = next((c["code"] for c in r["vaccineCode"]["coding"] if c["system"] == shc.YOBO_VACCINE), "")
                printed.append(PrintedDose(code, date.fromisoformat(r["occurrenceDateTime"][:10]),
                                           r.get("lotNumber", "")))
    return CertificateDocument(view, tuple(names), birth, tuple(printed), person.name_kana, person.sex, roman,
                               nationality, passport)


# --- revocation lists (public) ------------------------------------------------------------------


def crl_versions() -> dict[str, int]:
    """``crlVersion`` per key id: 1 + the number of certificates revoked under that key (it only grows)."""
    rows = (Certificate.objects.filter(municipality=_m()).values("kid")
            .annotate(n=Count("pk", filter=Q(revoked_at__isnull=False))))
    return {r["kid"]: 1 + int(r["n"]) for r in rows}


def revocation_list(kid: str) -> dict[str, Any]:
    """The SHC revocation list of one key (``/.well-known/crl/<kid>.json``)."""
    rids = sorted(set(Certificate.objects.filter(municipality=_m(), kid=kid, revoked_at__isnull=False)
                      .values_list("rid", flat=True)))
    return {"kid": kid, "method": "rid", "ctr": 1 + len(rids), "rids": rids}


def revocation_lists(kids: list[str]) -> dict[str, dict[str, Any]]:
    return {k: revocation_list(k) for k in kids}
