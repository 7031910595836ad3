"""地方公共団体コード (local government code): 5 digits and a check digit.

The check digit (検査数字) rule of the 総務省 code: multiply the five digits by 6, 5, 4, 3, 2, sum,
take the remainder modulo 11, subtract it from 11, and keep the last digit of the result
(so a remainder of 1 gives 0 and a remainder of 0 gives 1). 14100 -> 141003 (Yokohama).
"""

from __future__ import annotations

_WEIGHTS = (6, 5, 4, 3, 2)


def check_digit(five: str) -> int:
    if len(five) != 5 or not five.isascii() or not five.isdigit():
        raise ValueError("five ASCII digits expected")
    s = sum(int(c) * w for c, w in zip(five, _WEIGHTS, strict=True))
    return (11 - s % 11) % 10


def is_valid(code: str) -> bool:
    """True for a 6-digit code whose last digit is the check digit of the first five."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return False
    return check_digit(code[:5]) == int(code[5])
