"""Internals shared by the vault's services and selectors: the key ring, the municipality, the
integrated address number (団体内統合宛名番号) and input checks. Not an interface for other apps."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connection

from yobo.core.errors import InputRejected

from . import checkdigit, keys
from .keys import Keyring, KeyRingError
from .models import IntegratedNumberCounter, MyNumberLink

RESOURCE = "mynumber.link"
SEARCH_RESOURCE = "mynumber.search"
VERIFICATION_RESOURCE = "mynumber.verification"
KEYS_RESOURCE = "mynumber.keys"

SERIAL_DIGITS = 8
_ATENA = re.compile(r"[0-9]{1,15}")


class NotRegistered(InputRejected):
    """No My Number is linked to this 宛名番号 (未登録)."""

    def __init__(self, atena_no: str) -> None:
        self.atena_no = atena_no
        super().__init__(
            f"宛名番号 {atena_no} には個人番号が登録されていません。宛名番号を確認してください。"
            f" / No My Number is registered for 宛名番号 {atena_no}."
        )


class NumberConflict(InputRejected):
    """The number or the 宛名番号 is already linked differently (重複). Never carries the number."""

    def __init__(self, atena_no: str, reason: str, other_atena_no: str = "") -> None:
        self.atena_no, self.reason, self.other_atena_no = atena_no, reason, other_atena_no
        super().__init__(conflict_message(atena_no, reason, other_atena_no))


CONFLICT_REASONS = {
    "number_on_other_atena": "この個人番号は既に別の宛名番号{other}に登録されています。両方の宛名を確認してください。"
    " / This My Number is already linked to another 宛名番号{other}.",
    "number_differs": "この宛名番号には別の個人番号が登録されています。番号の変更は番号変更の手続きで行ってください。"
    " / This 宛名番号 already has a different My Number.",
    "number_on_two_atena": "同じ個人番号が取込データ内の複数の宛名番号{other}に付いています。"
    " / The same My Number appears on several 宛名番号{other} in the input.",
    "atena_twice": "同じ宛名番号が異なる個人番号で複数回現れます。"
    " / The 宛名番号 appears twice with different numbers.",
    "invalid_number": "個人番号の桁数または検査用数字が正しくありません。"
    " / The My Number is malformed or its check digit is wrong.",
    "invalid_atena": "宛名番号は15桁以内の数字です。 / 宛名番号 must be up to 15 digits.",
}


def conflict_message(atena_no: str, reason: str, other_atena_no: str = "") -> str:
    other = f" ({other_atena_no})" if other_atena_no else ""
    return f"宛名番号 {atena_no}: " + CONFLICT_REASONS[reason].format(other=other)


def municipality() -> str:
    code = str(settings.MUNICIPALITY_CODE)
    if not re.fullmatch(r"[0-9]{6}", code):
        raise InputRejected("地方公共団体コードの設定が正しくありません (6桁)。 / MUNICIPALITY_CODE must be 6 digits.")
    return code


def atena(atena_no: str | int) -> str:
    a = str(atena_no).strip()
    if not _ATENA.fullmatch(a):
        raise InputRejected("宛名番号は15桁以内の数字です。 / 宛名番号 must be up to 15 digits.")
    return a


def number(value: str) -> str:
    """The normalised number, or InputRejected whose message never contains it."""
    try:
        return checkdigit.parse(str(value))
    except ValueError as exc:
        raise InputRejected(str(exc)) from None


def ring() -> Keyring:
    """The key ring. Created on first use only while the vault is empty; a missing key file in
    front of existing rows is an error, never silently replaced (the rows would be lost)."""
    r = keys.load()
    if r is not None:
        return r
    if MyNumberLink.objects.exists():
        raise KeyRingError(
            f"個人番号の鍵が見つかりません ({keys.key_path()} または {keys.ENV_VAR})。"
            "鍵のバックアップから復元してください。 / The My Number keys are missing; restore them from backup."
        )
    keys.ensure_keys()
    r = keys.load()
    if r is None:  # pragma: no cover - ensure_keys just wrote it
        raise KeyRingError("鍵を作成できませんでした。 / Could not create keys.")
    return r


def format_integrated(municipality_code: str, serial: int) -> str:
    body = f"{municipality_code}{serial:0{SERIAL_DIGITS}d}"
    return body + str(checkdigit.luhn_digit(body))


def is_integrated_no(s: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{15}", s)) and checkdigit.luhn_digit(s[:14]) == int(s[14])


def reserve_integrated(municipality_code: str, count: int) -> list[str]:
    """Reserve ``count`` integrated numbers under the municipality's counter row (locked until the
    caller's transaction ends, so numbers are never handed out twice). One upsert statement: a
    bulk load reserves once per chunk."""
    if count <= 0:
        return []
    table = IntegratedNumberCounter._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (municipality, last) VALUES (%s, %s) ON CONFLICT (municipality) "
            f"DO UPDATE SET last = {table}.last + excluded.last RETURNING last",
            [municipality_code, count],
        )
        last = int(cur.fetchone()[0])
    if last >= 10**SERIAL_DIGITS:  # the caller's transaction rolls back with this error
        raise InputRejected("統合宛名番号の採番範囲を使い切りました。 / Integrated numbers are exhausted.")
    return integrated_range(municipality_code, last - count + 1, count)


_LUHN4: list[int] = []


def integrated_range(municipality_code: str, start: int, count: int) -> list[str]:
    """``format_integrated`` for ``count`` consecutive serials from ``start``, with the Luhn sum
    of the code computed once and that of the serial from two 4-digit table lookups (a bulk load
    numbers hundreds of thousands at a time)."""
    if not _LUHN4:
        # Luhn contribution of 4 digits at positions 0-3 from the right (0 doubled); the serial's
        # upper half sits at positions 4-7, which double alike.
        _LUHN4.extend(10 - checkdigit.luhn_digit(f"{v:04d}") for v in range(10_000))
    head = 10 - checkdigit.luhn_digit(municipality_code + "00000000")
    out = []
    for serial in range(start, start + count):
        hi, lo = divmod(serial, 10_000)
        out.append(f"{municipality_code}{serial:0{SERIAL_DIGITS}d}{(10 - (head + _LUHN4[hi] + _LUHN4[lo]) % 10) % 10}")
    return out
