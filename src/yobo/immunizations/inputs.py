"""The neutral form of one reported dose (接種記録の入力), whatever path it came by.

Pure (no Django). Every path — the keyed 予診票 screen, the clinic CSV, the VRS CSV, HL7 v2 VXU,
the API — turns its input into ``DoseInput`` values; validation and saving take only these, so the
rules are the same on every path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Source(StrEnum):
    """入力経路: how the record reached the ledger."""

    KEYED = "keyed"  # 予診票の入力画面
    CLINIC_CSV = "clinic_csv"  # 医療機関・医師会のCSV
    VRS = "vrs"  # VRS CSV
    HL7 = "hl7"  # HL7 v2.5.1 VXU
    API = "api"  # REST / FHIR
    EXCHANGE = "exchange"  # 他自治体からの情報照会の結果


class Category(StrEnum):
    """実施区分."""

    ROUTINE = "routine"  # 定期接種
    VOLUNTARY = "voluntary"  # 任意接種 (助成)
    CATCH_UP = "catch_up"  # キャッチアップ接種
    SPECIAL = "special"  # 長期療養等の特例


@dataclass(slots=True)
class DoseInput:
    """One dose as reported (予診票・報告の1件). Strings are normalised by the parser (NFKC, digits).

    ``dose_number`` may be None when the source does not state it (VRS states it by column);
    validation then infers it from the history. ``ref`` says where it came from for messages:
    the file and row, the HL7 message id and segment, or the entry screen's batch and position.
    """

    atena_no: str  # 宛名番号 (VRS: 個別宛名番号)
    vaccine: str  # schedule code (CONTRACTS.md §2), e.g. "MR1"
    date: date  # 接種日
    dose_number: int | None = None  # 接種回数 (期・回)
    clinic_code: str = ""  # 実施医療機関コード (10 digits: 都道府県2 + 点数表1 + 医療機関7)
    venue: str = ""  # 接種会場
    doctor: str = ""  # 接種医師名
    product_code: str = ""  # ワクチン製品コード
    manufacturer: str = ""  # ワクチンメーカー
    lot_number: str = ""  # ロット番号
    amount_ml: str = ""  # 接種量 (mL, decimal as text: "0.5")
    voucher_no: str = ""  # 券番号 (10 digits)
    municipality_code: str = ""  # 接種自治体コード (VRS)
    category: Category = Category.ROUTINE  # 実施区分
    screening_only: bool = False  # 予診のみ (not vaccinated after the screening)
    reason_not_vaccinated: str = ""  # 接種不可・見合せの理由
    findings: str = ""  # 予診の所見
    reactions: str = ""  # 副反応 (where the vaccine has them reported)
    claim_month: str = ""  # 請求月 (YYYYMM)
    registered_at: datetime | None = None  # VRS 接種履歴登録日時
    source: Source = Source.KEYED
    ref: str = ""  # where it came from, for problems and the record's provenance
    extra: dict[str, str] = field(default_factory=dict)  # format-specific items kept as given
