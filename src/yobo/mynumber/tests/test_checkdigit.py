"""Check digit (検査用数字) properties. Pure: no Django, no database."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yobo.mynumber import checkdigit

elevens = st.text(alphabet="0123456789", min_size=11, max_size=11).filter(lambda s: s != "0" * 11)
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def reference_check_digit(first11: str) -> int:
    """The formula exactly as the ordinance states it, indexed from the right."""
    total = 0
    for n in range(1, 12):
        p = int(first11[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    r = total % 11
    return 0 if r <= 1 else 11 - r


def test_published_example() -> None:
    # The worked example of the ordinance's formula: 1234 5678 901 -> 8.
    assert checkdigit.check_digit("12345678901") == 8
    assert checkdigit.is_valid("123456789018")
    assert not checkdigit.is_valid("123456789017")


@given(elevens)
def test_matches_the_formula(body: str) -> None:
    assert checkdigit.check_digit(body) == reference_check_digit(body)


@given(elevens)
def test_exactly_one_final_digit_is_valid(body: str) -> None:
    assert [d for d in "0123456789" if checkdigit.is_valid(body + d)] == [str(checkdigit.check_digit(body))]


@given(st.integers(min_value=0, max_value=2**32))
def test_generated_numbers_are_valid(seed: int) -> None:
    n = checkdigit.generate(random.Random(seed))
    assert len(n) == 12 and n.isdigit() and checkdigit.is_valid(n)


@given(elevens, st.lists(st.sampled_from([" ", "-", "　", "－", "ー", "‐"]), min_size=0, max_size=3))
def test_full_width_and_separators_accepted(body: str, seps: list[str]) -> None:
    n = body + str(checkdigit.check_digit(body))
    sep = "".join(seps)
    written = (n[:4] + sep + n[4:8] + sep + n[8:]).translate(FULLWIDTH)
    assert checkdigit.normalize(written) == n
    assert checkdigit.is_valid(written)
    assert checkdigit.parse(written) == n


@given(elevens, st.integers(min_value=1, max_value=9))
def test_changing_the_check_digit_invalidates(body: str, delta: int) -> None:
    c = checkdigit.check_digit(body)
    assert not checkdigit.is_valid(body + str((c + delta) % 10))


@given(st.text(max_size=20))
def test_anything_not_twelve_digits_is_invalid(s: str) -> None:
    n = checkdigit.normalize(s)
    if not (len(n) == 12 and n.isascii() and n.isdigit()):
        assert not checkdigit.is_valid(s)


def test_all_zeros_rejected_although_its_check_digit_fits() -> None:
    assert checkdigit.check_digit("0" * 11) == 0
    assert not checkdigit.is_valid("000000000000")
    with pytest.raises(ValueError):
        checkdigit.parse("0000 0000 0000")


def test_non_ascii_digits_rejected() -> None:
    # Arabic-Indic digits are str.isdigit() but not a My Number.
    assert not checkdigit.is_valid("١٢٣٤٥٦٧٨٩٠١٨")


@given(elevens)
def test_parse_errors_never_contain_the_number(body: str) -> None:
    wrong = body + str((checkdigit.check_digit(body) + 1) % 10)
    with pytest.raises(ValueError) as exc:
        checkdigit.parse(wrong)
    assert wrong not in str(exc.value) and body not in str(exc.value)


def test_luhn_known_value() -> None:
    assert checkdigit.luhn_digit("7992739871") == 3


@given(st.text(alphabet="0123456789", min_size=14, max_size=14), st.integers(0, 13), st.integers(1, 9))
def test_luhn_catches_every_single_digit_error(body: str, pos: int, delta: int) -> None:
    full = body + str(checkdigit.luhn_digit(body))
    changed = full[:pos] + str((int(full[pos]) + delta) % 10) + full[pos + 1:]
    assert checkdigit.luhn_digit(changed[:14]) != int(changed[14])
