"""Fixtures for the vault's tests: a private key directory per test, synthetic numbers."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from yobo.mynumber import checkdigit, keys


@pytest.fixture(autouse=True)
def key_dir(settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(keys.ENV_VAR, raising=False)
    settings.KEY_DIR = tmp_path / "keys"
    settings.MUNICIPALITY_CODE = "141003"
    return Path(settings.KEY_DIR)


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
