"""What other apps plug into governance: their record types (保存期間と削除) and their part of a
person's disclosure set (開示). Registered in each app's ``AppConfig.ready()``; governance never
reaches into another app's tables for these — it calls the functions the app registered, which run
through that app's services/selectors (and so its door).

Record type::

    registry.register_record_type(registry.RecordType(
        code="immunizations.dose", label="接種記録", default_years=5, min_years=5,
        basis="予防接種法施行規則 第2条の7 (5年)", action="delete",
        count_due=lambda ctx, cutoff: ...,   # how many records dated before ``cutoff`` (counts only)
        purge=lambda ctx, cutoff: ...,       # delete/anonymise them; returns how many; runs in the door
    ))

Disclosure part::

    registry.register_disclosure(registry.DisclosurePart(
        code="immunizations", label="接種記録", collect=lambda ctx, atena_no: [{...}, ...]))

``collect`` returns JSON-ready rows (str/int/date values) of everything the app holds on the person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from yobo.core.context import AccessContext

ACTIONS = {"delete": "削除", "anonymise": "匿名化", "archive": "退避・削除", "review": "確認のみ (削除しない)"}


@dataclass(frozen=True, slots=True)
class RecordType:
    code: str
    label: str
    default_years: int
    basis: str
    action: str  # delete / anonymise / archive / review
    count_due: Callable[[AccessContext, date], int]
    purge: Callable[[AccessContext, date], int] | None = None  # None: listed for review, never deleted
    min_years: int = 1
    # how many records of the type are held now (PIA report); None: not counted
    count_held: Callable[[AccessContext], int] | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action}")
        if self.action != "review" and self.purge is None:
            raise ValueError(f"{self.code}: action {self.action} needs a purge function")


@dataclass(frozen=True, slots=True)
class DisclosurePart:
    code: str
    label: str
    collect: Callable[[AccessContext, str], list[dict[str, Any]]]
    order: int = 50


_TYPES: dict[str, RecordType] = {}
_PARTS: dict[str, DisclosurePart] = {}


def register_record_type(t: RecordType) -> None:
    _TYPES[t.code] = t


def unregister_record_type(code: str) -> None:
    _TYPES.pop(code, None)


def record_types() -> list[RecordType]:
    return sorted(_TYPES.values(), key=lambda t: t.code)


def record_type(code: str) -> RecordType | None:
    return _TYPES.get(code)


def register_disclosure(p: DisclosurePart) -> None:
    _PARTS[p.code] = p


def unregister_disclosure(code: str) -> None:
    _PARTS.pop(code, None)


def disclosure_parts() -> list[DisclosurePart]:
    return sorted(_PARTS.values(), key=lambda p: (p.order, p.code))
