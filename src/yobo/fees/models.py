"""Models of fees (実費徴収・免除, 接種委託料); reached only through its services and selectors.

Money is integer yen everywhere (``PositiveIntegerField``/``BigIntegerField``), never a float.
Persons are referred to by 宛名番号 (no foreign key into ``people``: it owns its tables).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class FeeCategory(models.TextChoices):
    """負担区分: which fee a person pays. Every category but 一般 is an exemption category (免除区分)."""

    GENERAL = "general", "一般"
    TAX_EXEMPT = "tax_exempt", "住民税非課税世帯"
    WELFARE = "welfare", "生活保護受給者"
    CHINA_SUPPORT = "china_support", "中国残留邦人等支援給付受給者"


class FeeSetting(models.Model):
    """The amount a person of ``category`` pays for ``vaccine`` in ``fiscal_year`` (実費徴収額, 円)."""

    municipality = models.CharField(max_length=6)
    fiscal_year = models.PositiveSmallIntegerField()
    vaccine = models.CharField(max_length=16)
    category = models.CharField(max_length=16, choices=FeeCategory.choices)
    amount_yen = models.PositiveIntegerField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "fees_setting"
        constraints = [models.UniqueConstraint(fields=["municipality", "fiscal_year", "vaccine", "category"],
                                               name="fees_setting_uniq")]

    def __str__(self) -> str:
        return f"{self.fiscal_year} {self.vaccine} {self.category}: {self.amount_yen}円"


class StatusImport(models.Model):
    """One run of the tax/welfare status import (税・福祉情報の取込); rejected runs are kept too."""

    municipality = models.CharField(max_length=6)
    status = models.CharField(max_length=10)  # applied / rejected
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    encoding = models.CharField(max_length=16, blank=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    terminal = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    rows_read = models.IntegerField(default=0)
    inserted = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    problems = models.IntegerField(default=0)

    class Meta:
        db_table = "fees_status_import"

    def __str__(self) -> str:
        return f"status import {self.pk} ({self.status})"


class StatusRecord(models.Model):
    """A person's tax or welfare status as the other system reported it (税・福祉情報).

    ``kind`` 1 住民税 (``tax_year`` = the 年度, i.e. residents of 1 January of that year, and
    ``tax_status``), 2 生活保護 / 3 中国残留邦人等支援給付 (``valid_from``..``valid_until``).
    ``key`` is the 年度 or the start date, so a person's records upsert by (宛名番号, kind, key).
    ``source``: ``import`` (this city's systems) or ``exchange`` (answer of another municipality).
    """

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    kind = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=10)
    tax_year = models.PositiveSmallIntegerField(null=True, blank=True)
    tax_status = models.PositiveSmallIntegerField(null=True, blank=True)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=10, default="import")
    batch = models.ForeignKey(StatusImport, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              db_constraint=False)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "fees_status"
        constraints = [models.UniqueConstraint(fields=["municipality", "atena_no", "kind", "key"],
                                               name="fees_status_uniq")]

    def __str__(self) -> str:
        return f"status {self.atena_no} {self.kind}/{self.key}"


class DecisionResult(models.TextChoices):
    EXEMPT = "exempt", "免除"
    NOT_EXEMPT = "not_exempt", "免除非該当"
    PENDING = "pending", "照会中 (保留)"


class ExemptionDecision(models.Model):
    """An exemption check on application (免除の可否確認) and its decision with its basis.

    ``basis`` lists each household member considered, with the record used (kind, 年度, status,
    source) or that none was held; ``history`` keeps every earlier result when a pending decision is
    completed by an exchange answer. ``certificate_no`` is set when the certificate is issued.
    """

    municipality = models.CharField(max_length=6)
    decision_no = models.CharField(max_length=12)  # 免除決定番号: FY + serial, shown on the certificate
    atena_no = models.CharField(max_length=15)
    household_no = models.CharField(max_length=15)
    vaccine = models.CharField(max_length=16)
    applied_on = models.DateField()
    fiscal_year = models.PositiveSmallIntegerField()
    tax_year = models.PositiveSmallIntegerField()
    result = models.CharField(max_length=12, choices=DecisionResult.choices)
    category = models.CharField(max_length=16, choices=FeeCategory.choices)
    reason = models.TextField(blank=True)
    basis = models.JSONField(default=list)
    history = models.JSONField(default=list)
    amount_due_yen = models.PositiveIntegerField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()
    certificate_issued_at = models.DateTimeField(null=True, blank=True)
    certificate_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "fees_decision"
        constraints = [models.UniqueConstraint(fields=["municipality", "decision_no"], name="fees_decision_no_uniq")]
        indexes = [models.Index(fields=["municipality", "atena_no"], name="fees_decision_person"),
                   models.Index(fields=["municipality", "result"], name="fees_decision_result")]

    def __str__(self) -> str:
        return f"免除決定 {self.decision_no} ({self.result})"


class QueryState(models.TextChoices):
    PENDING = "pending", "照会待ち"
    SENT = "sent", "照会中"
    ANSWERED = "answered", "回答済"


class TaxQuery(models.Model):
    """A query for a household member's resident tax of ``tax_year`` to the municipality of 1 January
    (他市町村への税情報照会), made when this city holds no record for that date.

    ``exchange_ref`` is the exchange's query id once it was sent through ``yobo.exchange``; while the
    exchange cannot send it the query stays ``pending`` for staff (decision 121).
    """

    municipality = models.CharField(max_length=6)
    decision = models.ForeignKey(ExemptionDecision, on_delete=models.PROTECT, related_name="queries")
    atena_no = models.CharField(max_length=15)
    tax_year = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=10, choices=QueryState.choices, default=QueryState.PENDING)
    exchange_ref = models.CharField(max_length=64, blank=True)
    answer_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")

    class Meta:
        db_table = "fees_tax_query"
        indexes = [models.Index(fields=["municipality", "state"], name="fees_query_state")]

    def __str__(self) -> str:
        return f"税情報照会 {self.pk} ({self.state})"


class Counter(models.Model):
    """Per-city, per-year serials (免除決定番号, 請求番号): no global sequence for business keys."""

    municipality = models.CharField(max_length=6)
    name = models.CharField(max_length=20)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "fees_counter"
        constraints = [models.UniqueConstraint(fields=["municipality", "name"], name="fees_counter_uniq")]

    def __str__(self) -> str:
        return f"{self.name} {self.last}"


# --- clinic payments (接種委託料の支払) --------------------------------------------------------------


class UnitPrice(models.Model):
    """The commission paid to a clinic per dose of ``vaccine`` given in ``fiscal_year`` (委託単価, 円);
    ``screening_yen`` is paid for a screening without vaccination (予診のみ), when the city pays one."""

    municipality = models.CharField(max_length=6)
    fiscal_year = models.PositiveSmallIntegerField()
    vaccine = models.CharField(max_length=16)
    amount_yen = models.PositiveIntegerField()
    screening_yen = models.PositiveIntegerField(null=True, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "fees_unit_price"
        constraints = [models.UniqueConstraint(fields=["municipality", "fiscal_year", "vaccine"],
                                               name="fees_unit_price_uniq")]

    def __str__(self) -> str:
        return f"{self.fiscal_year} {self.vaccine}: {self.amount_yen}円"


class ClinicAccount(models.Model):
    """Where a clinic is paid (振込先口座), for the finance system's transfer file."""

    municipality = models.CharField(max_length=6)
    clinic_code = models.CharField(max_length=10)
    bank_code = models.CharField(max_length=4)  # 金融機関コード
    branch_code = models.CharField(max_length=3)  # 支店コード
    account_type = models.CharField(max_length=1)  # 預金種目: 1 普通, 2 当座
    account_no = models.CharField(max_length=7)
    holder_kana = models.CharField(max_length=60)  # 口座名義 (カナ)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "fees_clinic_account"
        constraints = [models.UniqueConstraint(fields=["municipality", "clinic_code"], name="fees_account_uniq")]

    def __str__(self) -> str:
        return f"{self.clinic_code} {self.bank_code}-{self.branch_code}"


class ClaimState(models.TextChoices):
    DRAFT = "draft", "作成済 (未承認)"
    APPROVED = "approved", "承認済"
    PAID = "paid", "支払済"


class PaymentRun(models.Model):
    """One payment of a claim month's approved claims (支払処理): the transfer file and its total."""

    municipality = models.CharField(max_length=6)
    claim_month = models.CharField(max_length=6)
    pay_on = models.DateField()  # 振込指定日
    clinics = models.PositiveIntegerField()
    total_yen = models.PositiveBigIntegerField()
    file_sha256 = models.CharField(max_length=64)
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    made_at = models.DateTimeField()

    class Meta:
        db_table = "fees_payment_run"

    def __str__(self) -> str:
        return f"支払 {self.claim_month} {self.total_yen}円"


class ClinicClaim(models.Model):
    """A clinic's claim for one claim month (委託料請求), built from the dose records of that 請求月.

    ``seq`` is 1 for the month's claim and 2, 3, … for supplementary claims of doses that arrived after
    the month's claim was approved. A draft is rebuilt on every run; an approved claim never changes.
    """

    municipality = models.CharField(max_length=6)
    claim_no = models.CharField(max_length=12)
    claim_month = models.CharField(max_length=6)
    clinic_code = models.CharField(max_length=10)
    seq = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=10, choices=ClaimState.choices, default=ClaimState.DRAFT)
    included = models.PositiveIntegerField(default=0)
    excluded = models.PositiveIntegerField(default=0)
    total_yen = models.PositiveBigIntegerField(default=0)
    built_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    built_at = models.DateTimeField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    payment_run = models.ForeignKey(PaymentRun, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="claims")

    class Meta:
        db_table = "fees_clinic_claim"
        constraints = [
            models.UniqueConstraint(fields=["municipality", "claim_no"], name="fees_claim_no_uniq"),
            models.UniqueConstraint(fields=["municipality", "claim_month", "clinic_code", "seq"],
                                    name="fees_claim_month_uniq"),
        ]

    def __str__(self) -> str:
        return f"請求 {self.claim_no} ({self.state})"


class ClaimLine(models.Model):
    """One dose of a claim: paid (``included``, with its amount) or excluded with its ``reason``.

    A dose is included in at most one claim (partial unique index): nothing is paid twice.
    """

    claim = models.ForeignKey(ClinicClaim, on_delete=models.CASCADE, related_name="lines")
    dose_id = models.BigIntegerField()
    atena_no = models.CharField(max_length=15)
    vaccine = models.CharField(max_length=16)
    dose_date = models.DateField()
    dose_number = models.SmallIntegerField(null=True, blank=True)
    screening_only = models.BooleanField(default=False)
    included = models.BooleanField()
    reason = models.CharField(max_length=24, blank=True)
    amount_yen = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        db_table = "fees_claim_line"
        constraints = [models.UniqueConstraint(fields=["dose_id"], condition=models.Q(included=True),
                                               name="fees_claim_line_paid_once")]
        indexes = [models.Index(fields=["claim", "included"], name="fees_claim_line_claim"),
                   models.Index(fields=["atena_no", "vaccine"], name="fees_claim_line_person"),
                   models.Index(fields=["dose_id"], name="fees_claim_line_dose")]

    def __str__(self) -> str:
        return f"dose {self.dose_id} ({'included' if self.included else self.reason})"
