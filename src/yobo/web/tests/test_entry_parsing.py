"""What staff key at the entry screen: dates in Western and 和暦 short forms (with the current era
implied), and the number at the top of the form (宛名番号, 券番号, OCR line). Property tests."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yobo.core.wareki import DateFormatError, to_wareki
from yobo.notices.vouchers import damm_valid, voucher_number
from yobo.web.entry_views import BadKey, age_text, parse_entry_date, parse_key

TODAY = date(2026, 11, 23)  # 令和8年
REIWA = st.dates(min_value=date(2019, 5, 1), max_value=TODAY)
FULL = str.maketrans("0123456789.-", "０１２３４５６７８９．－")


def _reiwa_year(d: date) -> int:
    return d.year - 2018


@given(REIWA)
def test_every_short_form_reads_the_same_day(d: date) -> None:
    y = _reiwa_year(d)
    forms = [
        f"{y}.{d.month}.{d.day}",  # era implied
        f"{y:02d}{d.month:02d}{d.day:02d}",  # packed, era implied
        f"R{y}.{d.month}.{d.day}", f"r{y}/{d.month}/{d.day}", to_wareki(d), to_wareki(d, short=True),
        d.isoformat(), d.strftime("%Y%m%d"), f"5{y:02d}{d.month:02d}{d.day:02d}",
    ]
    for text in forms:
        assert parse_entry_date(text, TODAY) == d, text
        assert parse_entry_date(text.translate(FULL), TODAY) == d, text  # full-width digits
        assert parse_entry_date(f" {text} ", TODAY) == d


@given(st.dates(min_value=date(1989, 1, 8), max_value=date(2019, 4, 30)))
def test_earlier_eras_need_their_letter(d: date) -> None:
    assert parse_entry_date(to_wareki(d, short=True), TODAY) == d  # H31.4.30 etc.


@given(st.integers(1, 99), st.integers(1, 12), st.integers(1, 31))
def test_era_implied_forms_never_leave_the_current_era(y: int, m: int, day: int) -> None:
    try:
        d = parse_entry_date(f"{y}.{m}.{day}", TODAY)
    except DateFormatError as exc:
        assert "/" in str(exc)  # bilingual message, no traceback-style text
        return
    assert d >= date(2019, 5, 1) and (d.year, d.month, d.day) == (2018 + y, m, day)


@pytest.mark.parametrize("text", ["", "7.2.30", "R1.4.30", "0702", "7.9", "abc", "2025-13-01", "1234567"])
def test_bad_dates_are_refused(text: str) -> None:
    with pytest.raises(DateFormatError):
        parse_entry_date(text, TODAY)


@given(st.integers(1, 10**9 - 1))
def test_voucher_forms(serial: int) -> None:
    n = voucher_number(serial)
    assert parse_key(f"K{n}") == parse_key(f"券{n}") == parse_key(f"k {n[:5]}-{n[5:]}")
    assert parse_key(f"K{n}").kind == "voucher" and parse_key(f"K{n}").value == n
    ocr = parse_key(f"11141003{n}")
    assert (ocr.kind, ocr.value) == ("voucher", n)
    bare = parse_key(n)  # a bare 10-digit number: a 宛名番号 first, then maybe a voucher
    assert bare.kind == "atena" and bare.maybe_voucher


@given(st.text(alphabet="0123456789", min_size=1, max_size=15))
def test_atena_numbers(digits: str) -> None:
    k = parse_key(digits.translate(FULL))
    assert (k.kind, k.value) == ("atena", digits)
    assert k.maybe_voucher == (len(digits) == 10 and damm_valid(digits))


@pytest.mark.parametrize("text", ["", "12ab", "1" * 16, "K123", "K0000000001"])
def test_bad_keys_are_refused(text: str) -> None:
    with pytest.raises(BadKey) as exc:
        parse_key(text)
    assert "/" in str(exc.value)
    assert unicodedata.normalize("NFKC", text) not in str(exc.value) or not text


def test_age_text() -> None:
    assert age_text(date(2025, 1, 10), date(2026, 11, 23)) == "1歳10か月"
    assert age_text(date(2025, 1, 10), date(2025, 3, 9)) == "0歳1か月"
    assert age_text(date(2025, 1, 10), date(2025, 3, 10)) == "0歳2か月"
    assert age_text(date(2025, 1, 10), date(2024, 3, 10)) == ""
