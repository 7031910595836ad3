"""The resident register of the registry (宛名): persons, households, residence status with history,
and the import batches that change them.

Read and written only through ``services`` and ``selectors`` (import-linter contract). No column
holds a My Number: the vault (``yobo.mynumber``) links it to ``atena_no``. Every business key is
(municipality code, number) — no global sequence — so tables can be partitioned by municipality.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F

from yobo.core.text import address_key


class ResidentStatus(models.IntegerChoices):
    """住民区分 (CONTRACTS.md §1)."""

    RESIDENT = 1, "住民"
    MOVED_OUT = 2, "転出"
    DECEASED = 3, "死亡"
    REMOVED = 4, "職権消除等"


class Sex(models.IntegerChoices):
    """性別 (as the resident register codes it)."""

    MALE = 1, "男"
    FEMALE = 2, "女"


class Source(models.TextChoices):
    """Where the person's record comes from."""

    REGISTER = "juki", "住民基本台帳"  # the daily resident-register sync
    NON_REGISTERED = "jutogai", "住登外者"  # entered by staff (e.g. vaccinated here, living elsewhere)


class BatchStatus(models.TextChoices):
    APPLIED = "applied", "適用済み"
    REJECTED = "rejected", "不受理 (未適用)"
    FAILED = "failed", "異常終了 (未適用)"


class ImportBatch(models.Model):
    """One run of the resident-register import (住民記録連携バッチ): file, operator, counts.

    Rejected or failed runs are recorded too (status), with nothing of the file applied. The
    persons a batch touched are derivable: ``PersonHistory.batch`` (inserts, updates, status
    changes) and ``BatchAbsence`` (persons missing from a ``--full`` snapshot).
    """

    municipality = models.CharField(max_length=6)
    status = models.CharField(max_length=10, choices=BatchStatus.choices)
    # "full" (complete snapshot) or "diff"; "jkn" a 住基ネット check of the 住登外者 (``people.jukinet``)
    mode = models.CharField(max_length=4, default="diff")
    skip_invalid = models.BooleanField(default=False)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.BigIntegerField(default=0)
    encoding = models.CharField(max_length=16, blank=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    terminal = models.CharField(max_length=64)
    request_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.IntegerField(default=0)
    inserted = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    absent = models.IntegerField(default=0)
    summary = models.JSONField(default=dict)  # further counts (status changes, vault, warnings); no personal data

    class Meta:
        db_table = "people_batch"
        indexes = [models.Index(fields=["municipality", "started_at"], name="people_batch_started")]

    def __str__(self) -> str:
        return f"batch {self.pk} {self.file_name} ({self.status})"


class Person(models.Model):
    """A person of the registry (宛名), keyed by municipality + 宛名番号.

    Names are kept exactly as given (rare kanji included); ``kanji_key``/``kana_key`` are the
    normalised search keys (NFKC, katakana full-width, no spaces), ``address_key`` the address's.
    ``row_hash`` is a digest of the
    register fields, so an unchanged row of a new extract is found by one comparison.
    """

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)  # 宛名番号
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.REGISTER)
    household_no = models.CharField(max_length=15)  # 世帯番号
    name_kanji = models.CharField(max_length=200)  # 漢字氏名, as registered
    name_kana = models.CharField(max_length=200)  # カナ氏名, full-width katakana
    kanji_key = models.CharField(max_length=200)
    kana_key = models.CharField(max_length=200)
    birth_date = models.DateField()
    sex = models.SmallIntegerField(choices=Sex.choices)
    relationship = models.CharField(max_length=50, blank=True)  # 続柄
    postal_code = models.CharField(max_length=7, blank=True)
    address = models.CharField(max_length=300)
    address_extra = models.CharField(max_length=200, blank=True)  # 方書
    # 住所の検索キー: address and 方書 written one way (``core.text.address_key``); kept by
    # ``save`` and written by every bulk path (import, 住基ネット check).
    address_key = models.TextField(blank=True, default="")
    phone = models.CharField(max_length=30, blank=True)
    status = models.SmallIntegerField(choices=ResidentStatus.choices, default=ResidentStatus.RESIDENT)
    status_date = models.DateField(null=True, blank=True)  # 異動日
    status_reason = models.CharField(max_length=100, blank=True)  # 異動事由
    row_hash = models.CharField(max_length=32)
    # No index on the batch columns (nothing looks persons up by batch: a batch's persons are its
    # history rows); each index is one more B-tree every import row grows (decision 051).
    created_batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                      db_constraint=False, db_index=False)
    updated_batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                      db_constraint=False, db_index=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "people_person"
        # Column expressions (``F``): a plain unique index on both databases, which a first load can
        # drop and rebuild (SQLite would inline a ``fields=`` constraint into the table; decision 051).
        constraints = [models.UniqueConstraint(F("municipality"), F("atena_no"), name="people_person_atena_uniq")]
        indexes = [
            models.Index(fields=["municipality", "kana_key"], name="people_person_kana"),
            models.Index(fields=["municipality", "kanji_key"], name="people_person_kanji"),
            models.Index(fields=["municipality", "birth_date"], name="people_person_birth"),
            models.Index(fields=["municipality", "household_no"], name="people_person_household"),
        ]

    def __str__(self) -> str:
        return f"宛名 {self.atena_no}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.address_key = address_key(self.address, self.address_extra)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"address", "address_extra"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "address_key"}
        super().save(*args, **kwargs)


