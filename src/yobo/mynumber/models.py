"""The linking file (統合番号連携ファイル) and identity-verification records (番号確認・本人確認).

Read and written only through ``services`` and ``selectors``; no other app imports these models
(import-linter contract). No column ever holds a plaintext My Number.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F


class IntegratedNumberCounter(models.Model):
    """Last serial of the integrated address number, per municipality (統合宛名番号の採番).

    One row per municipality, locked in the assigning transaction: no global database sequence
    for a business key, so a deployment can be partitioned by municipality code.
    """

    municipality = models.CharField(max_length=6, primary_key=True)
    last = models.BigIntegerField(default=0)

    class Meta:
        db_table = "mynumber_counter"

    def __str__(self) -> str:
        return f"{self.municipality}: {self.last}"


class LinkStatus(models.TextChoices):
    ACTIVE = "active", "有効"
    DECEASED = "deceased", "死亡"


class MyNumberLink(models.Model):
    """One row of the linking file: 個人番号 ↔ 団体内統合宛名番号 ↔ 宛名番号.

    ``integrated_no`` (団体内統合宛名番号) is assigned when a My Number is first entered: 15 digits =
    municipality code (6) + serial (8) + Luhn check digit (1). The number itself is only stored
    sealed (``ciphertext``/``nonce``/``key_id``, AES-GCM bound to municipality + integrated_no +
    key id) and as a keyed blind index for lookup and uniqueness. Deceased persons' rows are kept
    and flagged (死亡), never deleted.
    """

    municipality = models.CharField(max_length=6)
    integrated_no = models.CharField(max_length=15)  # unique: ``mynumber_link_integrated_uniq``
    atena_no = models.CharField(max_length=15)
    ciphertext = models.BinaryField()
    nonce = models.BinaryField()
    key_id = models.CharField(max_length=16)
    blind_index = models.CharField(max_length=32)
    index_key_id = models.CharField(max_length=16)
    status = models.CharField(max_length=10, choices=LinkStatus.choices, default=LinkStatus.ACTIVE)
    deceased_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()
    # The operator of the registering batch (the access log names them too). No database foreign key
    # and no index: a bulk load would check and index one staff id per linked number (decision 051).
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   db_constraint=False, db_index=False)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "mynumber_link"
        constraints = [
            # A constraint rather than ``unique=True``: that would add a second (LIKE-pattern) index
            # on PostgreSQL, which nothing uses and every registered number must grow. Written with
            # column expressions (``F``) so that both databases create a plain unique index (SQLite
            # would otherwise inline the constraints into the table, where a first load cannot drop
            # them and must grow the random blind-index key row by row; decision 051).
            models.UniqueConstraint(F("integrated_no"), name="mynumber_link_integrated_uniq"),
            models.UniqueConstraint(F("municipality"), F("atena_no"), name="mynumber_link_atena_uniq"),
            models.UniqueConstraint(F("municipality"), F("blind_index"), name="mynumber_link_index_uniq"),
        ]
        indexes = [models.Index(fields=["key_id"], name="mynumber_link_key_id")]

    def __str__(self) -> str:  # never the number
        return f"{self.integrated_no} ↔ {self.atena_no}"


class NumberCheckMethod(models.TextChoices):
    """番号確認の方法 (番号法第16条, 施行規則)."""

    MYNUMBER_CARD = "card", "個人番号カード"
    NOTIFICATION_CARD = "notice", "通知カード (記載事項に変更がないもの)"
    RESIDENT_RECORD = "juminhyo", "個人番号付きの住民票の写し・住民票記載事項証明書"
    JUKI_NET = "jukinet", "住民基本台帳ネットワークシステムによる確認"
    RESIDENT_REGISTER = "register", "住民基本台帳による確認 (本市の住民)"


class IdentityDocument(models.TextChoices):
    """本人確認書類. Photo documents suffice alone; the others need two (施行規則)."""

    MYNUMBER_CARD = "card", "個人番号カード"
    DRIVER_LICENSE = "license", "運転免許証"
    PASSPORT = "passport", "旅券"
    RESIDENCE_CARD = "residence", "在留カード・特別永住者証明書"
    DISABILITY_BOOK = "disability", "身体障害者手帳・療育手帳等"
    OTHER_PHOTO_ID = "photo_id", "その他の写真付き公的証明書"
    HEALTH_INSURANCE = "insurance", "健康保険の資格確認書等"
    PENSION = "pension", "年金手帳・年金証書"
    OTHER = "other", "その他の公的書類"


PHOTO_DOCUMENTS = frozenset(
    {
        IdentityDocument.MYNUMBER_CARD,
        IdentityDocument.DRIVER_LICENSE,
        IdentityDocument.PASSPORT,
        IdentityDocument.RESIDENCE_CARD,
        IdentityDocument.DISABILITY_BOOK,
        IdentityDocument.OTHER_PHOTO_ID,
    }
)


class AgentKind(models.TextChoices):
    """代理人の種別."""

    NONE = "", "本人"
    LEGAL = "legal", "法定代理人"
    DELEGATE = "delegate", "任意代理人 (委任状)"


class IdentityVerification(models.Model):
    """A record of the number check and identity check (番号確認・本人確認記録) when a My Number was
    taken from a person or an agent, confirmed by a second staff member (二人確認)."""

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    link = models.ForeignKey(
        MyNumberLink, null=True, blank=True, on_delete=models.PROTECT, related_name="verifications"
    )
    number_check = models.CharField(max_length=10, choices=NumberCheckMethod.choices)
    identity_documents = models.JSONField(default=list)
    agent_kind = models.CharField(max_length=10, choices=AgentKind.choices, blank=True, default="")
    agent_identity_documents = models.JSONField(default=list)
    power_of_attorney_seen = models.BooleanField(default=False)  # 委任状
    representation_document_seen = models.BooleanField(default=False)  # 戸籍謄本等 (法定代理人)
    note = models.CharField(max_length=200, blank=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField()
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "mynumber_verification"
        indexes = [models.Index(fields=["municipality", "atena_no"], name="mynumber_verif_atena")]

    def __str__(self) -> str:
        return f"verification {self.pk} for {self.atena_no}"
