"""Models of exports; reached only through its services and selectors.

An export of personal data (外部媒体への出力) is a request (申請) with purpose, items, reason,
destination and medium; a second staff member with the 決裁者 duty approves it; it is then written
once, encrypted, from a permitted terminal (外部出力許可端末), and recorded in the media log
(媒体管理簿) until the recipient reports the deletion (消去報告). No row holds a My Number or any
personal data: only counts, item names, hashes and who/when.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Medium(models.TextChoices):
    """媒体の種類."""

    USB = "usb", "USBメモリ (暗号化)"
    DISC = "disc", "光ディスク (CD/DVD)"
    SD = "sd", "SDカード"
    LGWAN = "lgwan", "LGWAN経由のファイル送付"
    PORTAL = "portal", "国・委託先のシステムへのアップロード"
    PAPER = "paper", "紙 (印刷物)"


class RequestState(models.TextChoices):
    PENDING = "pending", "承認待ち"
    APPROVED = "approved", "承認済み"
    REJECTED = "rejected", "却下"
    WITHDRAWN = "withdrawn", "取下げ"
    PRODUCED = "produced", "出力済み"


class ExportTerminal(models.Model):
    """外部出力許可端末: a registered terminal (by name) from which approved exports may be written.

    Kept here rather than as a flag on ``access.Terminal`` so the export rule lives in one app; a
    terminal that is later disabled in ``access`` cannot build a context, so it cannot export either.
    """

    municipality = models.CharField(max_length=6)
    terminal = models.CharField(max_length=64)
    note = models.CharField(max_length=200, blank=True)  # e.g. 設置場所, 暗号化USB の管理番号
    added_by = models.CharField(max_length=150)
    added_at = models.DateTimeField()

    class Meta:
        db_table = "exports_terminal"
        constraints = [models.UniqueConstraint(fields=["municipality", "terminal"], name="exports_terminal_uniq")]

    def __str__(self) -> str:
        return self.terminal


class ExportRequest(models.Model):
    """外部出力申請: what may be written out, why, to whom, on which medium, approved by whom."""

    municipality = models.CharField(max_length=6)
    kind = models.CharField(max_length=64)  # e.g. notices.mailing, immunizations.vrs, governance.disclosure
    purpose = models.CharField(max_length=8)  # the caller's 処理事由 (N03, V03, G01, ...)
    items = models.JSONField(default=list)  # column names (出力項目), in order
    reason = models.CharField(max_length=500)  # 出力理由
    destination = models.CharField(max_length=200)  # 提供先 (委託先名・機関名)
    medium = models.CharField(max_length=8, choices=Medium.choices)
    encoding = models.CharField(max_length=8, default="utf-8")  # utf-8 or cp932
    delete_within_days = models.PositiveIntegerField(default=30)  # 提供先での消去期限 (出力日から)
    state = models.CharField(max_length=10, choices=RequestState.choices, default=RequestState.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    terminal = models.CharField(max_length=64)  # where it was requested
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=200, blank=True)
    approval_expires_at = models.DateTimeField(null=True, blank=True)  # 承認の有効期限

    class Meta:
        db_table = "exports_request"
        indexes = [models.Index(fields=["municipality", "state", "requested_at"], name="exports_request_state")]

    def __str__(self) -> str:
        return f"外部出力申請 {self.pk} ({self.state})"


class MediaCounter(models.Model):
    """Last serial of the media log per municipality and year (媒体管理番号の採番)."""

    municipality = models.CharField(max_length=6)
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "exports_media_counter"
        constraints = [models.UniqueConstraint(fields=["municipality", "year"], name="exports_counter_uniq")]

    def __str__(self) -> str:
        return f"{self.municipality} {self.year}: {self.last}"


class MediaLogEntry(models.Model):
    """媒体管理簿: one written medium/file — serial, medium, who, when, where, hash, rows, items, and the
    recipient's deletion report (消去確認)."""

    municipality = models.CharField(max_length=6)
    serial = models.CharField(max_length=16)  # 媒体管理番号, e.g. 2026-0007
    request = models.OneToOneField(ExportRequest, on_delete=models.PROTECT, related_name="media")
    medium = models.CharField(max_length=8, choices=Medium.choices)
    destination = models.CharField(max_length=200)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.BigIntegerField()
    row_count = models.IntegerField()
    person_count = models.IntegerField(default=0)
    items = models.JSONField(default=list)
    encryption = models.CharField(max_length=32)  # e.g. zip-aes256
    written_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField()
    terminal = models.CharField(max_length=64)
    log_request_id = models.CharField(max_length=64, blank=True)  # the access-log request id of the run
    delete_due = models.DateField()  # 消去期限
    deletion_confirmed_at = models.DateTimeField(null=True, blank=True)
    deletion_confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                              on_delete=models.PROTECT, related_name="+")
    deletion_reported_by = models.CharField(max_length=200, blank=True)  # 提供先の報告者
    deletion_reported_on = models.DateField(null=True, blank=True)
    deletion_note = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "exports_media_log"
        constraints = [models.UniqueConstraint(fields=["municipality", "serial"], name="exports_media_serial_uniq")]
        indexes = [models.Index(fields=["municipality", "delete_due"], name="exports_media_due")]

    def __str__(self) -> str:
        return f"媒体 {self.serial}"
