"""VRS matching (VRSデータとの照合): a match run and its error-list lines (エラーデータ一覧).

Imported from ``models.py`` (one line) so the app has one model module for Django; reached only
through ``matching.py`` (services and selectors of the match). See docs/decisions/070.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LineKind(models.TextChoices):
    """エラーの種類."""

    MISSING_IN_LEDGER = "missing_in_ledger", "台帳に記録なし"
    MISSING_IN_VRS = "missing_in_vrs", "VRSに記録なし"
    CONFLICT = "conflict", "内容の不一致"
    UNKNOWN_PERSON = "unknown_person", "宛名番号が台帳にない"


class Resolution(models.TextChoices):
    """解消の方法."""

    OPEN = "", "未処理"
    ACCEPT_VRS = "accept_vrs", "VRSを採用"
    KEEP_LEDGER = "keep_ledger", "台帳のまま"
    CORRECT = "correct", "訂正して登録"


class VrsMatchRun(models.Model):
    """One ``yobo vrs match`` run over one VRS file, with the counts of CONTRACTS.md §5."""

    municipality = models.CharField(max_length=6)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    vaccine = models.CharField(max_length=12)
    full = models.BooleanField(default=False)  # whole-city file: ledger doses of anyone absent are listed
    run_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    terminal = models.CharField(max_length=64)
    request_id = models.CharField(max_length=64)
    run_at = models.DateTimeField()
    vrs_doses = models.IntegerField(default=0)
    matched = models.IntegerField(default=0)
    missing_in_ledger = models.IntegerField(default=0)
    missing_in_vrs = models.IntegerField(default=0)
    conflicts = models.IntegerField(default=0)
    unknown_person = models.IntegerField(default=0)

    class Meta:
        db_table = "imm_vrs_run"
        indexes = [models.Index(fields=["municipality", "-run_at"], name="imm_vrs_run_recent")]

    def __str__(self) -> str:
        return f"vrs match {self.pk} {self.file_name}"

    def counts(self) -> dict[str, int]:
        return {"matched": self.matched, "missing_in_ledger": self.missing_in_ledger,
                "missing_in_vrs": self.missing_in_vrs, "conflicts": self.conflicts,
                "unknown_person": self.unknown_person}


class VrsMatchLine(models.Model):
    """One line of the error list: the VRS side, the ledger side, and how staff resolved it."""

    run = models.ForeignKey(VrsMatchRun, on_delete=models.PROTECT, related_name="lines")
    municipality = models.CharField(max_length=6)
    atena_no = models.CharField(max_length=15)
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    detail = models.CharField(max_length=40, blank=True)  # conflicting items: "date,lot,dose"
    src_row = models.IntegerField(null=True, blank=True)  # row of the VRS file (header = 1)
    dose_number = models.SmallIntegerField(null=True, blank=True)  # n of "n回目"
    vrs_date = models.DateField(null=True, blank=True)
    vrs_lot = models.CharField(max_length=40, blank=True)
    vrs_voucher = models.CharField(max_length=10, blank=True)
    vrs_municipality = models.CharField(max_length=6, blank=True)
    vrs_venue = models.CharField(max_length=200, blank=True)
    vrs_doctor = models.CharField(max_length=100, blank=True)
    vrs_maker = models.CharField(max_length=100, blank=True)
    vrs_registered = models.CharField(max_length=14, blank=True)  # YYYYMMDDHHMMSS as VRS gives it
    ledger_dose_id = models.BigIntegerField(null=True, blank=True)
    ledger_date = models.DateField(null=True, blank=True)
    ledger_lot = models.CharField(max_length=40, blank=True)
    ledger_dose_number = models.SmallIntegerField(null=True, blank=True)
    resolution = models.CharField(max_length=12, choices=Resolution.choices, default=Resolution.OPEN, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    result_dose_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "imm_vrs_line"
        indexes = [
            models.Index(fields=["run", "resolution", "id"], name="imm_vrs_line_open"),
            models.Index(fields=["municipality", "atena_no"], name="imm_vrs_line_person"),
        ]

    def __str__(self) -> str:
        return f"vrs line {self.pk} {self.kind} {self.atena_no}"
