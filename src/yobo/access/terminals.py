"""Identifying the terminal of a request (端末の識別).

Two ways, in this order:

1. The SHA-256 fingerprint of the client certificate, in the header named by
   ``YOBO_TERMINAL_CERT_HEADER``, set by a reverse proxy that terminated TLS with client
   certificates. Only when that setting is non-empty: without such a proxy anyone could send it.
   A presented but unknown fingerprint is refused even if a device cookie is present.
2. A device token in the cookie ``YOBO_TERMINAL_COOKIE``, set by the one-time enrolment link an
   administrator issued. Only its SHA-256 hash is stored.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from .models import Terminal
from .services import normalise_fingerprint

_SEEN_EVERY = timedelta(minutes=5)


def cert_header_meta_key() -> str:
    header: str = settings.YOBO_TERMINAL_CERT_HEADER
    return "HTTP_" + header.upper().replace("-", "_") if header else ""


def identify(request: HttpRequest) -> tuple[Terminal | None, str]:
    """The registered, active terminal of the request, or None with a short reason code."""
    key = cert_header_meta_key()
    if key and request.META.get(key):
        fp = normalise_fingerprint(str(request.META[key]))
        term = Terminal.objects.filter(cert_fingerprint=fp).first() if len(fp) == 64 else None
        return _active(term, "unregistered_certificate")
    token = request.COOKIES.get(settings.YOBO_TERMINAL_COOKIE, "")
    if not token:
        return None, "no_terminal_token"
    term = Terminal.objects.filter(token_hash=Terminal.hash_token(token)).first()
    return _active(term, "unregistered_token")


def _active(term: Terminal | None, missing: str) -> tuple[Terminal | None, str]:
    if term is None:
        return None, missing
    if not term.active:
        return None, "terminal_disabled"
    now = timezone.now()
    if term.last_seen_at is None or now - term.last_seen_at > _SEEN_EVERY:
        Terminal.objects.filter(pk=term.pk).update(last_seen_at=now)
    return term, ""
