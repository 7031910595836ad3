"""The address search key (住所の表記ゆれ): what staff and forms type finds what the register wrote,
and a block number never finds another block."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yobo.core.text import address_key

REGISTER = "神奈川県横浜市中区本町一丁目2番3号"


@pytest.mark.parametrize("typed", [
    "本町1-2-3", "本町１－２－３", "本町1丁目2番3号", "本町一丁目２番３号", "本町１丁目２番地の３", "本町1ー2ー3",
    "中区本町1−2−3", "横浜市中区本町1-2", "神奈川県横浜市中区本町一丁目", "本町 1丁目 2番", "本町1丁目", "2番3号",
])
def test_what_staff_type_finds_the_register_address(typed: str) -> None:
    assert address_key(typed) in address_key(REGISTER)


@pytest.mark.parametrize(("typed", "stored"), [
    ("本町1丁目", "横浜市中区本町十一丁目2番3号"),  # 11丁目 is another block
    ("本町1丁目", "横浜市中区本町12丁目2番3号"),
    ("本町2-3", "横浜市中区本町1丁目2番3号"),  # 2丁目3番 is not 1丁目2番3号
    ("本町1-2-3号", "横浜市中区本町1丁目2番34号"),  # (本町1-2-3 finds both: a search as one types)
    ("本郷1234番地", "本郷12345番地"),
    ("三田", "港区3田"),  # a kanji number in a place name stays a kanji
])
def test_another_block_is_not_found(typed: str, stored: str) -> None:
    assert address_key(typed) not in address_key(stored)


@pytest.mark.parametrize(("a", "b"), [
    ("霞が関三丁目", "霞ヶ関3丁目"),
    ("霞ケ関3丁目", "霞ヵ関三丁目"),
    ("つつじが丘1番地", "ツツジヶ丘１番地"),
    ("丸の内2丁目", "丸ノ内二丁目"),
    ("三ッ沢上町", "三ツ沢上町"),
    ("二之宮1番地の2", "二の宮1-2"),
    ("髙田町5番地", "高田町5番地"),  # name 異体字 fold here too
    ("大字本郷1234番地の5", "本郷1234-5"),
    ("北海道札幌市中央区北一条西二丁目", "札幌市中央区北1条西2丁目"),
    ("ＡＢＣハイツ", "abcハイツ"),
    ("本町1番地の3", "本町1番の3"),
])
def test_ways_of_writing_one_address_share_a_key(a: str, b: str) -> None:
    assert address_key(a) == address_key(b)


@pytest.mark.parametrize(("kanji", "n"), [
    ("一", 1), ("九", 9), ("十", 10), ("十一", 11), ("二十", 20), ("二十三", 23), ("百", 100), ("百二", 102),
    ("三百十五", 315), ("千", 1000), ("三千二百一", 3201), ("一〇二", 102), ("二〇", 20),
])
def test_kanji_block_numbers_are_read_as_numbers(kanji: str, n: int) -> None:
    assert address_key(f"本郷{kanji}番地") == f"本郷{n}-"


def test_the_building_follows_the_address() -> None:
    key = address_key("横浜市中区本町一丁目2番3号", "コーポ本町　１０１号室")
    assert "本町1-2-3-コーポ本町101" in key and address_key("101号室") in key
    # the room after the block, the building left out, as forms write it
    for typed in ("本町1-2-3-101", "本町1丁目2番3号101号室", "本町1-2-3 101", "3号コーポ本町"):
        assert address_key(typed) in key, typed
    assert address_key("本町1-2-3-102") not in key
    # two numbers meeting at the join are kept apart: 番地 1234 and room 5 are not 12345
    assert address_key("本郷1234番地", "5") == "本郷1234-5"
    assert address_key("本郷1234", "5") == "本郷1234-5"


_KANJI = "〇一二三四五六七八九"


def _kanji(n: int) -> str:
    """``n`` (1–99) as an address writes it in kanji: 十, 二十三."""
    tens, ones = divmod(n, 10)
    return (("" if tens < 2 else _KANJI[tens]) + "十" if tens else "") + (_KANJI[ones] if ones else "")


def _wide(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in s)


@given(
    chome=st.integers(1, 99), ban=st.integers(1, 999), go=st.integers(1, 99),
    chome_kanji=st.booleans(), wide=st.booleans(), prefecture=st.booleans(), space=st.booleans(),
    ban_unit=st.sampled_from(["番", "番地", "-", "－", "ー", "−", "の"]),
    go_unit=st.sampled_from(["号", "", "-"]),
)
def test_any_writing_of_a_block_finds_it_and_no_other(chome: int, ban: int, go: int, chome_kanji: bool, wide: bool,
                                                       prefecture: bool, space: bool, ban_unit: str,
                                                       go_unit: str) -> None:
    stored = address_key(f"神奈川県横浜市港北区日吉本町{_kanji(chome)}丁目{ban}番{go}号")
    c = _kanji(chome) if chome_kanji else str(chome)
    numbers = f"{ban}{ban_unit}{go}{go_unit}"
    numbers = _wide(numbers) if wide else numbers
    typed = f"{'神奈川県' if prefecture else ''}日吉本町{' ' if space else ''}{c}丁目{numbers}"
    assert address_key(typed) in stored
    # the same writing of the next 丁目, 番 or 号 is not this block (号 only when a unit ends it)
    for other in (f"日吉本町{chome + 1}丁目{ban}番{go}号", f"日吉本町{chome}丁目{ban + 1}番{go}号"):
        assert address_key(typed) not in address_key(other)
    if go_unit:
        assert address_key(typed) not in address_key(f"日吉本町{chome}丁目{ban}番{go * 10 + 1}号")


@given(st.text(max_size=40), st.text(max_size=20))
def test_the_key_is_stable_and_bounded(address: str, extra: str) -> None:
    key = address_key(address, extra)
    assert key == address_key(address, extra)
    # NFKC may expand a character (㍿ → 株式会社), a kanji number may grow (十 → 10), and a room
    # number adds a second form of the address
    assert len(key) <= 2 * 18 * (len(address) + len(extra)) + 2
    assert address_key(address) in key or not address_key(address)
