"""What certificates plugs into governance (decision 092): the record type of applications and the
certificates issued on them, and the person's disclosure part.

``certificates.application`` 交付申請と接種証明書 (失効を含む) — an application falls due 5 years after
it was received, once every certificate issued on it is also older than the cutoff. Its certificates
are deleted with it, except **revoked** ones: the public revocation list (``/.well-known/crl``) must
keep naming their ``rid`` and its ``crlVersion`` only grows, so a revoked certificate is anonymised
(宛名番号, cards, dose ids and the reason are dropped; key id, rid, dates and the revocation time stay)
and its application is anonymised with it (applicant, agent, documents, passport, note, 宛名番号).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation
from yobo.governance import registry

from . import selectors
from .models import Application, Certificate
from .services import APPLICATION_RESOURCE

BASIS = "交付の記録 (5年; 失効した証明書は失効リストのため匿名化して残す)"


def _m() -> str:
    from django.conf import settings

    return str(settings.MUNICIPALITY_CODE)


def _start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=timezone.get_current_timezone())


def _anonymised() -> QuerySet[Application]:
    return Application.objects.filter(applicant_name="", atena_no="")


def _due(cutoff: date) -> QuerySet[Application]:
    younger = Certificate.objects.filter(application_id=OuterRef("pk"), issue_date__gte=cutoff)
    return (Application.objects.filter(municipality=_m(), received_at__lt=_start(cutoff))
            .exclude(pk__in=_anonymised().values("pk")).exclude(Exists(younger)))


def _purge(ctx: AccessContext, cutoff: date) -> int:
    with door(ctx, Operation.DELETE, resource=APPLICATION_RESOURCE, detail=f"retention before={cutoff}") as rec:
        ids = _due(cutoff).values("id")
        certs = Certificate.objects.filter(application_id__in=ids)
        revoked = certs.filter(revoked_at__isnull=False).update(atena_no="", cards=[], dose_ids=[],
                                                                revoke_reason="")
        deleted = int(certs.filter(revoked_at__isnull=True)._raw_delete(Certificate.objects.db))
        kept = Exists(Certificate.objects.filter(application_id=OuterRef("pk")))
        n = int(_due(cutoff).filter(kept).update(
            applicant_name="", agent_relationship="", documents_seen=[], romanised_name="", nationality="",
            passport_no="", note="", atena_no=""))
        # One DELETE with the filter; the certificates that pointed at these went just above.
        n += int(_due(cutoff)._raw_delete(Application.objects.db))
        rec.detail = f"retention before={cutoff} applications={n} certificates deleted={deleted} anonymised={revoked}"
    return n


def _part(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    """The person's certificates (without the signed cards themselves) and the applications behind them."""
    a = str(atena_no).strip()
    certs = selectors.certificates_for(ctx, a)
    with door(ctx, Operation.READ, resource=APPLICATION_RESOURCE, target=a, detail="disclosure applications"):
        apps = {p.pk: p for p in Application.objects.filter(municipality=_m(), atena_no=a)}
    out: list[dict[str, Any]] = []
    for c in reversed(certs):
        p = apps.pop(c.application_id, None)
        out.append({"record": "certificate", "certificate_id": c.certificate_id, "issue_date": c.issue_date,
                    "language": c.language, "doses": c.dose_count, "issued_by": c.issued_by,
                    "revoked_at": c.revoked_at, "revoke_reason": c.revoke_reason, "application": c.application_id,
                    "applicant": p.applicant_name if p else "", "received_at": p.received_at if p else None})
    for p in sorted(apps.values(), key=lambda x: x.pk):
        out.append({"record": "application", "application": p.pk, "applicant": p.applicant_name,
                    "applicant_kind": p.applicant_kind, "state": p.get_state_display(), "received_at": p.received_at})
    return out


def register() -> None:
    registry.register_record_type(registry.RecordType(
        "certificates.application", "接種証明書の交付申請と証明書 (失効を含む)", 5, BASIS, "delete",
        lambda ctx, cutoff: int(_due(cutoff).count()), _purge, min_years=1,
        count_held=lambda ctx: int(Application.objects.filter(municipality=_m()).exclude(
            pk__in=_anonymised().values("pk")).count())))
    registry.register_disclosure(registry.DisclosurePart(
        "certificates", "接種証明書の交付", _part, order=40))

