"""Models of governance; reached only through its services and selectors.

Retention rules and deletion runs (保存期間・削除), residents' requests (開示・訂正・利用停止請求) with
their corrections, the PIA change log (変更箇所) and the yearly self-inspection (自己点検).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RetentionRule(models.Model):
    """保存期間: the years a record type is kept, as the city set it (else the type's default)."""

    municipality = models.CharField(max_length=6)
    record_type = models.CharField(max_length=64)
    years = models.PositiveIntegerField()
    basis = models.CharField(max_length=200, blank=True)  # 根拠 (法令・規程)
    updated_by = models.CharField(max_length=150)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "governance_retention_rule"
        constraints = [models.UniqueConstraint(fields=["municipality", "record_type"], name="gov_rule_uniq")]

    def __str__(self) -> str:
        return f"{self.record_type}: {self.years}年"


class RunState(models.TextChoices):
    PLANNED = "planned", "承認待ち"
    APPROVED = "approved", "承認済み"
    DONE = "done", "完了"
    REJECTED = "rejected", "却下"


class DeletionRun(models.Model):
    """削除処理: a plan of what falls due on ``as_of``, approved by a second person, then executed item
    by item (each item atomic, so an interrupted run resumes at the first item not done)."""

    municipality = models.CharField(max_length=6)
    as_of = models.DateField()
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.PLANNED)
    planned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    planned_at = models.DateTimeField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    executed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "governance_deletion_run"

    def __str__(self) -> str:
        return f"削除処理 {self.pk} ({self.state})"


class DeletionItem(models.Model):
    """削除記録: one record type of a run — class, cutoff, why, how many planned and done."""

    run = models.ForeignKey(DeletionRun, on_delete=models.PROTECT, related_name="items")
    record_type = models.CharField(max_length=64)
    label = models.CharField(max_length=100)
    action = models.CharField(max_length=12)  # delete / anonymise / archive / review
    years = models.PositiveIntegerField()
    cutoff = models.DateField()  # records dated before this are due
    basis = models.CharField(max_length=200, blank=True)
    planned_count = models.IntegerField()
    done_count = models.IntegerField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "governance_deletion_item"

    def __str__(self) -> str:
        return f"{self.record_type} {self.planned_count}"


class RequestKind(models.TextChoices):
    DISCLOSURE = "disclosure", "開示請求"
    CORRECTION = "correction", "訂正請求"
    SUSPENSION = "suspension", "利用停止請求"


class RequestState(models.TextChoices):
    RECEIVED = "received", "受付"
    DECIDED = "decided", "決定済み"
    CLOSED = "closed", "完了"


class ResidentRequest(models.Model):
    """開示・訂正・利用停止請求: who asked about whom, identity check, the decision and its reason."""

    municipality = models.CharField(max_length=6)
    kind = models.CharField(max_length=12, choices=RequestKind.choices)
    atena_no = models.CharField(max_length=15)
    requester = models.CharField(max_length=10, default="本人")  # 本人 / 法定代理人 / 任意代理人
    identity_check = models.CharField(max_length=200)  # 本人確認書類 (種類のみ; 番号は記録しない)
    detail = models.CharField(max_length=500, blank=True)  # 請求の内容
    received_on = models.DateField()
    due_on = models.DateField()  # 決定期限 (30日)
    state = models.CharField(max_length=10, choices=RequestState.choices, default=RequestState.RECEIVED)
    decision = models.CharField(max_length=16, blank=True)  # granted / partial / refused
    decision_reason = models.CharField(max_length=500, blank=True)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "governance_resident_request"
        indexes = [models.Index(fields=["municipality", "atena_no"], name="gov_request_atena"),
                   models.Index(fields=["municipality", "state", "due_on"], name="gov_request_state")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk}"


class Correction(models.Model):
    """訂正: one item asked to be corrected, with the value before and after and the decision."""

    request = models.ForeignKey(ResidentRequest, on_delete=models.CASCADE, related_name="corrections")
    item = models.CharField(max_length=100)
    before = models.CharField(max_length=500)
    after = models.CharField(max_length=500)
    decision = models.CharField(max_length=10)  # accepted / refused
    reason = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        db_table = "governance_correction"

    def __str__(self) -> str:
        return f"訂正 {self.item}"


class PiaChange(models.Model):
    """PIAの変更箇所: date, item, before, after, important or not, submitted before or after."""

    municipality = models.CharField(max_length=6)
    changed_on = models.DateField()
    item = models.CharField(max_length=300)
    before = models.TextField(blank=True)
    after = models.TextField(blank=True)
    important = models.BooleanField(null=True)  # 重要な変更 (None: not yet assessed)
    submission = models.CharField(max_length=6, blank=True)  # before / after (事前 / 事後)
    explanation = models.CharField(max_length=300, blank=True)  # 提出時期に係る説明
    source = models.CharField(max_length=8, default="manual")  # auto (recorded by a setting change) / manual
    recorded_by = models.CharField(max_length=150)
    recorded_at = models.DateTimeField()

    class Meta:
        db_table = "governance_pia_change"

    def __str__(self) -> str:
        return f"{self.changed_on} {self.item}"


class SelfInspection(models.Model):
    """自己点検: the yearly checklist, pre-filled from the facts and confirmed by a person."""

    municipality = models.CharField(max_length=6)
    fiscal_year = models.PositiveIntegerField()
    period_from = models.DateField()
    period_to = models.DateField()
    results = models.JSONField(default=list)  # [{code, question, facts, suggested, answer, note}]
    summary = models.CharField(max_length=500, blank=True)
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        db_table = "governance_self_inspection"

    def __str__(self) -> str:
        return f"自己点検 {self.fiscal_year}"


class PiaSnapshot(models.Model):
    """The PIA-relevant settings as last seen (保管期間, 出力の種類, 職責と処理事由, 委託先アカウントの種類,
    人数の区分); a difference from the next snapshot becomes a change-log entry."""

    municipality = models.CharField(max_length=6)
    taken_at = models.DateTimeField()
    facts = models.JSONField(default=dict)

    class Meta:
        db_table = "governance_pia_snapshot"

    def __str__(self) -> str:
        return f"snapshot {self.taken_at:%Y-%m-%d}"
