"""Problems found in input files (エラー・警告), shared by every import (residents, doses, ...).

A problem names the file, row and column and says why; it never carries a My Number: every
message is masked when the problem is made, so no caller can forget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ERROR, WARNING = "error", "warning"

# A run of 12 or more digits, possibly split by spaces or hyphens: it could be a My Number.
_LONG_DIGITS = re.compile(r"\d(?:[\s\-‐‑−ー－]?\d){11,}")
MASK = "[伏字/masked]"


def mask_numbers(text: str) -> str:
    """Replace every run of 12+ digits (ASCII or full-width, spaces/hyphens allowed) by a mask."""
    return _LONG_DIGITS.sub(MASK, text)


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a file (エラー/警告). ``row`` is None for file-level problems; the header is row 1."""

    file: str
    row: int | None
    column: str | None
    message: str
    severity: str = ERROR

    def __post_init__(self) -> None:
        # The guarantee lives here so that no caller can forget it.
        object.__setattr__(self, "message", mask_numbers(self.message))
        if self.column is not None:
            object.__setattr__(self, "column", mask_numbers(self.column))

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f": {self.row}行目 (row {self.row})"
        if self.column:
            where += f" 列「{self.column}」"
        tag = "" if self.severity == ERROR else "警告 / warning: "
        return f"{where}: {tag}{self.message}"
