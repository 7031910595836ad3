"""The cyclic garbage collector paused while a batch builds many objects (pure).

A million-row import allocates millions of small acyclic objects (cells, ``DoseInput`` values,
rows for the database). Each allocation burst triggers collections that walk every live object,
and the import's own objects make the heap ever larger: on a 1,000,000-row clinic file the
collector took about as long as parsing itself. Nothing these loops build is cyclic, so reference
counting frees it all; the collector is switched back on (if it was on) as soon as the loop ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def paused() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def each_paused(items: Iterable[T]) -> Iterator[T]:
    """Iterate ``items`` with the collector paused while each next item is produced, never while
    the caller handles it (the caller's code runs with the collector as it was)."""
    it = iter(items)
    while True:
        with paused():
            try:
                item = next(it)
            except StopIteration:
                return
        yield item
