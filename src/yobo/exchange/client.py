"""The city's connection to the hub: HTTP on loopback, or a WSGI app called in-process (tests).

No Django. Raises ``HubUnavailable`` when the hub cannot be reached (the caller queues and retries)
and ``HubRefused`` when it answers with a refusal (reason code and message in Japanese/English).
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

Transport = Callable[[str, str, dict[str, Any] | None], tuple[int, dict[str, Any]]]


class HubUnavailable(Exception):
    """The hub did not answer (down, timeout, refused connection)."""


class HubRefused(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(message)


def http_transport(base_url: str, timeout: float = 10.0) -> Transport:
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError("YOBO_HUB_URL must be an http(s) URL")

    def call(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(base + path, data=data, method=method,  # noqa: S310 - http(s) only, checked above
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except ValueError:
                return exc.code, {"error": "http", "message": str(exc.code)}
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise HubUnavailable(type(exc).__name__) from None

    return call


def wsgi_transport(app: Callable[..., Any]) -> Transport:
    """Call a WSGI app directly (the hub in-process, for tests)."""

    def call(method: str, path: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else b""
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(data)),
            "CONTENT_TYPE": "application/json", "wsgi.input": io.BytesIO(data), "SERVER_NAME": "hub",
            "SERVER_PORT": "0", "wsgi.url_scheme": "http",
        }
        status: list[str] = []

        def start_response(s: str, _headers: list[tuple[str, str]]) -> None:
            status.append(s)

        out = b"".join(app(environ, start_response))
        return int(status[0].split()[0]), json.loads(out or b"{}")

    return call


class HubClient:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, data = self.transport("POST", path, body)
        if status >= 500:
            raise HubUnavailable(f"hub status {status}")
        if status >= 400:
            raise HubRefused(status, str(data.get("error", "")), str(data.get("message", "")))
        return data

    def directory(self) -> str:
        status, data = self.transport("GET", "/v1/directory", None)
        if status != 200:
            raise HubUnavailable(f"hub status {status}")
        return str(data["directory"])

    def codes(self, request: str) -> str:
        return str(self._post("/v1/codes", {"request": request})["reply"])

    def permit(self, request: str) -> str:
        return str(self._post("/v1/permits", {"request": request})["permit"])

    def send(self, envelope: str) -> None:
        self._post("/v1/messages", {"envelope": envelope})

    def inbox(self, request: str) -> list[dict[str, Any]]:
        return list(self._post("/v1/inbox", {"request": request})["deliveries"])

    def ack(self, request: str) -> int:
        return int(self._post("/v1/ack", {"request": request})["acked"])

    def records(self, request: str) -> list[dict[str, Any]]:
        return list(self._post("/v1/records", {"request": request})["records"])
