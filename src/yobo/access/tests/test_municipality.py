"""地方公共団体コード check digit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yobo.access.municipality import check_digit, is_valid


@pytest.mark.parametrize("code", ["141003", "131016", "011002", "271004", "401307", "010006"])
def test_published_codes_are_valid(code: str) -> None:
    assert is_valid(code)


@pytest.mark.parametrize("code", ["141004", "14100", "1410030", "14100a", "１４１００３", ""])
def test_bad_codes_are_invalid(code: str) -> None:
    assert not is_valid(code)


@given(st.text(alphabet="0123456789", min_size=5, max_size=5), st.integers(0, 9))
def test_exactly_one_check_digit_fits(five: str, digit: int) -> None:
    assert is_valid(five + str(digit)) == (digit == check_digit(five))
