"""Staff accounts (職員), departments (所属), duty roles (職責), terminals (端末)."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class Department(models.Model):
    """所属 (課・係)."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class DutyRole(models.Model):
    """職責ロール: a named set of duties (``yobo.core.purposes.Duty`` codes) given to staff."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    duties = models.JSONField(default=list)

    def __str__(self) -> str:
        return self.name


class Staff(AbstractUser):
    """職員アカウント: one person, one account (共用IDは作らない).

    ``mynumber_right`` is the separate per-staff right to see My Numbers (個人番号参照権限).
    Contractor accounts (委託先) carry the company and always an expiry date.
    """

    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT)
    roles = models.ManyToManyField(DutyRole, blank=True)
    mynumber_right = models.BooleanField(default=False)
    is_contractor = models.BooleanField(default=False)
    contractor_company = models.CharField(max_length=200, blank=True)
    valid_from = models.DateField(default=timezone.localdate)
    expires_on = models.DateField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    failed_logins = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "職員"
        verbose_name_plural = "職員"

    def duties(self) -> frozenset[str]:
        out: set[str] = set()
        for r in self.roles.all():
            out.update(r.duties)
        return frozenset(out)

    def inactive_reason(self, today: object | None = None) -> str | None:
        """Why the account may not be used now (None when it may)."""
        d = today or timezone.localdate()
        if not self.is_active:
            return "inactive"
        if self.revoked_at is not None:
            return "revoked"
        if self.valid_from and d < self.valid_from:  # type: ignore[operator]
            return "not_yet_valid"
        if self.expires_on and d > self.expires_on:  # type: ignore[operator]
            return "expired"
        if self.locked_until and self.locked_until > timezone.now():
            return "locked"
        return None


class Terminal(models.Model):
    """登録端末: a workstation, a CLI host or a system client.

    Identified by the SHA-256 fingerprint of its client certificate (set by the reverse proxy) or
    by a device token stored as a hash. An unregistered or disabled terminal is refused.
    """

    KIND_CHOICES = [("web", "窓口端末"), ("cli", "バッチ・運用端末"), ("system", "外部システム")]

    name = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=KIND_CHOICES, default="web")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT)
    location = models.CharField(max_length=200, blank=True)
    cert_fingerprint = models.CharField(max_length=95, blank=True, db_index=True)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    active = models.BooleanField(default=True)
    registered_at = models.DateTimeField(default=timezone.now)
    registered_by = models.CharField(max_length=150, blank=True)
    # One-time enrolment link (登録用URL): only its hash is kept, and it expires quickly.
    enroll_code_hash = models.CharField(max_length=64, blank=True, db_index=True)
    enroll_expires_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "端末"
        verbose_name_plural = "端末"

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class ApiClient(models.Model):
    """外部システム (API利用システム): one system of the city calling the REST/FHIR API.

    Bound to its own registered terminal (kind ``system``) and its own service account (a ``Staff``
    with no usable password, whose duties bound what it may do), so every call is checked and logged
    like a staff access. ``purposes`` narrows further: the purpose codes this system may state. The
    credential is shown once at registration; only its SHA-256 hash is kept.
    """

    name = models.CharField(max_length=64, unique=True)
    terminal = models.OneToOneField(Terminal, on_delete=models.PROTECT, related_name="api_client")
    account = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="api_clients")
    purposes = models.JSONField(default=list)
    token_hash = models.CharField(max_length=64, unique=True)
    token_hint = models.CharField(max_length=12, blank=True)  # the first characters, to recognise a leaked one
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "外部システム"
        verbose_name_plural = "外部システム"

    def __str__(self) -> str:
        return self.name
