"""Item sets the exchange may carry (情報提供ネットワークシステムで照会・提供できる特定個人情報). No Django.

The law (番号法第19条第8号, 主務省令第2条の表) lets a municipality answer another one's
immunization query with the history of vaccinations given: dates, vaccine and dose — no more
(no clinic, doctor, lot, findings, names or addresses). The copy (副本) holds exactly these fields
and the answer builder copies only them, so a wider field can never slip into an answer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ItemSet:
    code: str
    label: str
    fields: tuple[str, ...]


IMMUNIZATION_HISTORY = ItemSet(
    "immunization_history", "予防接種法による予防接種の実施に関する情報 (接種日・ワクチン・回数)",
    ("vaccine", "dose", "date"),
)
# 地方税関係情報 for the fee exemption of 予防接種法 (実費の徴収): the resident tax of one 年度 as the
# municipality of 1 January assessed it — the 年度 and the 課税区分 (1 課税, 2 非課税, 3 未申告), no
# amounts, incomes or other members. Answered by the app registered for it (decision 083: fees).
RESIDENT_TAX = ItemSet(
    "resident_tax_status", "地方税関係情報 (住民税の課税・非課税の別)", ("tax_year", "tax_status"),
)
ITEM_SETS: dict[str, ItemSet] = {s.code: s for s in (IMMUNIZATION_HISTORY, RESIDENT_TAX)}
# The clauses the demo permission list uses; a city's list names its own.
DEFAULT_CLAUSE = "番号法第19条第8号 主務省令第2条の表 25の項"
TAX_CLAUSE = "番号法第19条第8号 主務省令第2条の表 (予防接種法による実費の徴収に関する事務) 地方税関係情報"


def only_allowed(item_set: str, rows: list[dict[str, object]]) -> list[dict[str, str]]:
    """The rows cut down to the item set's fields, as strings (unknown set: ``KeyError``)."""
    fields = ITEM_SETS[item_set].fields
    return [{f: str(r[f]) for f in fields} for r in rows]
