"""Voucher numbers: the Damm check digit's promises, OCR lines (property tests, pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yobo.notices import vouchers as v

serials = st.integers(min_value=1, max_value=v.MAX_SERIAL)


def test_table_is_a_totally_antisymmetric_quasigroup() -> None:
    t = v._DAMM
    digits = range(10)
    for i in digits:
        assert sorted(t[i]) == list(digits)  # each row a permutation
        assert sorted(t[r][i] for r in digits) == list(digits)  # each column too (Latin square)
        assert t[i][i] == 0
    # total anti-symmetry: (c*x)*y == (c*y)*x implies x == y — what makes transpositions detectable
    for c in digits:
        for x in digits:
            for y in digits:
                if x != y:
                    assert t[t[c][x]][y] != t[t[c][y]][x]


@given(serials)
def test_number_is_ten_digits_and_valid(serial: int) -> None:
    n = v.voucher_number(serial)
    assert len(n) == 10 and n.isdigit()
    assert v.damm_valid(n)
    assert v.check_voucher_number(n) == n
    assert int(n[:9]) == serial


@given(serials, st.integers(0, 9), st.integers(1, 9))
def test_every_single_digit_error_is_detected(serial: int, pos: int, delta: int) -> None:
    n = v.voucher_number(serial)
    wrong = n[:pos] + str((int(n[pos]) + delta) % 10) + n[pos + 1 :]
    assert not v.damm_valid(wrong)
    with pytest.raises(v.VoucherNumberError):
        v.check_voucher_number(wrong)


@given(serials, st.integers(0, 8))
def test_every_adjacent_transposition_is_detected(serial: int, pos: int) -> None:
    n = v.voucher_number(serial)
    if n[pos] == n[pos + 1]:
        return
    swapped = n[:pos] + n[pos + 1] + n[pos] + n[pos + 2 :]
    assert not v.damm_valid(swapped)


def test_serial_range() -> None:
    with pytest.raises(v.VoucherNumberError):
        v.voucher_number(0)
    with pytest.raises(v.VoucherNumberError):
        v.voucher_number(v.MAX_SERIAL + 1)


@given(serials, st.sampled_from(sorted(v.TICKET_TYPES)), st.integers(1, 9))
def test_ocr_line_round_trip(serial: int, ticket: int, dose: int) -> None:
    line = v.ocr_line(ticket, dose, "141003", v.voucher_number(serial))
    assert len(line.text) == 18 and line.text.isdigit()
    assert v.parse_ocr(line.text) == line
    # keyed with full-width digits and spaces
    wide = line.spaced().translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert v.parse_ocr(wide) == line


def test_ocr_rejects_bad_lines() -> None:
    good = v.ocr_line(1, 2, "141003", v.voucher_number(19)).text
    for bad in (good[:-1], good + "0", good[:8] + str((int(good[8]) + 1) % 10) + good[9:], "x" * 18):
        with pytest.raises(v.VoucherNumberError):
            v.parse_ocr(bad)
    with pytest.raises(v.VoucherNumberError):
        v.ocr_line(7, 1, "141003", v.voucher_number(1))
    with pytest.raises(v.VoucherNumberError):
        v.ocr_line(1, 0, "141003", v.voucher_number(1))


def test_municipality_check_digit() -> None:
    assert v.municipality_check_ok("141003")  # 横浜市
    assert v.municipality_check_ok("131016")  # 千代田区
    assert not v.municipality_check_ok("141004")
