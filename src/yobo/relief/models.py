"""Models of relief (予防接種健康被害救済給付); reached only through its services and selectors.

A claim (請求) names the person harmed by 宛名番号, its applicant (as written on the form; often a
parent or a bereaved family member, who need not be in the registry), the vaccinations concerned,
and one benefit type of the Immunization Act. Its state moves along a fixed workflow; every move
is an event row with the date, who moved it and the content (調査会の議事, 厚生労働省の審査結果).
Documents are stored encrypted (AES-256-GCM). Money is integer yen.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BenefitType(models.TextChoices):
    """給付の種類 (予防接種法第16条: A類 第1項, B類 第2項)."""

    MEDICAL = "medical", "医療費・医療手当"
    CHILD_DISABILITY = "child_disability", "障害児養育年金"
    DISABILITY = "disability", "障害年金"
    DEATH_LUMP_SUM = "death_lump_sum", "死亡一時金"
    SURVIVOR_PENSION = "survivor_pension", "遺族年金"
    SURVIVOR_LUMP_SUM = "survivor_lump_sum", "遺族一時金"
    FUNERAL = "funeral", "葬祭料"


class ClaimState(models.TextChoices):
    """請求の状態 (seed 004 ①–⑤)."""

    RECEIVED = "received", "受理"
    COMMITTEE = "committee", "調査会審議中"
    FORWARDED = "forwarded", "厚生労働省へ進達済"
    APPROVED = "approved", "認定"
    REJECTED = "rejected", "否認"
    NOTIFIED = "notified", "申請者へ通知済"
    PAID = "paid", "支給済"
    APPEALED = "appealed", "審査請求中"
    WITHDRAWN = "withdrawn", "取下げ"


class BenefitAmount(models.Model):
    """The amount of a benefit type for a fiscal year and grade (給付額の設定, 円).

    ``grade`` is the disability grade (1級, 2級, 3級) for pensions, empty otherwise; ``unit`` says what
    the amount is per (``year`` for pensions, ``lump`` for lump sums, ``month`` for 医療手当).
    """

    municipality = models.CharField(max_length=6)
    fiscal_year = models.PositiveSmallIntegerField()
    benefit = models.CharField(max_length=20, choices=BenefitType.choices)
    grade = models.CharField(max_length=4, blank=True)
    unit = models.CharField(max_length=6)
    amount_yen = models.PositiveBigIntegerField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "relief_amount"
        constraints = [models.UniqueConstraint(fields=["municipality", "fiscal_year", "benefit", "grade"],
                                               name="relief_amount_uniq")]

    def __str__(self) -> str:
        return f"{self.fiscal_year} {self.benefit} {self.grade}: {self.amount_yen}円"


class Claim(models.Model):
    """One relief claim (健康被害救済給付の請求)."""

    municipality = models.CharField(max_length=6)
    claim_no = models.CharField(max_length=12)  # 受付番号: FY + serial
    atena_no = models.CharField(max_length=15)  # the person harmed (被接種者)
    benefit = models.CharField(max_length=20, choices=BenefitType.choices)
    applicant_name = models.CharField(max_length=200)  # 請求者
    applicant_relation = models.CharField(max_length=50, blank=True)  # 被接種者との続柄 (本人, 父, 母, …)
    applicant_address = models.CharField(max_length=300, blank=True)
    applicant_phone = models.CharField(max_length=30, blank=True)
    applicant_atena_no = models.CharField(max_length=15, blank=True)  # when the applicant is in the registry
    vaccinations = models.JSONField(default=list)  # [{"vaccine", "date", "dose_id" | None, "on_record": bool}]
    harm_summary = models.TextField(blank=True)  # 疾病・障害の状況 (as the form states it)
    onset_date = models.DateField(null=True, blank=True)  # 発症日
    event_date = models.DateField(null=True, blank=True)  # 請求期限の起算日 (医療費の支払日, 死亡日 など)
    received_on = models.DateField()
    state = models.CharField(max_length=12, choices=ClaimState.choices, default=ClaimState.RECEIVED)
    state_since = models.DateField()
    due_on = models.DateField(null=True, blank=True)  # the next step's deadline (事務処理期限)
    decision_result = models.CharField(max_length=12, blank=True)  # approved / rejected (kept after 通知)
    decision_on = models.DateField(null=True, blank=True)  # 審査結果の日付 (厚生労働省)
    decision_content = models.TextField(blank=True)  # 審査結果の内容 (紙の通知から転記)
    grade = models.CharField(max_length=4, blank=True)  # 認定された障害等級
    approved_amount_yen = models.PositiveBigIntegerField(null=True, blank=True)
    continuing = models.BooleanField(default=False)  # 年金: 毎年の給付額の決定がある
    flags = models.JSONField(default=list)  # warnings kept with the claim (e.g. a vaccination not on record)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "relief_claim"
        constraints = [models.UniqueConstraint(fields=["municipality", "claim_no"], name="relief_claim_no_uniq")]
        indexes = [models.Index(fields=["municipality", "state", "due_on"], name="relief_claim_state"),
                   models.Index(fields=["municipality", "atena_no"], name="relief_claim_person")]

    def __str__(self) -> str:
        return f"救済 {self.claim_no} ({self.state})"


class ClaimEvent(models.Model):
    """One move of a claim (経過): from, to, the date it happened, who recorded it, and its content
    (調査会の議事要旨, 進達の文書番号, 審査結果, 通知日, …)."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="events")
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12)
    on_date = models.DateField()
    note = models.TextField(blank=True)
    document = models.ForeignKey("Document", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        db_table = "relief_event"

    def __str__(self) -> str:
        return f"{self.claim_id}: {self.from_state} -> {self.to_state}"


class Document(models.Model):
    """A document attached to a claim (請求書, 診断書, 調査会議事録, 審査結果通知, …), encrypted.

    ``ciphertext`` is AES-256-GCM under the data key ``key_id`` of the relief key file, with the
    claim number and the document's kind and name as associated data, so a blob moved to another
    row does not open. ``sha256`` is of the plain content (integrity check when it is opened).
    """

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=40)
    file_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16)
    nonce = models.BinaryField()
    ciphertext = models.BinaryField()
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField()

    class Meta:
        db_table = "relief_document"

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name}"


