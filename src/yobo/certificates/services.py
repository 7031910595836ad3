"""Writes of certificates (接種証明書の交付): application, identification, issuance, revocation.

Every function takes an ``AccessContext`` and runs inside the audit door with purpose C01
(接種証明書の交付): applications are CREATE, identifying the person and revoking are UPDATE, issuing
is ISSUE, each logged with the 宛名番号 as target. The person's data and dose history are read
through ``people`` and ``immunizations`` selectors with the same context, so those reads are logged
under C01 too.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import Operation
from yobo.core.text import digits
from yobo.people import selectors as people

from . import doses as dose_source
from . import issuer_keys, shc
from .models import (
    ApplicantKind,
    Application,
    ApplicationState,
    Certificate,
    Channel,
    Language,
    SearchMethod,
)

APPLICATION_RESOURCE = "certificates.application"
CERTIFICATE_RESOURCE = "certificates.certificate"

# 本人確認書類 (番号法第16条・窓口での本人確認)
IDENTITY_DOCUMENTS: dict[str, str] = {
    "mynumber_card": "個人番号カード",
    "driver_license": "運転免許証",
    "passport": "旅券",
    "residence_card": "在留カード",
    "insurance_card": "資格確認書・健康保険証",
    "other": "その他の書類",
}
_ROMAN = re.compile(r"^[A-Z][A-Z '\-]{0,98}[A-Z]$")
_PASSPORT = re.compile(r"^[A-Z0-9]{6,12}$")


class ApplicationNotFound(InputRejected):
    def __init__(self, application_id: int) -> None:
        super().__init__(f"申請 {application_id} は見つかりません。 / No application {application_id}.")


class CertificateNotFound(InputRejected):
    def __init__(self, certificate_id: str) -> None:
        super().__init__(f"証明書ID {certificate_id[:40]} は見つかりません。 / No certificate {certificate_id[:40]}.")


def issuer_url() -> str:
    """``iss`` of the cards: the public base URL serving ``/.well-known/jwks.json`` (no trailing slash)."""
    import os

    url = getattr(settings, "YOBO_SHC_ISSUER", "") or os.environ.get("YOBO_SHC_ISSUER", "")
    return (url or "https://localhost:8000").rstrip("/")


def _m() -> str:
    return str(settings.MUNICIPALITY_CODE)


@dataclass(frozen=True, slots=True)
class ApplicationInput:
    """交付申請の内容."""

    applicant_kind: str  # "self" | "agent"
    applicant_name: str
    documents_seen: tuple[str, ...] = ()
    agent_relationship: str = ""
    letter_of_authority_seen: bool = False
    language: str = Language.JA
    romanised_name: str = ""
    nationality: str = ""
    passport_no: str = ""
    note: str = ""
    channel: str = Channel.WINDOW


def normalise_roman(name: str) -> str:
    """Passport spelling: NFKC, upper case, single spaces (``yamada  taro`` -> ``YAMADA TARO``)."""
    import unicodedata

    return " ".join(unicodedata.normalize("NFKC", name or "").upper().split())


def _validate(inp: ApplicationInput) -> ApplicationInput:
    problems: list[str] = []
    kind = inp.applicant_kind
    if kind not in ApplicantKind.values:
        problems.append("申請者の区分（本人・代理人）を選んでください。 / Choose self or agent.")
    name = " ".join((inp.applicant_name or "").split())
    if not name:
        problems.append("申請者の氏名を入力してください。 / Enter the applicant's name.")
    docs = tuple(dict.fromkeys(d for d in inp.documents_seen if d))
    unknown = [d for d in docs if d not in IDENTITY_DOCUMENTS]
    if unknown:
        problems.append("確認書類の種類が正しくありません。 / Unknown identity document.")
    if inp.channel == Channel.WINDOW and not docs:
        problems.append("本人確認書類を1つ以上確認してください。 / Check at least one identity document.")
    if kind == ApplicantKind.AGENT and not inp.letter_of_authority_seen:
        problems.append("代理人による申請には委任状の確認が必要です。 / An agent needs a letter of authority.")
    if inp.language not in Language.values:
        problems.append("言語は ja または en です。 / Language must be ja or en.")
    roman = normalise_roman(inp.romanised_name)
    if roman and not _ROMAN.match(roman):
        problems.append("ローマ字氏名は英字で入力してください（旅券の表記）。 / Romanised name: Latin letters only.")
    if inp.language == Language.EN and not roman:
        problems.append("海外用（英語）にはローマ字氏名が必要です。 / The English certificate needs a romanised name.")
    passport = digits(inp.passport_no).upper()
    if passport and not _PASSPORT.match(passport):
        problems.append("旅券番号は英数字6〜12文字です。 / Passport number: 6 to 12 letters and digits.")
    nat = (inp.nationality or "").strip().upper()
    if nat and not re.fullmatch(r"[A-Z]{3}", nat):
        problems.append("国籍は ISO 3166 の3文字コード（例 JPN）です。 / Nationality: ISO 3166 alpha-3 (e.g. JPN).")
    if problems:
        raise InputRejected("\n".join(problems))
    return ApplicationInput(kind, name[:100], docs, " ".join(inp.agent_relationship.split())[:50],
                            bool(inp.letter_of_authority_seen), inp.language, roman, nat, passport,
                            inp.note.strip()[:200], inp.channel)


def receive_application(ctx: AccessContext, inp: ApplicationInput) -> int:
    """Record an application (交付申請の受付); returns its id. Nothing is recorded when it is refused."""
    v = _validate(inp)
    with door(ctx, Operation.CREATE, resource=APPLICATION_RESOURCE) as rec:
        app = Application.objects.create(
            municipality=_m(), channel=v.channel, applicant_kind=v.applicant_kind, applicant_name=v.applicant_name,
            agent_relationship=v.agent_relationship, documents_seen=list(v.documents_seen),
            letter_of_authority_seen=v.letter_of_authority_seen, language=v.language, romanised_name=v.romanised_name,
            nationality=v.nationality, passport_no=v.passport_no, note=v.note, received_by_id=ctx.staff_id,
            terminal=ctx.terminal,
        )
        rec.detail = f"application {app.pk} {v.applicant_kind} {v.language}"
    return int(app.pk)


def _open_application(application_id: int) -> Application:
    app = Application.objects.select_for_update().filter(pk=application_id, municipality=_m()).first()
    if app is None:
        raise ApplicationNotFound(application_id)
    if app.state in (ApplicationState.ISSUED, ApplicationState.WITHDRAWN):
        raise InputRejected(f"申請 {application_id} は{app.get_state_display()}です。 / The application is closed.")
    return app


def identify(ctx: AccessContext, application_id: int, atena_no: str, method: str) -> None:
    """Attach the person staff picked among the search results (対象者の確定)."""
    if method not in SearchMethod.values:
        raise InputRejected("検索方法が正しくありません。 / Unknown search method.")
    a = str(atena_no).strip()
    with door(ctx, Operation.UPDATE, resource=APPLICATION_RESOURCE, target=a,
              detail=f"application {application_id} identified by {method}"):
        people.get_person(ctx, a)  # exists (else PersonNotFound); the read is logged under C01, one commit
        app = _open_application(application_id)
        app.atena_no, app.search_method, app.state = a, method, ApplicationState.IDENTIFIED
        app.identified_by_id = ctx.staff_id
        app.save(update_fields=["atena_no", "search_method", "state", "identified_by"])


def withdraw(ctx: AccessContext, application_id: int) -> None:
    with door(ctx, Operation.UPDATE, resource=APPLICATION_RESOURCE, detail=f"application {application_id} withdrawn"
              ) as rec:
        app = _open_application(application_id)
        rec.targets = [app.atena_no]
        app.state = ApplicationState.WITHDRAWN
        app.save(update_fields=["state"])


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    certificate_id: str
    atena_no: str
    issue_date: date
    language: str
    cards: tuple[str, ...]  # compact JWSs
    dose_count: int
    kid: str
    rid: str
    exp: datetime | None = None
    numerics: tuple[str, ...] = field(default=())


def new_certificate_id(today: date) -> str:
    """証明書ID: city code, issue date and 8 random hex digits (no global sequence; unguessable)."""
    return f"{_m()}-{today:%Y%m%d}-{secrets.token_hex(4).upper()}"


def _names(person: people.PersonView, roman: str, language: str) -> tuple[shc.CardName, ...]:
    out: list[shc.CardName] = []
    if roman:
        fam, _, giv = roman.partition(" ")
        out.append(shc.CardName(fam, giv))
    if language == Language.JA or not roman:
        fam, _, giv = " ".join(person.name_kanji.replace("\u3000", " ").split()).partition(" ")
        out.append(shc.CardName(fam, giv))
    return tuple(out)


def issue(ctx: AccessContext, application_id: int, *, now: datetime | None = None) -> IssuedCertificate:
    """Issue the certificate of an identified application (交付): sign the card(s) over the person's
    dose history, record the certificate ID and issue date on the person, close the application."""
    now = now or timezone.now()
    ring = issuer_keys.require()
    key = ring.signing_key()
    with door(ctx, Operation.ISSUE, resource=CERTIFICATE_RESOURCE,
              detail=f"application {application_id}") as rec:
        app = _open_application(application_id)
        if app.state != ApplicationState.IDENTIFIED or not app.atena_no:
            raise InputRejected("対象者が確定していません。検索して対象者を選んでください。"
                                " / Find and pick the person first.")
        rec.targets = [app.atena_no]
        person = people.get_person(ctx, app.atena_no)
        history = dose_source.certifiable_doses(ctx, app.atena_no)
        cert_id = new_certificate_id(timezone.localdate(now))
        rid = shc.rid_for(ring.rid_secret, ring.active, cert_id)
        days = issuer_keys.valid_days()
        exp = now + timedelta(days=days) if days else None
        subject = shc.CardSubject(_names(person, app.romanised_name, app.language), person.birth_date,
                                  tuple(shc.CardDose(d.vaccine, d.date, d.lot) for d in history))
        cards = shc.build_cards(subject, key, iss=issuer_url(), nbf=now.astimezone(UTC), rid=rid, exp=exp)
        Certificate.objects.create(
            municipality=_m(), certificate_id=cert_id, atena_no=app.atena_no, application=app,
            language=app.language, issue_date=timezone.localdate(now), issued_at=now, issued_by_id=ctx.staff_id,
            terminal=ctx.terminal, kid=ring.active, rid=rid, nbf=now, exp=exp, cards=[c.jws for c in cards],
            dose_ids=[d.id for d in history], dose_count=len(history),
        )
        app.state = ApplicationState.ISSUED
        app.save(update_fields=["state"])
        rec.detail = f"certificate {cert_id} doses={len(history)} cards={len(cards)}"
    return IssuedCertificate(cert_id, app.atena_no, timezone.localdate(now), app.language,
                             tuple(c.jws for c in cards), len(history), ring.active, rid, exp,
                             tuple(c.numeric for c in cards))


def issue_for_atena(ctx: AccessContext, atena_no: str, *, language: str = Language.JA, romanised_name: str = "",
                    passport_no: str = "", nationality: str = "", applicant_name: str = "") -> IssuedCertificate:
    """The CLI path (``yobo certificates issue --atena N``): an application recorded as taken by the
    operator (channel ``cli``), the person identified by 宛名番号, and the certificate issued."""
    person = people.get_person(ctx, atena_no)
    app_id = receive_application(ctx, ApplicationInput(
        ApplicantKind.SELF, applicant_name or person.name_kanji, (), language=language,
        romanised_name=romanised_name, passport_no=passport_no, nationality=nationality, channel=Channel.CLI))
    identify(ctx, app_id, person.atena_no, SearchMethod.ATENA)
    return issue(ctx, app_id)


def revoke(ctx: AccessContext, certificate_id: str, reason: str) -> None:
    """Revoke a certificate issued in error (交付の取消): its revocation id goes into the issuer's
    revocation list (``/.well-known/crl/<kid>.json``), which verifiers honour."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise InputRejected("取消の理由を入力してください。 / Enter the reason for the revocation.")
    with door(ctx, Operation.UPDATE, resource=CERTIFICATE_RESOURCE, detail=f"revoke {certificate_id[:40]}") as rec:
        cert = Certificate.objects.select_for_update().filter(municipality=_m(), certificate_id=certificate_id).first()
        if cert is None:
            raise CertificateNotFound(certificate_id)
        rec.targets = [cert.atena_no]
        if cert.revoked_at is not None:
            raise InputRejected(f"証明書 {certificate_id} はすでに取り消されています。 / Already revoked.")
        cert.revoked_at, cert.revoked_by_id, cert.revoke_reason = timezone.now(), ctx.staff_id, reason[:200]
        cert.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
