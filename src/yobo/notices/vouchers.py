"""Voucher numbers (券番号), OCR lines and their QR codes — pure, no Django.

A voucher number is 10 digits: a 9-digit serial allocated per city (never reused) followed by one
check digit computed with the Damm algorithm (H. M. Damm, 2004): a totally anti-symmetric
quasigroup of order 10, so one check digit detects **every single-digit error and every adjacent
transposition**, with no number skipped (modulus 11 needs to skip the serials whose check would be
"10"; modulus 10 with weights 3/1 misses transpositions of digits differing by 5). See
docs/vouchers.md.

The OCR line (CONTRACTS.md §4) is 18 digits: ticket type (1) + dose (1) + municipality code (6,
with its own check digit) + voucher number (10).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The quasigroup table of order 10 used by the Damm algorithm (row = interim digit, column = input
# digit). Its properties (Latin square, zero diagonal, total anti-symmetry) are checked in the tests,
# which is what proves the detection promise above.
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

SERIAL_DIGITS = 9
NUMBER_DIGITS = SERIAL_DIGITS + 1
MAX_SERIAL = 10**SERIAL_DIGITS - 1
OCR_DIGITS = 18

# 券種 (ticket type), the first digit of the OCR line.
TICKET_A = 1  # A類 定期接種 接種券
TICKET_B = 2  # B類 定期接種 接種券 (高齢者)
TICKET_TYPES = {TICKET_A: "A類定期接種", TICKET_B: "B類定期接種"}

_DIGITS = re.compile(r"^[0-9]+$")


class VoucherNumberError(ValueError):
    """A voucher number or OCR line that is malformed or fails its check digit."""


def damm_digit(digits: str) -> int:
    """The Damm check digit of a string of decimal digits."""
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][ord(ch) - 48]
    return interim


def damm_valid(digits: str) -> bool:
    """True when ``digits`` (check digit last) passes the Damm check."""
    return bool(digits) and _DIGITS.match(digits) is not None and damm_digit(digits) == 0


def voucher_number(serial: int) -> str:
    """券番号 for a serial: 9 digits zero-padded + the Damm check digit."""
    if not 1 <= serial <= MAX_SERIAL:
        raise VoucherNumberError(f"券番号の連番が範囲外です / serial out of range: {serial}")
    body = f"{serial:0{SERIAL_DIGITS}d}"
    return body + str(damm_digit(body))


def check_voucher_number(number: str) -> str:
    """The voucher number normalised (full-width digits and spaces/hyphens tolerated), or an error."""
    s = normalise_digits(number)
    if len(s) != NUMBER_DIGITS or not _DIGITS.match(s):
        raise VoucherNumberError("券番号は10桁の数字です / a voucher number is 10 digits")
    if not damm_valid(s):
        raise VoucherNumberError("券番号のチェックデジットが一致しません / voucher number check digit mismatch")
    return s


def normalise_digits(text: str) -> str:
    """Full-width digits to ASCII; spaces and hyphens removed (keyed or scanned input)."""
    import unicodedata

    return re.sub(r"[\s\-‐－ー]", "", unicodedata.normalize("NFKC", text or ""))


@dataclass(frozen=True, slots=True)
class OcrLine:
    """The 18-digit OCR line printed on a voucher (OCR番号)."""

    ticket_type: int
    dose: int
    municipality: str
    number: str

    @property
    def text(self) -> str:
        return f"{self.ticket_type}{self.dose}{self.municipality}{self.number}"

    def spaced(self) -> str:
        """Grouped for the human-readable line under the OCR band: 1 1 141003 0000000019."""
        return f"{self.ticket_type} {self.dose} {self.municipality} {self.number}"


def municipality_check_ok(code: str) -> bool:
    """地方公共団体コード check digit (総務省: modulus 11, weights 6..2 on the first five digits)."""
    if len(code) != 6 or not _DIGITS.match(code):
        return False
    total = sum(int(d) * w for d, w in zip(code[:5], (6, 5, 4, 3, 2), strict=True))
    # "11 から余りを引いた数の下1桁" (remainder 1 gives 0, remainder 0 gives 1).
    return int(code[5]) == (11 - total % 11) % 10


def ocr_line(ticket_type: int, dose: int, municipality: str, number: str) -> OcrLine:
    if ticket_type not in TICKET_TYPES:
        raise VoucherNumberError(f"券種が不明です / unknown ticket type: {ticket_type}")
    if not 1 <= dose <= 9:
        raise VoucherNumberError(f"接種回数は1〜9です / dose must be 1..9: {dose}")
    if len(municipality) != 6 or not _DIGITS.match(municipality):
        raise VoucherNumberError("地方公共団体コードは6桁です / municipality code is 6 digits")
    return OcrLine(ticket_type, dose, municipality, check_voucher_number(number))


def parse_ocr(text: str) -> OcrLine:
    """Read an OCR line back (from a scanner or the QR code), checking the voucher number."""
    s = normalise_digits(text)
    if len(s) != OCR_DIGITS or not _DIGITS.match(s):
        raise VoucherNumberError("OCR番号は18桁の数字です / an OCR line is 18 digits")
    return ocr_line(int(s[0]), int(s[1]), s[2:8], s[8:])
