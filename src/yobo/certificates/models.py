"""Models of certificates (接種証明書); reached only through its services and selectors.

- ``Application`` (交付申請): who applied (the person or an agent), the identity documents seen, the
  agent's letter of authority (委任状), the language and, for overseas use, the romanised name,
  nationality and passport number (旅券関係情報, kept only when the certificate needs them — seeds
  000/003). The person is attached once staff have found and picked them (with how they searched).
- ``Certificate`` (接種証明書): one issuance — the certificate ID and issue date recorded per person
  (seed 000 VRS items 証明書ID・証明書発行年月日), the signed SMART Health Card(s) as issued, the
  signing key id and revocation id; revocation of a certificate issued in error.

No My Number is stored here; a search by My Number goes through the vault and records only that the
method was used.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApplicantKind(models.TextChoices):
    SELF = "self", "本人"
    AGENT = "agent", "代理人"


class Channel(models.TextChoices):
    WINDOW = "window", "窓口"
    CLI = "cli", "一括・運用"


class Language(models.TextChoices):
    JA = "ja", "日本語（国内用）"
    EN = "en", "英語（海外用）"


class SearchMethod(models.TextChoices):
    VOUCHER = "voucher", "券番号"
    MYNUMBER = "mynumber", "個人番号"
    THREE_ITEMS = "three_items", "3情報（住所・氏名・生年月日）"
    ATENA = "atena", "宛名番号"


class ApplicationState(models.TextChoices):
    RECEIVED = "received", "受付"
    IDENTIFIED = "identified", "対象者確定"
    ISSUED = "issued", "交付済"
    WITHDRAWN = "withdrawn", "取下げ"


class Application(models.Model):
    """交付申請."""

    municipality = models.CharField(max_length=6)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WINDOW)
    applicant_kind = models.CharField(max_length=8, choices=ApplicantKind.choices)
    applicant_name = models.CharField(max_length=100)  # 申請者氏名 (the agent's own name for an agent)
    agent_relationship = models.CharField(max_length=50, blank=True)  # 代理人と本人の関係
    documents_seen = models.JSONField(default=list)  # 確認書類 codes (services.IDENTITY_DOCUMENTS)
    letter_of_authority_seen = models.BooleanField(default=False)  # 委任状
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.JA)
    romanised_name = models.CharField(max_length=100, blank=True)  # ローマ字氏名 (passport spelling)
    nationality = models.CharField(max_length=3, blank=True)  # ISO 3166-1 alpha-3
    passport_no = models.CharField(max_length=20, blank=True)  # 旅券番号
    note = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=12, choices=ApplicationState.choices, default=ApplicationState.RECEIVED)
    atena_no = models.CharField(max_length=15, blank=True)  # set when the person is picked
    search_method = models.CharField(max_length=12, choices=SearchMethod.choices, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    terminal = models.CharField(max_length=64)
    identified_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                      related_name="+")

    class Meta:
        db_table = "cert_application"
        indexes = [models.Index(fields=["municipality", "atena_no"], name="cert_app_person")]

    def __str__(self) -> str:
        return f"申請 {self.pk} ({self.state})"


class Certificate(models.Model):
    """接種証明書: one issuance to one person."""

    municipality = models.CharField(max_length=6)
    certificate_id = models.CharField(max_length=32, unique=True)  # 証明書ID
    atena_no = models.CharField(max_length=15)
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="certificates")
    language = models.CharField(max_length=2, choices=Language.choices)
    issue_date = models.DateField()  # 証明書発行年月日
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    terminal = models.CharField(max_length=64)
    kid = models.CharField(max_length=64)  # the issuer key that signed the cards
    rid = models.CharField(max_length=24)  # revocation id (SHC), same for every card of the certificate
    nbf = models.DateTimeField()
    exp = models.DateTimeField(null=True)
    cards = models.JSONField(default=list)  # the compact JWSs as issued, one per QR code
    dose_ids = models.JSONField(default=list)  # the dose records certified
    dose_count = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    revoke_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        db_table = "cert_certificate"
        indexes = [
            models.Index(fields=["municipality", "atena_no"], name="cert_person"),
            models.Index(fields=["kid", "revoked_at"], name="cert_kid_revoked"),
        ]

    def __str__(self) -> str:
        return self.certificate_id
