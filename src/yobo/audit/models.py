"""Access-log tables. Written only by ``yobo.audit.chain``; never updated or deleted in place."""

from __future__ import annotations

from django.db import models


class AccessLogEntry(models.Model):
    """One access-log entry (アクセス記録): who, when, where, why, what, on whom, with what result.

    ``hash`` chains the entry to its predecessor: sha256(previous hash || canonical(entry)). The
    target is the 宛名番号, never a My Number.
    """

    seq = models.BigIntegerField(primary_key=True)
    at = models.DateTimeField()
    staff = models.CharField(max_length=150)
    department = models.CharField(max_length=32, blank=True)
    terminal = models.CharField(max_length=64, blank=True)
    purpose = models.CharField(max_length=8, blank=True)
    operation = models.CharField(max_length=24)
    resource = models.CharField(max_length=64, blank=True)
    target = models.CharField(max_length=20, blank=True)
    result = models.CharField(max_length=8)
    request_id = models.CharField(max_length=32, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    hash = models.CharField(max_length=64)

    class Meta:
        db_table = "audit_access_log"
        indexes = [
            models.Index(fields=["at"], name="audit_log_at"),
            models.Index(fields=["staff", "at"], name="audit_log_staff_at"),
            models.Index(fields=["target"], name="audit_log_target"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M:%S} {self.staff} {self.operation} {self.result}"


class ChainHead(models.Model):
    """The last sequence number and hash of the chain; one row, locked while appending."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        db_table = "audit_chain_head"

    def __str__(self) -> str:
        return f"head #{self.seq}"
