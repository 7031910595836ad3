"""Models of notices; reached only through its services and selectors.

Every business key carries the municipality code; voucher numbers come from a per-city counter
(``NoticeCounter``), never from a global sequence. Persons are referred to by 宛名番号 only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NoticeCounter(models.Model):
    """Last serial handed out per city and counter name (券番号の採番). Allocated by one
    ``UPDATE … RETURNING`` in the issuing transaction, so concurrent batches get disjoint ranges and
    a rolled-back batch gives its range back unused (nothing was printed from it)."""

    municipality = models.CharField(max_length=6)
    name = models.CharField(max_length=20)
    last = models.BigIntegerField(default=0)

    class Meta:
        db_table = "notices_counter"
        constraints = [models.UniqueConstraint(fields=["municipality", "name"], name="notices_counter_uniq")]

    def __str__(self) -> str:
        return f"{self.municipality}/{self.name}: {self.last}"


class ListKind(models.TextChoices):
    TARGETS = "targets", "対象者抽出"
    REMINDERS = "reminders", "接種勧奨"


class TargetList(models.Model):
    """One saved extraction run (対象者リスト): its parameters, counts and the diff to the previous
    run of the same vaccine (and kind). Re-running with the same parameters on the same data yields
    the same members."""

    municipality = models.CharField(max_length=6)
    kind = models.CharField(max_length=10, choices=ListKind.choices, default=ListKind.TARGETS)
    vaccine = models.CharField(max_length=16)
    as_of = models.DateField()
    params = models.JSONField(default=dict)  # cohort, months (reminders), rules version
    count = models.IntegerField(default=0)
    counts = models.JSONField(default=dict)  # {"age": {...}, "area": {...}, "dose": {...}}; no personal data
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    added = models.IntegerField(default=0)  # new targets since previous
    removed = models.IntegerField(default=0)  # no longer targets since previous
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    terminal = models.CharField(max_length=64)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        db_table = "notices_list"
        indexes = [models.Index(fields=["municipality", "kind", "vaccine", "created_at"], name="notices_list_vacc")]

    def __str__(self) -> str:
        return f"list {self.pk} {self.vaccine} {self.as_of}"


class TargetEntry(models.Model):
    """A person on a list (対象者). Only what the run decided on: no name or address (those are
    read from the register when printing, so a reprint shows the current address)."""

    target_list = models.ForeignKey(TargetList, on_delete=models.CASCADE, related_name="entries")
    atena_no = models.CharField(max_length=15)
    dose = models.SmallIntegerField()  # next dose number
    status = models.CharField(max_length=10)  # due / upcoming (schedule status on as_of)
    eligible_from = models.DateField()
    eligible_until = models.DateField()
    age = models.SmallIntegerField()  # full years on as_of
    area = models.CharField(max_length=40, blank=True)  # 区・町村 from the address
    protected = models.BooleanField(default=False)  # 支援措置: address handled by the city itself

    class Meta:
        db_table = "notices_entry"
        constraints = [models.UniqueConstraint(fields=["target_list", "atena_no"], name="notices_entry_uniq")]

    def __str__(self) -> str:
        return f"{self.atena_no} ({self.target_list_id})"


class BatchKind(models.TextChoices):
    ISSUE = "issue", "発行"
    REPRINT = "reprint", "再印刷"
    REISSUE = "reissue", "再発行"
    MOVE_IN = "move_in", "転入者発行"
    REMINDER = "reminder", "勧奨通知"


class PrintBatch(models.Model):
    """A print batch (印刷バッチ): who, when, which list, how many, the files and their digest.
    A reprint names its reason and the batch it repeats; it allocates no numbers."""

    municipality = models.CharField(max_length=6)
    kind = models.CharField(max_length=10, choices=BatchKind.choices)
    target_list = models.ForeignKey(TargetList, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reprint_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    count = models.IntegerField(default=0)
    pages = models.IntegerField(default=0)
    pdf_path = models.CharField(max_length=500, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    volumes = models.JSONField(default=list)  # [{"path", "sha256"}] when a large batch is split (分冊)
    numbers_path = models.CharField(max_length=500, blank=True)
    layout = models.CharField(max_length=500, blank=True)  # the layout file used
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    terminal = models.CharField(max_length=64)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        db_table = "notices_batch"
        indexes = [models.Index(fields=["municipality", "created_at"], name="notices_batch_created")]

    def __str__(self) -> str:
        return f"batch {self.pk} ({self.kind}, {self.count})"


class VoucherState(models.TextChoices):
    ISSUED = "issued", "発行済み"
    VOID = "void", "無効 (再発行済み)"


class Voucher(models.Model):
    """An issued voucher (接種券). Its number is never reused; a reissue voids it and points to the
    new one. Returned mail (宛先不明) is recorded on it."""

    municipality = models.CharField(max_length=6)
    number = models.CharField(max_length=10)  # 券番号
    ocr = models.CharField(max_length=18)
    atena_no = models.CharField(max_length=15)
    vaccine = models.CharField(max_length=16)
    dose = models.SmallIntegerField()
    batch = models.ForeignKey(PrintBatch, on_delete=models.PROTECT, related_name="vouchers")
    target_list = models.ForeignKey(TargetList, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=8, choices=VoucherState.choices, default=VoucherState.ISSUED)
    issued_at = models.DateTimeField()
    void_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    returned_at = models.DateTimeField(null=True, blank=True)  # 宛先不明で返戻
    returned_note = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "notices_voucher"
        constraints = [models.UniqueConstraint(fields=["municipality", "number"], name="notices_voucher_number_uniq")]
        indexes = [
            models.Index(fields=["municipality", "atena_no", "vaccine"], name="notices_voucher_person"),
            models.Index(fields=["batch"], name="notices_voucher_batch"),
        ]

    def __str__(self) -> str:
        return f"券 {self.number}"


class Channel(models.TextChoices):
    LETTER = "letter", "通知"
    PHONE = "phone", "電話"


class Reminder(models.Model):
    """One recommendation to one person (接種勧奨の記録): when, how, with what result, so the next run
    knows who was reminded when."""

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    vaccine = models.CharField(max_length=16)
    target_list = models.ForeignKey(TargetList, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    at = models.DateTimeField()
    result = models.CharField(max_length=100, blank=True)  # 送付済 / 不在 / 接種予定 / 辞退 ...
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(PrintBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        db_table = "notices_reminder"
        indexes = [models.Index(fields=["municipality", "atena_no", "vaccine", "at"], name="notices_reminder_person")]

    def __str__(self) -> str:
        return f"勧奨 {self.atena_no} {self.vaccine} {self.channel}"
