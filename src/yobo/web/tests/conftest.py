"""Fixtures for the web shell: a registered terminal, a browser-like client on it, a full login."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

TOKEN = "test-device-token-0123456789abcdef"


@pytest.fixture
def terminal(db: Any) -> Any:
    from yobo.access.models import Terminal

    return Terminal.objects.create(name="madoguchi-01", kind="web", token_hash=Terminal.hash_token(TOKEN))


@pytest.fixture
def tclient(terminal: Any) -> Client:
    """A client whose browser carries the device cookie of a registered terminal."""
    c = Client()
    c.cookies[settings.YOBO_TERMINAL_COOKIE] = TOKEN
    return c


def totp_now(device: Any) -> str:
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.fixture
def totp_device() -> Callable[[Any], Any]:
    def make(staff: Any) -> Any:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        return TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)

    return make


@pytest.fixture
def logged_in(tclient: Client, totp_device: Callable[[Any], Any]) -> Callable[[Any], Client]:
    """Log ``staff`` in with password and TOTP on the registered terminal; returns the client."""

    def do(staff: Any, password: str = "correct horse battery staple") -> Client:
        dev = totp_device(staff)
        r = tclient.post("/login/", {"username": staff.username, "password": password})
        assert r.status_code == 302 and r["Location"] == "/login/2fa/", r.content[:500]
        r = tclient.post("/login/2fa/", {"code": totp_now(dev)})
        assert r.status_code == 302 and r["Location"] == "/", r.content[:500]
        return tclient

    return do


def log_entries(**filters: Any) -> list[Any]:
    # Through the app registry: the web package must not import the audit models (import contract).
    from django.apps import apps

    AccessLogEntry = apps.get_model("audit", "AccessLogEntry")
    return list(AccessLogEntry.objects.filter(**filters).order_by("seq"))
