"""Item sets answered or consumed by apps above the exchange (decision 083).

The exchange sits below ``fees`` and ``relief`` in the layers, so it cannot import them. An app that
holds the information of an item set (e.g. ``fees`` for the resident-tax status, 地方税関係情報)
registers, when Django is ready, a **provider**: a function that answers one person's query through
that app's own selector. An app that asked (e.g. ``fees``' tax query for a moved-in household
member) registers a **consumer**: a function called with the result once it arrived and was stored.
The exchange only calls what is registered; an item set with no provider here is answered
``not_found`` (this city holds nothing of it), never with data from somewhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from yobo.core.context import AccessContext

# (ctx under X02, 宛名番号, query parameters) -> the rows to answer, or None: this city holds nothing.
Provider = Callable[[AccessContext, str, dict[str, Any]], "list[dict[str, object]] | None"]


@dataclass(frozen=True, slots=True)
class Result:
    """A result received for one of this city's queries (passed to the consumer)."""

    query_id: str
    atena_no: str
    provider: str
    item_set: str
    outcome: str  # provided | not_found | withheld
    items: list[dict[str, str]]
    params: dict[str, Any]


Consumer = Callable[[AccessContext, Result], None]

_providers: dict[str, Provider] = {}
_consumers: dict[str, Consumer] = {}


def register_provider(item_set: str, fn: Provider) -> None:
    """``fn`` answers queries for ``item_set`` (called inside the exchange's X02 door work)."""
    _providers[item_set] = fn


def register_consumer(item_set: str, fn: Consumer) -> None:
    """``fn`` takes results of ``item_set`` after they are stored (outside the receive transaction)."""
    _consumers[item_set] = fn


def provider(item_set: str) -> Provider | None:
    return _providers.get(item_set)


def consumer(item_set: str) -> Consumer | None:
    return _consumers.get(item_set)
