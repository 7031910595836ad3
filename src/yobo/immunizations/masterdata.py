"""Master items as plain values (実施医療機関・ワクチン製品・ロット): the input of ``services.save_masters``.

Pure (no Django), so the demo data and file readers can build them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class ClinicData:
    code: str
    name: str
    name_kana: str = ""
    postal_code: str = ""
    address: str = ""
    phone: str = ""
    medical_association: str = ""
    contracted_from: date | None = None
    contracted_until: date | None = None


@dataclass(frozen=True, slots=True)
class ProductData:
    code: str
    name: str
    vaccines: tuple[str, ...]
    manufacturer: str
    schedule_product: str = ""
    standard_amount_ml: str = ""


@dataclass(frozen=True, slots=True)
class LotData:
    product_code: str
    lot_number: str
    expiry: date | None = None
