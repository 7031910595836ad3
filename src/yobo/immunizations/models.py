"""Models of immunizations; reached only through its services and selectors.

Dose records (接種記録, the items of seed 001 別添2 that apply), the entry batches (束) they were
keyed or imported in, their corrections (訂正・取消: before/after kept, nothing hard-deleted), and
the masters: clinics (実施医療機関), vaccine products (ワクチン製品) and lots (ロット).

Every business key carries the municipality code (no global sequence for a business key). A dose
names its person twice on purpose: ``person_id`` (the integer key of ``people.Person``) makes the
set-based joins of extraction and validation cheap on both databases, ``atena_no`` (宛名番号) is the
key every file, screen and log line speaks. See docs/decisions/060-dose-records.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class DoseState(models.TextChoices):
    """記録の状態. A correction supersedes (訂正前), a cancellation voids (取消); neither deletes."""

    ACTIVE = "active", "有効"
    SUPERSEDED = "superseded", "訂正済み (訂正前の記録)"
    VOID = "void", "取消"


class Category(models.TextChoices):
    """実施区分 (values of ``inputs.Category``)."""

    ROUTINE = "routine", "定期接種"
    VOLUNTARY = "voluntary", "任意接種 (助成)"
    CATCH_UP = "catch_up", "キャッチアップ接種"
    SPECIAL = "special", "長期療養等の特例"


class SourceKind(models.TextChoices):
    """入力経路 (values of ``inputs.Source``)."""

    KEYED = "keyed", "予診票入力"
    CLINIC_CSV = "clinic_csv", "医療機関CSV"
    VRS = "vrs", "VRS"
    HL7 = "hl7", "HL7 VXU"
    API = "api", "API"
    EXCHANGE = "exchange", "情報照会"


class BatchKind(models.TextChoices):
    KEYED = "keyed", "予診票入力 (束)"
    IMPORT = "import", "ファイル取込"


class BatchState(models.TextChoices):
    OPEN = "open", "入力中"
    CLOSED = "closed", "締め済み"
    APPLIED = "applied", "取込済み"
    REJECTED = "rejected", "不受理 (未適用)"


class Clinic(models.Model):
    """実施医療機関 (a clinic contracted for routine vaccinations), keyed by its 10-digit medical
    institution code (都道府県2 + 点数表1 + 医療機関7)."""

    municipality = models.CharField(max_length=6)
    code = models.CharField(max_length=10)
    name = models.CharField(max_length=200)
    name_kana = models.CharField(max_length=200, blank=True)
    postal_code = models.CharField(max_length=7, blank=True)
    address = models.CharField(max_length=300, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    medical_association = models.CharField(max_length=100, blank=True)  # 所属医師会
    contracted_from = models.DateField(null=True, blank=True)  # 委託契約の開始日
    contracted_until = models.DateField(null=True, blank=True)  # 委託契約の終了日 (None: in force)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "imm_clinic"
        constraints = [models.UniqueConstraint(fields=["municipality", "code"], name="imm_clinic_code_uniq")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Product(models.Model):
    """ワクチン製品: a product and the schedule vaccine codes it serves (CONTRACTS.md §2).

    ``vaccines`` is the codes separated by spaces (``"DPT-IPV-HIB"``, ``"MR1 MR2"``), so a product
    check is one string test. ``schedule_product`` is the engine's product code where the schedule
    distinguishes products (ROTA ``RV1``/``RV5``, HPV ``2vHPV``/``4vHPV``/``9vHPV``, HZ ``LZV``/``RZV``).
    """

    municipality = models.CharField(max_length=6)
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    vaccines = models.CharField(max_length=100)
    manufacturer = models.CharField(max_length=100)
    schedule_product = models.CharField(max_length=20, blank=True)
    standard_amount_ml = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        db_table = "imm_product"
        constraints = [models.UniqueConstraint(fields=["municipality", "code"], name="imm_product_code_uniq")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Lot(models.Model):
    """ロット: a lot number of one product with its expiry (有効期限)."""

    municipality = models.CharField(max_length=6)
    product_code = models.CharField(max_length=20)
    lot_number = models.CharField(max_length=30)
    expiry = models.DateField(null=True, blank=True)

    class Meta:
        db_table = "imm_lot"
        constraints = [
            models.UniqueConstraint(fields=["municipality", "lot_number", "product_code"], name="imm_lot_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.product_code} {self.lot_number}"


class EntryBatch(models.Model):
    """束: a unit of forms keyed by one staff member (with the declared and the entered counts, for the
    clinic payment later), or one file import. Counts only; no personal data."""

    municipality = models.CharField(max_length=6)
    kind = models.CharField(max_length=8, choices=BatchKind.choices)
    state = models.CharField(max_length=10, choices=BatchState.choices, default=BatchState.OPEN)
    label = models.CharField(max_length=100, blank=True)  # 束番号・メモ (e.g. 医師会の送付番号)
    clinic_code = models.CharField(max_length=10, blank=True)  # when the forms come from one clinic
    claim_month = models.CharField(max_length=6, blank=True)  # 請求月 YYYYMM
    declared_count = models.IntegerField(null=True, blank=True)  # 枚数 on the bundle's cover sheet
    source = models.CharField(max_length=12, choices=SourceKind.choices, default=SourceKind.KEYED)
    file_name = models.CharField(max_length=255, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    terminal = models.CharField(max_length=64)
    request_id = models.CharField(max_length=64, blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    saved = models.IntegerField(default=0)  # records saved (warnings included)
    with_warnings = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)  # inputs refused (blocking problems)
    unchanged = models.IntegerField(default=0)  # already on record (re-run of the same input)
    summary = models.JSONField(default=dict)  # counts by problem code; no personal data

    class Meta:
        db_table = "imm_batch"
        indexes = [models.Index(fields=["municipality", "opened_at"], name="imm_batch_opened")]

    def __str__(self) -> str:
        return f"束 {self.pk} ({self.state})"


class Dose(models.Model):
    """接種記録: one dose given (or one screening without vaccination, 予診のみ).

    ``problems`` keeps the warnings the record was saved with (``[{"code", "severity", "message"}]``).
    ``state`` is never changed back; a correction creates a new record and points the old one at it.
    """

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)  # 宛名番号
    # Indexed (the FK's own index): per-person subqueries by person_id (statistics, extraction joins).
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+", db_constraint=False)
    vaccine = models.CharField(max_length=12)  # schedule code (CONTRACTS.md §2)
    dose_number = models.SmallIntegerField(null=True, blank=True)  # 接種回数 (期・回), as reported or inferred
    date = models.DateField()  # 接種日
    fiscal_year = models.SmallIntegerField()  # 接種年度
    age_years = models.SmallIntegerField()  # 接種時年齢 (歳)
    age_months = models.SmallIntegerField()  # 接種時月齢 (歳に満たない月数, 0–11)
    age_fy_end = models.SmallIntegerField()  # 年度末年齢
    clinic_code = models.CharField(max_length=10, blank=True)  # 実施医療機関コード
    venue = models.CharField(max_length=200, blank=True)  # 接種会場
    doctor = models.CharField(max_length=100, blank=True)  # 接種医師名
    product_code = models.CharField(max_length=20, blank=True)  # ワクチン製品コード
    manufacturer = models.CharField(max_length=100, blank=True)  # メーカー
    lot_number = models.CharField(max_length=30, blank=True)  # ロット番号
    amount_ml = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)  # 接種量
    category = models.CharField(max_length=10, choices=Category.choices, default=Category.ROUTINE)  # 実施区分
    screening_only = models.BooleanField(default=False)  # 予診のみ
    reason_not_vaccinated = models.CharField(max_length=200, blank=True)  # 接種不可・見合せの理由
    findings = models.CharField(max_length=500, blank=True)  # 予診の所見
    reactions = models.CharField(max_length=500, blank=True)  # 副反応
    claim_month = models.CharField(max_length=6, blank=True)  # 請求月 YYYYMM
    voucher_no = models.CharField(max_length=10, blank=True)  # 券番号
    registered_at = models.DateTimeField(null=True, blank=True)  # VRS 接種履歴登録日時
    source = models.CharField(max_length=12, choices=SourceKind.choices)  # 入力経路
    source_ref = models.CharField(max_length=200, blank=True)  # file:row, HL7 message id, 束:position
    entered_on = models.DateField()  # 入力日
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   db_constraint=False, db_index=False)
    batch = models.ForeignKey(EntryBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              db_constraint=False)
    problems = models.JSONField(default=list, blank=True)  # warnings kept with the record
    has_warnings = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=DoseState.choices, default=DoseState.ACTIVE)
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    db_constraint=False, db_index=False)
    extra = models.JSONField(default=dict, blank=True)  # format-specific items kept as given

    class Meta:
        db_table = "imm_dose"
        constraints = [
            # One active record per person, vaccine and day: a duplicate report is refused, a correction
            # supersedes first. Partial unique index on both SQLite and PostgreSQL.
            models.UniqueConstraint(
                fields=["municipality", "atena_no", "vaccine", "date"],
                condition=Q(state="active"),
                name="imm_dose_active_uniq",
            ),
        ]
        # Few indexes on purpose: every one costs each bulk insert (see docs/decisions/060). The unique
        # index serves history, duplicates and extraction by 宛名番号; ``batch_id`` has its FK index.
        indexes = [
            models.Index(fields=["municipality", "voucher_no"], name="imm_dose_voucher",
                         condition=~Q(voucher_no="")),
        ]

    def __str__(self) -> str:
        return f"dose {self.pk} {self.vaccine} {self.date} ({self.state})"


class CorrectionKind(models.TextChoices):
    CORRECT = "correct", "訂正"
    VOID = "void", "取消"


class DoseCorrection(models.Model):
    """A correction or cancellation of a dose record (訂正・取消の記録): who, when, why, before and after."""

    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    kind = models.CharField(max_length=8, choices=CorrectionKind.choices)
    old = models.ForeignKey(Dose, on_delete=models.PROTECT, related_name="+")
    new = models.ForeignKey(Dose, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        db_table = "imm_correction"
        indexes = [models.Index(fields=["municipality", "atena_no"], name="imm_correction_person")]

    def __str__(self) -> str:
        return f"{self.kind} dose {self.old_id}"


# VRS matching runs and lines live in their own module (owned by the formats/matching work).
from .models_vrs import LineKind, Resolution, VrsMatchLine, VrsMatchRun  # noqa: E402, F401
