"""Shared helpers of the governance commands."""

from __future__ import annotations

import argparse
from datetime import date

from django.core.management.base import CommandParser

from yobo.core.errors import InputRejected


def day(s: str | None) -> date | None:
    if not s:
        return None
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise InputRejected(f"日付は YYYY-MM-DD で入力してください: {s} / Date must be YYYY-MM-DD.") from None


def common(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for p in sub.choices.values():
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力 / print JSON")
        p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")


__all__ = ["CommandParser", "common", "day"]
