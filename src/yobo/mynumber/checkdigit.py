"""The My Number check digit (個人番号の検査用数字). Pure Python, no Django.

The check digit is defined by 行政手続における特定の個人を識別するための番号の利用等に関する法律施行令
第八条 (and 総務省令第八十五号 第五条): for the first eleven digits, P_n is the n-th digit counting
from the right (n = 1..11) and Q_n = n + 1 for 1 <= n <= 6, n - 5 for 7 <= n <= 11. With
r = (sum of P_n * Q_n) mod 11, the check digit is 0 when r <= 1, else 11 - r.

No function here ever puts a number into an exception message: errors name only what is wrong.
"""

from __future__ import annotations

import operator
import random
import re
import unicodedata

LENGTH = 12

# Characters people type between digit groups: ASCII and Unicode hyphens and dashes, the minus
# sign, the katakana prolonged sound mark an IME produces for "-", and every kind of space.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー－]+")
_DIGITS12 = re.compile(r"[0-9]{12}")


def _weights() -> tuple[int, ...]:
    # Weight of the k-th of the first 11 digits counted from the LEFT (k = 0..10): n = 11 - k.
    return tuple((n + 1) if n <= 6 else (n - 5) for n in range(11, 0, -1))


_W = _weights()
_W_SUM48 = 48 * sum(_W)


def normalize(s: str) -> str:
    """The number with full-width digits made ASCII and spaces/hyphens removed (not validated)."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", s))


def check_digit(first11: str) -> int:
    """The check digit for the first eleven digits (ASCII). ``ValueError`` if not 11 digits."""
    if len(first11) != 11 or not first11.isascii() or not first11.isdigit():
        raise ValueError("11桁の数字が必要です / eleven ASCII digits required")
    return _check(first11.encode("ascii"))


def _check(b: bytes) -> int:
    # 48 is ord("0"); sum(w * (c - 48)) == sum(w * c) - 48 * sum(w).
    r = (sum(map(operator.mul, b[:11], _W)) - _W_SUM48) % 11
    return 0 if r <= 1 else 11 - r


def is_valid(s: str) -> bool:
    """True for a well-formed My Number: 12 digits (after ``normalize``), correct check digit,
    not all zeros."""
    n = s if _DIGITS12.fullmatch(s) else normalize(s)
    if not _DIGITS12.fullmatch(n) or n == "0" * LENGTH:
        return False
    b = n.encode("ascii")
    return _check(b) == b[11] - 48


def parse(s: str) -> str:
    """The normalised 12-digit number, or ``ValueError`` (message without the number)."""
    n = normalize(s)
    if not _DIGITS12.fullmatch(n):
        raise ValueError("個人番号は12桁の数字です / a My Number has 12 digits")
    if not is_valid(n):
        raise ValueError("個人番号の検査用数字が正しくありません / the My Number check digit is wrong")
    return n


def generate(rng: random.Random) -> str:
    """A synthetic number with a valid check digit, for tests and synthetic data only."""
    while True:
        body = "".join(rng.choice("0123456789") for _ in range(11))
        if body != "0" * 11:
            return body + str(check_digit(body))


def luhn_digit(digits: str) -> int:
    """Luhn (mod 10) check digit of an ASCII digit string: the last digit of the integrated
    address number (団体内統合宛名番号); it catches every single-digit error."""
    b = digits.encode("ascii")[::-1]
    total = sum(_LUHN_DOUBLE[c - 48] for c in b[0::2]) + sum(c - 48 for c in b[1::2])
    return (10 - total % 10) % 10


_LUHN_DOUBLE = tuple(d * 2 - 9 if d * 2 > 9 else d * 2 for d in range(10))