class AnnualDecision(models.Model):
    """A continuing benefit's amount for one fiscal year (毎年の給付額の決定), with the information used
    (e.g. income or other benefits held by other bodies, queried through the exchange)."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="annual")
    fiscal_year = models.PositiveSmallIntegerField()
    amount_yen = models.PositiveBigIntegerField()
    basis = models.TextField(blank=True)
    query_state = models.CharField(max_length=10, default="none")  # none / pending / answered
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()

    class Meta:
        db_table = "relief_annual"
        constraints = [models.UniqueConstraint(fields=["claim", "fiscal_year"], name="relief_annual_uniq")]

    def __str__(self) -> str:
        return f"{self.claim_id} {self.fiscal_year}: {self.amount_yen}円"


class Payment(models.Model):
    """A payment of a benefit (支給の記録)."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="payments")
    paid_on = models.DateField()
    amount_yen = models.PositiveBigIntegerField()
    period = models.CharField(max_length=40, blank=True)  # 対象期間 (e.g. 2026年4月〜9月分)
    note = models.CharField(max_length=200, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        db_table = "relief_payment"

    def __str__(self) -> str:
        return f"{self.claim_id} {self.paid_on}: {self.amount_yen}円"


class Counter(models.Model):
    municipality = models.CharField(max_length=6)
    name = models.CharField(max_length=20)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "relief_counter"
        constraints = [models.UniqueConstraint(fields=["municipality", "name"], name="relief_counter_uniq")]

    def __str__(self) -> str:
        return f"{self.name} {self.last}"
