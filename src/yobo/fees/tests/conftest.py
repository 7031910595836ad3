"""Fixtures of the fees tests: a small household city and staff for F01/F02."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yobo.core.purposes import Duty, Purpose


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


@pytest.fixture
def city(db: Any) -> dict[str, Any]:
    """Three households: 山田 (2 adults + a child born 2026-02), 佐藤 (1 adult, 1 child), 鈴木 (moved in)."""
    from yobo.people.tests.test_registry_staff import add_person

    return {
        "taro": add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(1985, 4, 1), household="2000000001",
                           relationship="世帯主"),
        "hanako": add_person("1000000002", "山田　花子", "ヤマダ　ハナコ", date(1987, 6, 15), household="2000000001",
                             relationship="妻", sex=2),
        "baby": add_person("1000000003", "山田　葵", "ヤマダ　アオイ", date(2026, 2, 10), household="2000000001",
                           relationship="子", sex=2),
        "sato": add_person("1000000004", "佐藤　一郎", "サトウ　イチロウ", date(1990, 1, 2), household="2000000004",
                           relationship="世帯主"),
        "sato_child": add_person("1000000005", "佐藤　健", "サトウ　ケン", date(2020, 5, 1), household="2000000004",
                                 relationship="子"),
        "suzuki": add_person("1000000006", "鈴木　次郎", "スズキ　ジロウ", date(1950, 3, 3), household="2000000006",
                             relationship="世帯主"),
    }


@pytest.fixture
def f01(make_ctx: Any) -> Any:
    return make_ctx(Purpose.FEE_EXEMPTION, duties=[Duty.PAYMENT])
