"""Public documents (no login, no terminal): the issuer key set and revocation lists of the SMART
Health Cards (``/.well-known/jwks.json``, ``/.well-known/crl/<kid>.json``, CORS open as the SHC spec
asks), and the OpenAPI document of the API (``/api/v1/openapi.json``). None holds personal data:
public keys, meaningless revocation ids, and the interface description.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from yobo.certificates import issuer_keys
from yobo.certificates import selectors as certificates


def _public(resp: JsonResponse, max_age: int = 300) -> JsonResponse:
    resp["Access-Control-Allow-Origin"] = "*"
    resp["Cache-Control"] = f"public, max-age={max_age}"
    return resp


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    return _public(JsonResponse(issuer_keys.public_jwks(certificates.crl_versions())))


@require_GET
def crl(request: HttpRequest, kid: str) -> JsonResponse:
    known = {k["kid"] for k in issuer_keys.public_jwks()["keys"]} | set(certificates.crl_versions())
    if kid not in known:
        return _public(JsonResponse({"error": "unknown_kid"}, status=404), 60)
    return _public(JsonResponse(certificates.revocation_list(kid)), 60)


@require_GET
def openapi(request: HttpRequest) -> JsonResponse:
    from .openapi import document

    return _public(JsonResponse(document(), json_dumps_params={"ensure_ascii": False}), 3600)
