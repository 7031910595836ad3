"""Access-log tables. Written only by ``yobo.audit.chain``; never updated or deleted in place.

Database triggers (migration 0003, ``yobo.audit.guards``) make the log, its checkpoints and its
archive records append-only; the only rows that may leave the log are those covered by a signed
archive record (see ``yobo.audit.archive``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import models

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_micros(us: int) -> datetime:
    """The aware datetime of a microsecond timestamp (UTC; templates show Asia/Tokyo)."""
    return _EPOCH + timedelta(microseconds=us)


class AccessLogEntry(models.Model):
    """One access-log entry (アクセス記録): who, when, where, why, what, on whom, with what result.

    ``hash`` chains the entry to its predecessor: sha256(previous hash || canonical(entry)). The
    target is the 宛名番号, never a My Number. The time is kept as integer microseconds since the
    epoch (``at_us``): it is what the hash covers, identical on every database, and cheap to verify.
    """

    seq = models.BigIntegerField(primary_key=True)
    at_us = models.BigIntegerField()
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
            models.Index(fields=["at_us"], name="audit_log_at"),
            models.Index(fields=["staff", "at_us"], name="audit_log_staff_at"),
            models.Index(fields=["target"], name="audit_log_target"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M:%S} {self.staff} {self.operation} {self.result}"

    @property
    def at(self) -> datetime:
        return from_micros(self.at_us)


class ChainHead(models.Model):
    """The last sequence number and hash of the chain; one row, locked while appending."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        db_table = "audit_chain_head"

    def __str__(self) -> str:
        return f"head #{self.seq}"


class Checkpoint(models.Model):
    """A signed checkpoint (署名付きチェックポイント): the chain's (seq, hash) at a moment, signed with
    the Ed25519 key kept outside the database. Verify checks the signature and that the chain passes
    through (seq, hash), so rewriting history before a checkpoint needs the key."""

    seq = models.BigIntegerField(primary_key=True)
    hash = models.CharField(max_length=64)
    at_us = models.BigIntegerField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)

    class Meta:
        db_table = "audit_checkpoint"

    def __str__(self) -> str:
        return f"checkpoint #{self.seq}"


class ArchiveRecord(models.Model):
    """A closed period moved out of the log into a signed archive file (保存期間経過分の退避).

    Rows with ``seq <= last_seq`` of a recorded archive are the only ones the delete trigger lets
    go; verify starts the chain from ``last_hash`` and checks the manifest signature.
    """

    id = models.BigAutoField(primary_key=True)
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField(unique=True)
    last_hash = models.CharField(max_length=64)
    before = models.DateField()
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    entries = models.BigIntegerField()
    at_us = models.BigIntegerField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)

    class Meta:
        db_table = "audit_archive"

    def __str__(self) -> str:
        return f"archive #{self.first_seq}-{self.last_seq}"


class VerifyRun(models.Model):
    """The outcome of one verification run (shown by the viewer). The run itself is also logged."""

    id = models.BigAutoField(primary_key=True)
    at_us = models.BigIntegerField()
    staff = models.CharField(max_length=150, blank=True)
    ok = models.BooleanField()
    entries = models.BigIntegerField()
    broken_seq = models.BigIntegerField(null=True)
    kind = models.CharField(max_length=24, blank=True)
    message = models.CharField(max_length=400, blank=True)
    seconds = models.FloatField()

    class Meta:
        db_table = "audit_verify_run"

    def __str__(self) -> str:
        return f"verify {'ok' if self.ok else 'broken'}"

    @property
    def at(self) -> datetime:
        return from_micros(self.at_us)
