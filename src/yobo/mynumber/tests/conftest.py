"""Fixtures for the vault's tests: a private key directory per test, synthetic numbers."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from yobo.mynumber import checkdigit


@pytest.fixture(autouse=True)
def _private_keys(key_dir: Path) -> Path:
    """Every vault test gets its own key directory (the root ``key_dir``)."""
    return key_dir


@pytest.fixture
def numbers() -> Callable[[int], list[str]]:
    """Distinct generated My Numbers (valid check digits, never realistic constants)."""

    def make(count: int, seed: int = 7) -> list[str]:
        rng = random.Random(seed)
        out: dict[str, None] = {}
        while len(out) < count:
            out[checkdigit.generate(rng)] = None
        return list(out)

    return make
