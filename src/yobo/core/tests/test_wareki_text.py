"""和暦 parsing/formatting and text keys: examples at every era boundary, and round-trip properties."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yobo.core import text
from yobo.core.text import digits, is_katakana, search_key
from yobo.core.wareki import DateFormatError, fiscal_year, parse_date, to_wareki


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和7年9月5日", date(2025, 9, 5)),
        ("R7.9.5", date(2025, 9, 5)),
        ("r07/09/05", date(2025, 9, 5)),
        ("Ｒ７．９．５", date(2025, 9, 5)),
        ("H30.1.2", date(2018, 1, 2)),
        ("S45.11.3", date(1970, 11, 3)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("5070905", date(2025, 9, 5)),
        ("H300102", date(2018, 1, 2)),
        ("2025-09-05", date(2025, 9, 5)),
        ("20250905", date(2025, 9, 5)),
        ("２０２５／９／５", date(2025, 9, 5)),
        ("2025年9月5日", date(2025, 9, 5)),
        # the era in one kanji, or in two with separators, as forms and spreadsheets write it
        ("昭45.11.3", date(1970, 11, 3)),
        ("昭和45.11.3", date(1970, 11, 3)),
        ("平30/1/2", date(2018, 1, 2)),
        ("大14.5.3", date(1925, 5, 3)),
        ("明44-1-1", date(1911, 1, 1)),
        ("昭45年11月3日", date(1970, 11, 3)),
        ("R元.5.1", date(2019, 5, 1)),
        ("令元.5.1", date(2019, 5, 1)),
    ],
)
def test_accepted_forms(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    ["平成31年5月1日", "令和元年4月30日", "昭和64年1月8日", "H31.5.1", "R7.2.30", "2025-02-29", "", "昨日", "R0.1.1",
     "6070905", "平31.5.1", "昭和64.1.8", "元.5.1", "令和.5.1", "昭45.13.1"],
)
def test_rejected_forms(text):
    with pytest.raises(DateFormatError):
        parse_date(text)


def test_era_boundaries_format():
    assert to_wareki(date(2019, 4, 30)) == "平成31年4月30日"
    assert to_wareki(date(2019, 5, 1)) == "令和元年5月1日"
    assert to_wareki(date(1989, 1, 7), short=True) == "S64.1.7"
    assert to_wareki(date(1989, 1, 8), short=True) == "H1.1.8"


@given(st.dates(min_value=date(1868, 10, 23), max_value=date(2099, 12, 31)))
def test_wareki_round_trip(d):
    assert parse_date(to_wareki(d)) == d
    assert parse_date(to_wareki(d, short=True)) == d
    assert parse_date(d.isoformat()) == d


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
def test_fiscal_year_changes_only_on_april_first(d):
    nxt = d + timedelta(days=1)
    if (nxt.month, nxt.day) == (4, 1):
        assert fiscal_year(nxt) == fiscal_year(d) + 1
    else:
        assert fiscal_year(nxt) == fiscal_year(d)


def test_search_key_is_width_and_kana_insensitive():
    assert search_key("ﾔﾏﾀﾞ ﾀﾛｳ") == search_key("やまだ　たろう") == search_key("ヤマダタロウ")
    # name 異体字 fold to the form staff type; a variation selector is a glyph choice, not a character
    assert search_key("髙橋　𠮷子") == search_key("高橋吉子") == search_key("高\U000e0101橋吉子") == "高橋吉子"
    assert search_key("山﨑") == search_key("山嵜") == search_key("山崎")
    assert search_key("渡邉") == search_key("渡邊") == search_key("渡辺")
    assert search_key("齋藤") != search_key("斉藤")  # variants of one character only, not of one reading


_PAIRS = [pair for pair in text._NAME_VARIANTS.split()]
_NAME_CHARS = st.sampled_from([*"山田川本中村小林佐藤鈴木太郎花子　 ", *(p[1] for p in _PAIRS)])


@given(st.lists(_NAME_CHARS, min_size=1, max_size=12), st.data())
def test_a_name_spelt_with_variants_or_selectors_keeps_its_key(chars, data):
    """Any common-form name, with some kanji written as a variant and some followed by a variation
    selector, has the key of the common form: what staff type finds what the register wrote."""
    common = "".join(chars)
    variant_of = {p[1]: [q[0] for q in _PAIRS if q[1] == p[1]] for p in _PAIRS}
    spelt = bare = ""
    for c in common:
        written = data.draw(st.sampled_from(variant_of[c])) if c in variant_of and data.draw(st.booleans()) else c
        bare += written
        if written.strip() and data.draw(st.booleans()):
            written += chr(data.draw(st.sampled_from([0xFE00, 0xE0100, 0xE0101, 0xE01EF])))
        spelt += written
    assert search_key(spelt) == search_key(common)
    assert text.without_variation_selectors(spelt) == bare  # what print draws: the glyphs, no selector


def test_digits_and_katakana():
    assert digits("０４５－６７１－２１２１") == "0456712121"
    assert is_katakana("ﾔﾏﾀﾞ ﾀﾛｳ") and is_katakana("ヤマダ・タロウ")
    assert not is_katakana("山田") and not is_katakana("   ")


@given(st.text(alphabet=st.characters(min_codepoint=0x30A1, max_codepoint=0x30F6), min_size=1, max_size=10))
def test_search_key_hiragana_katakana_equal(kata):
    hira = "".join(chr(ord(c) - 0x60) if 0x30A1 <= ord(c) <= 0x30F6 else c for c in kata)
    assert search_key(hira) == search_key(kata)