class ChangeKind(models.TextChoices):
    CREATED = "created", "新規"
    UPDATED = "updated", "更新"


class PersonHistory(models.Model):
    """One change to a person (異動・変更履歴): which fields, old and new values, when, from which batch.

    ``changes`` maps each changed field to ``[old, new]`` (empty for a creation, whose values are
    the person's first version). ``status``/``status_date``/``status_reason`` repeat the residence
    status after the change, so the status history is one indexed query.
    """

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    # ``people_history_batch`` (Meta) is the batch index; the implicit foreign-key indexes would be
    # a second copy of it and an index of the staff column nothing searches by.
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              db_constraint=False, db_index=False)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", db_constraint=False, db_index=False)
    changed_at = models.DateTimeField()
    kind = models.CharField(max_length=8, choices=ChangeKind.choices)
    changes = models.JSONField(default=dict)
    status = models.SmallIntegerField(choices=ResidentStatus.choices)
    status_date = models.DateField(null=True, blank=True)
    status_reason = models.CharField(max_length=100, blank=True)
    status_changed = models.BooleanField(default=False)

    class Meta:
        db_table = "people_history"
        indexes = [
            models.Index(fields=["municipality", "atena_no", "changed_at"], name="people_history_person"),
            models.Index(fields=["batch"], name="people_history_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.atena_no} ({self.changed_at:%Y-%m-%d})"


class Reviewed(models.Model):
    """Who looked at an item a batch left for staff, when, and what they found (確認記録).

    A later batch that lists the same person for the same reason again carries the review over
    (``people.review``), so a person absent from every daily snapshot is looked at once."""

    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=200, blank=True)

    class Meta:
        abstract = True


class BatchAbsence(Reviewed):
    """A person on record but missing from a ``--full`` snapshot (連携ファイルに存在しない宛名), for
    review. Nothing is deleted or changed because of it."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="absences")
    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    status = models.SmallIntegerField(choices=ResidentStatus.choices)  # the person's status at the time

    class Meta:
        db_table = "people_batch_absence"
        indexes = [models.Index(fields=["batch", "atena_no"], name="people_absence_batch")]

    def __str__(self) -> str:
        return f"absent {self.atena_no} (batch {self.batch_id})"


class NonResidentFinding(Reviewed):
    """What a 住基ネット check (住基ネットによる住登外者の整合性確認, ``people.jukinet``) left for staff:
    a 住登外者 it could not bring up to date by itself (not found, another person's items, a number
    that differs) or one now living in this city. ``code`` is a ``jukinet.Finding``; ``row`` the
    answer file's row. Nothing of the person was changed because of it (but for ``moved_in``)."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="findings")
    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    code = models.CharField(max_length=24)
    row = models.IntegerField()

    class Meta:
        db_table = "people_nonresident_finding"
        indexes = [models.Index(fields=["batch", "row"], name="people_finding_batch")]

    def __str__(self) -> str:
        return f"{self.code} {self.atena_no} (batch {self.batch_id})"


# --- 住登外者 (non-registered persons) and 支援措置 (protection): added by the staff-facing half ---------


class NonResidentCounter(models.Model):
    """Last serial of the 宛名番号 given to non-registered persons (住登外者の宛名番号採番), per
    municipality; locked in the assigning transaction (no global sequence for a business key)."""

    municipality = models.CharField(max_length=6, primary_key=True)
    last = models.BigIntegerField(default=0)

    class Meta:
        db_table = "people_nonresident_counter"

    def __str__(self) -> str:
        return f"{self.municipality}: {self.last}"


class ApplicationState(models.TextChoices):
    PENDING = "pending", "確認待ち"
    CONFIRMED = "confirmed", "確認済み (登録)"
    WITHDRAWN = "withdrawn", "取下げ・却下"


class TwoStaffRequest(models.Model):
    """What every request decided by a second staff member (二人確認) records: its state, who asked
    and when, who decided and when (``two_staff.locked_pending`` / ``require_second_staff`` /
    ``decide``)."""

    state = models.CharField(max_length=10, choices=ApplicationState.choices, default=ApplicationState.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def subject_atena(self) -> str:
        """The 宛名番号 of the person the request is about (the access log's target)."""
        return str(self.atena_no)  # type: ignore[attr-defined]


class NonResidentApplication(TwoStaffRequest):
    """An application to register a non-registered person (住登外者登録申請).

    Holds the person's items as applied for; the ``Person`` (source 住登外者) exists only once a
    second staff member has confirmed it, so a pending application is never found as a person.
    The My Number goes straight into the vault with its identity-check record
    (``verification_id``, ``yobo.mynumber``); nothing here holds the number.
    """

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)  # reserved from the 住登外者 range at application
    reason = models.CharField(max_length=200)  # 登録事由 (why this person is a target here)
    name_kanji = models.CharField(max_length=200)
    name_kana = models.CharField(max_length=200)
    birth_date = models.DateField()
    sex = models.SmallIntegerField(choices=Sex.choices)
    postal_code = models.CharField(max_length=7, blank=True)
    address = models.CharField(max_length=300)
    address_extra = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    verification_id = models.BigIntegerField(null=True, blank=True)  # mynumber IdentityVerification
    decision_note = models.CharField(max_length=200, blank=True)

    class Meta(TwoStaffRequest.Meta):
        db_table = "people_nonresident_application"
        constraints = [
            models.UniqueConstraint(fields=["municipality", "atena_no"], name="people_nonres_app_atena_uniq")
        ]
        indexes = [models.Index(fields=["municipality", "state"], name="people_nonres_app_state")]

    def __str__(self) -> str:
        return f"住登外者申請 {self.pk} ({self.state})"


class ProtectionAction(models.TextChoices):
    SET = "set", "設定"
    CLEAR = "clear", "解除"


class ProtectedPerson(models.Model):
    """A person under a support measure (支援措置対象者, DV等): address and phone hidden from staff
    without the right, never answered automatically to outside queries. Present only while the
    measure is in force; its history is ``ProtectionRequest``."""

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    since = models.DateTimeField()
    request = models.ForeignKey("ProtectionRequest", on_delete=models.PROTECT, related_name="+")

    class Meta:
        db_table = "people_protected"
        constraints = [
            models.UniqueConstraint(fields=["municipality", "atena_no"], name="people_protected_atena_uniq")
        ]

    def __str__(self) -> str:
        return f"支援措置 {self.atena_no}"


class ProtectionRequest(TwoStaffRequest):
    """A request to set or clear a support measure (支援措置の設定・解除), in force only once a
    different staff member confirms it (二人確認)."""

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    action = models.CharField(max_length=5, choices=ProtectionAction.choices)
    note = models.CharField(max_length=200, blank=True)  # e.g. 申出書の受付番号; no address here

    class Meta(TwoStaffRequest.Meta):
        db_table = "people_protection_request"
        indexes = [models.Index(fields=["municipality", "atena_no", "state"], name="people_protreq_atena")]

    def __str__(self) -> str:
        return f"支援措置{self.get_action_display()} {self.atena_no} ({self.state})"


# --- 利用停止 (suspension of use, 個人情報保護法の利用停止請求): added by governance ------------------------


class UseSuspension(models.Model):
    """A suspension of use of a person's data (利用停止), decided on a resident's request.

    In force while ``lifted_at`` is empty; lifted rows stay as the history. The rest of the system
    asks ``selectors.is_use_suspended`` / ``suspended_among`` and leaves suspended persons out of
    uses other than those the law keeps (the register itself, the request's own handling).
    """

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    scope = models.CharField(max_length=200, blank=True)  # 停止する利用 (e.g. 勧奨通知), empty = all optional uses
    reason = models.CharField(max_length=200)
    request_ref = models.CharField(max_length=32, blank=True)  # governance request number
    since = models.DateTimeField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")

    class Meta:
        db_table = "people_use_suspension"
        indexes = [models.Index(fields=["municipality", "atena_no", "lifted_at"], name="people_suspension_atena")]

    def __str__(self) -> str:
        return f"利用停止 {self.atena_no}"


class AtenaSwitch(TwoStaffRequest):
    """A 住登外者 who moved in, switched to the 宛名番号 the resident register gave them (住登外者の
    住民への切替・名寄せ): requested by one staff member, in force once a second one confirms it. On
    confirmation the person (same row, same internal id), their vault link and every record of theirs
    in every app move from ``from_atena`` to ``to_atena`` (``people.switch``)."""

    municipality = models.CharField(max_length=6)
    from_atena = models.CharField(max_length=15)  # the 住登外者's own 宛名番号
    to_atena = models.CharField(max_length=15)  # the register's 宛名番号 (from the refused import row)
    note = models.CharField(max_length=200, blank=True)  # how the identity was checked (no numbers)
    decision_note = models.CharField(max_length=200, blank=True)

    class Meta(TwoStaffRequest.Meta):
        db_table = "people_atena_switch"
        constraints = [
            # One pending switch per 住登外者 (a decided one stays as the record of what was done).
            models.UniqueConstraint(fields=["municipality", "from_atena"], condition=models.Q(state="pending"),
                                    name="people_switch_one_pending"),
        ]
        indexes = [models.Index(fields=["municipality", "state"], name="people_switch_state")]

    def __str__(self) -> str:
        return f"住登外者の切替 {self.pk} ({self.state})"

    @property
    def subject_atena(self) -> str:
        return self.from_atena
