"""Models of exchange (the city's intermediary side, 中間サーバー相当); reached only through its
services and selectors. Every table is keyed by the municipality code; none holds a My Number.

- ``LinkageCode``: the city's 符号 for a person (issued by the hub from a keyed hash; decision 081).
- ``CopyEntry``: the copy (副本) of the vaccination history the law lets the city provide — date,
  vaccine, dose, nothing else. ``CopyRun`` records each registration run.
- ``Query``: a query this city sent (情報照会) and, until purged, its result.
- ``Provision``: a query this city received (情報提供) and its answer (sent, held for review, …).
- ``Outbox``: sealed messages waiting for the hub (retried with backoff; never lost).
- ``SeenMessage``: message ids already received (replay protection).
- ``InboxEvent``: every message received or refused, with the reason, for staff to see.
"""

from __future__ import annotations

from django.db import models


class LinkageCode(models.Model):
    """符号 (情報提供用個人識別符号): this city's linkage code for one person."""

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    integrated_no = models.CharField(max_length=20)
    code = models.CharField(max_length=64)
    acquired_at = models.DateTimeField()

    class Meta:
        db_table = "exchange_code"
        constraints = [
            models.UniqueConstraint(fields=["municipality", "atena_no"], name="exchange_code_atena_uniq"),
            models.UniqueConstraint(fields=["municipality", "code"], name="exchange_code_code_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.municipality}:{self.atena_no} 符号"


class CopyEntry(models.Model):
    """One dose in the copy (副本): only the items the law allows."""

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    vaccine = models.CharField(max_length=20)
    dose = models.PositiveSmallIntegerField()
    given_on = models.DateField()
    registered_at = models.DateTimeField()

    class Meta:
        db_table = "exchange_copy"
        constraints = [
            models.UniqueConstraint(fields=["municipality", "atena_no", "vaccine", "dose"], name="exchange_copy_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.municipality}:{self.atena_no} {self.vaccine}-{self.dose}"


class CopyRun(models.Model):
    """One copy registration (副本登録) run."""

    municipality = models.CharField(max_length=6)
    mode = models.CharField(max_length=10)  # full | persons
    operator = models.CharField(max_length=150)
    terminal = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    persons = models.IntegerField(default=0)
    inserted = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    deleted = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)

    class Meta:
        db_table = "exchange_copy_run"

    def __str__(self) -> str:
        return f"副本登録 {self.pk}"


class QueryState(models.TextChoices):
    QUEUED = "queued", "送信待ち (中継サーバー接続待ち)"
    SENT = "sent", "回答待ち"
    ANSWERED = "answered", "回答あり"
    NOT_FOUND = "not_found", "該当者なし"
    WITHHELD = "withheld", "提供不可の回答"
    REFUSED = "refused", "照会拒否 (許可リスト外)"
    ABANDONED = "abandoned", "中断"


class Query(models.Model):
    """情報照会: a query this city sent for one of its persons (usually a moved-in person)."""

    municipality = models.CharField(max_length=6)
    query_id = models.CharField(max_length=32, unique=True)
    atena_no = models.CharField(max_length=15)
    provider = models.CharField(max_length=6)
    item_set = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)  # e.g. {"tax_year": 2026} for resident_tax_status
    clause = models.CharField(max_length=200, blank=True)
    permit_id = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=10, choices=QueryState.choices, default=QueryState.QUEUED)
    requested_by = models.CharField(max_length=150)
    terminal = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True)
    completed_at = models.DateTimeField(null=True)
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True)
    last_error = models.CharField(max_length=200, blank=True)
    result = models.JSONField(null=True)  # the items received; emptied by the purge
    purged_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "exchange_query"
        indexes = [
            models.Index(fields=["municipality", "atena_no"], name="exchange_query_atena"),
            models.Index(fields=["municipality", "state"], name="exchange_query_state"),
        ]

    def __str__(self) -> str:
        return f"照会 {self.query_id}"


class ProvisionState(models.TextChoices):
    SENT = "sent", "自動回答済み"
    HELD = "held", "確認待ち (支援措置対象)"
    RELEASED = "released", "確認の上で提供"
    WITHHELD = "withheld", "確認の上で提供せず"
    NOT_FOUND = "not_found", "該当者なし"


class Provision(models.Model):
    """情報提供: a query this city received, and what was (or will be) answered."""

    municipality = models.CharField(max_length=6)
    msg_id = models.CharField(max_length=32)
    query_id = models.CharField(max_length=32)
    asker = models.CharField(max_length=6)
    permit_id = models.CharField(max_length=32)
    item_set = models.CharField(max_length=40)
    clause = models.CharField(max_length=200, blank=True)
    atena_no = models.CharField(max_length=15, blank=True)  # empty: nobody found
    state = models.CharField(max_length=10, choices=ProvisionState.choices)
    answer = models.JSONField(null=True)  # the items prepared for the answer (held ones: for review)
    received_at = models.DateTimeField()
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True)
    answered_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "exchange_provision"
        constraints = [
            models.UniqueConstraint(fields=["municipality", "msg_id"], name="exchange_provision_msg_uniq"),
        ]
        indexes = [models.Index(fields=["municipality", "state"], name="exchange_provision_state")]

    def __str__(self) -> str:
        return f"提供 {self.msg_id}"


class Outbox(models.Model):
    """A sealed message waiting for the hub (送信待ち電文); kept until the hub accepts it."""

    municipality = models.CharField(max_length=6)
    msg_id = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=10)  # query | answer
    receiver = models.CharField(max_length=6)
    permit_id = models.CharField(max_length=32)
    envelope = models.TextField()
    created_at = models.DateTimeField()
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "exchange_outbox"
        indexes = [models.Index(fields=["municipality", "sent_at", "next_attempt_at"], name="exchange_outbox_due")]

    def __str__(self) -> str:
        return f"送信 {self.msg_id}"


class SeenMessage(models.Model):
    municipality = models.CharField(max_length=6)
    sender = models.CharField(max_length=6)
    msg_id = models.CharField(max_length=64)
    seen_at = models.DateTimeField()

    class Meta:
        db_table = "exchange_seen"
        constraints = [
            models.UniqueConstraint(fields=["municipality", "sender", "msg_id"], name="exchange_seen_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.sender}:{self.msg_id}"


class InboxEvent(models.Model):
    """受信記録: every delivery taken from the hub, accepted or refused (with the reason)."""

    municipality = models.CharField(max_length=6)
    at = models.DateTimeField()
    sender = models.CharField(max_length=6, blank=True)
    msg_id = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=10, blank=True)
    outcome = models.CharField(max_length=10)  # accepted | rejected
    reason = models.CharField(max_length=40, blank=True)

    class Meta:
        db_table = "exchange_inbox_event"
        indexes = [models.Index(fields=["municipality", "at"], name="exchange_inbox_at")]

    def __str__(self) -> str:
        return f"受信 {self.msg_id} {self.outcome}"
