"""Export kinds (出力の種類): what may be exported at all, with which items, produced by whom.

Apps above ``exports`` register their kinds in ``AppConfig.ready()`` (``notices`` the mailing file,
``immunizations`` the VRS upload, ``governance`` the disclosure set). A request names a registered
kind and a subset of its items; the PIA report lists the kinds, so a new kind is a visible change.

A kind may carry a *producer*: ``producer(ctx, request) -> (header, rows)``, called by
``yobo exports run`` and the staff page to write an approved request without the caller's own
command. ``ctx`` is the operator's context for the request's purpose; the producer reads through
its app's selectors with it (so those reads are logged under that purpose).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from yobo.core.context import AccessContext

Producer = Callable[[AccessContext, Any], tuple[Sequence[str], Iterable[Sequence[object]]]]


@dataclass(frozen=True, slots=True)
class ExportKind:
    code: str
    label: str
    items: tuple[str, ...]
    purposes: frozenset[str]  # the 処理事由 a request of this kind may state
    producer: Producer | None = None
    target_column: str | None = None  # the column holding the 宛名番号 (logged per person)


_KINDS: dict[str, ExportKind] = {}

# Columns that never leave the registry through an export (個人番号): refused at request time.
FORBIDDEN_ITEMS = frozenset({"個人番号", "マイナンバー", "mynumber", "my_number"})


def register(kind: ExportKind) -> None:
    """Register (or replace, for reloads and tests) an export kind."""
    bad = FORBIDDEN_ITEMS & set(kind.items)
    if bad:
        raise ValueError(f"export kind {kind.code}: forbidden items {sorted(bad)}")
    _KINDS[kind.code] = kind


def unregister(code: str) -> None:
    _KINDS.pop(code, None)


def get(code: str) -> ExportKind | None:
    return _KINDS.get(code)


def all_kinds() -> list[ExportKind]:
    return sorted(_KINDS.values(), key=lambda k: k.code)
