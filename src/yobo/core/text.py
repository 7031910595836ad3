"""Text normalisation for Japanese names and numbers (全角/半角, かな/カナ).

Names are stored exactly as given; these functions make the *search keys* and clean the digits
that files and staff type in full width.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[\s\u3000]+")
_HIRA_START, _HIRA_END = 0x3041, 0x3096

# Name kanji in their 旧字体/異体字 forms, and the form staff type (常用・人名用漢字): 髙橋 and 高橋,
# 山﨑 and 山崎, 渡邉 and 渡辺 are one key, so a search finds both while the name stays as given. Only
# variants of one character (the 常用漢字表's 康熙字典体, and the variants common in surnames); not
# characters that merely share a reading (斎/斉 stay apart). NFKC has already folded the compatibility
# ideographs that decompose (塚, 福 …); 﨑 (U+FA11) is a unified ideograph and does not.
_NAME_VARIANTS = (
    "髙高 﨑崎 嵜崎 濵浜 濱浜 邊辺 邉辺 齋斎 齊斉 澤沢 嶋島 嶌島 櫻桜 廣広 國国 眞真 德徳 瀨瀬 槗橋 冨富 曾曽 龍竜"
    " 榮栄 惠恵 壽寿 實実 藏蔵 莊荘 淺浅 條条 靜静 豐豊 禮礼 彌弥 萬万 滿満 傳伝 學学 與与 譽誉 來来 賴頼 綠緑"
    " 鐵鉄 團団 當当 緖緒 巖巌 穗穂 峯峰 桒桑 舘館 劍剣 縣県 黑黒 晉晋 瀧滝 黃黄 戶戸 步歩 淸清 靑青 圓円 應応"
    " 渕淵 渊淵 𠮷吉 𡈽土"
)
# Variation selectors (IVS/SVS, as in 葛󠄀) choose a glyph of the character before them: dropped
# from the key, so the base character typed finds the name.
_SELECTORS: dict[int, None] = dict.fromkeys([*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])
_KEY_TABLE: dict[int, int | None] = {**{ord(pair[0]): ord(pair[1]) for pair in _NAME_VARIANTS.split()},
                                     **_SELECTORS}


def without_variation_selectors(s: str) -> str:
    """``s`` with its variation selectors dropped: the base character alone (葛󠄀 → 葛), as print
    shows a name when it cannot choose the glyph."""
    return s.translate(_SELECTORS)


def hira_to_kata(s: str) -> str:
    return "".join(chr(ord(c) + 0x60) if _HIRA_START <= ord(c) <= _HIRA_END else c for c in s)


def kana_fullwidth(s: str) -> str:
    """A name reading as stored: half-width katakana (ｶﾅ) made full-width (カナ), and each run of
    spaces (either width) one ideographic space, as the register import stores カナ氏名."""
    return "\u3000".join(unicodedata.normalize("NFKC", s).split())


def search_key(s: str) -> str:
    """The key names are matched on: NFKC, hiragana as katakana, no spaces, case-folded, name
    異体字 as their common form, variation selectors dropped.

    ``ﾔﾏﾀﾞ ﾀﾛｳ``, ``やまだ　たろう`` and ``ヤマダタロウ`` share one key; so do ``髙橋``, ``高橋``
    and ``高󠄁橋`` (with a variation selector). Changing what the key folds needs the stored keys
    recomputed (a migration, as ``people.0010``).
    """
    return _SPACES.sub("", hira_to_kata(unicodedata.normalize("NFKC", s or "")).translate(_KEY_TABLE)).casefold()


def digits(s: str) -> str:
    """Full-width digits to ASCII, hyphens and spaces removed (郵便番号, 電話番号, 番号類)."""
    return re.sub(r"[\s\-‐−ー－]", "", unicodedata.normalize("NFKC", s or ""))


def is_katakana(s: str) -> bool:
    """True when ``s`` (after NFKC) is katakana, the long-vowel mark, middle dot and spaces only."""
    t = unicodedata.normalize("NFKC", s)
    return bool(t.strip()) and all(
        ("\u30a0" <= c <= "\u30ff") or c in " \u3000" for c in t
    )


# --- addresses (住所の表記ゆれ) ---------------------------------------------------------------------

_PREFECTURE_NAMES = (
    "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 新潟県 富山県"
    " 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 大阪府 兵庫県 奈良県 和歌山県 鳥取県 島根県"
    " 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 鹿児島県 沖縄県"
)
_PREFECTURE_SET = frozenset(_PREFECTURE_NAMES.split())
_PREFECTURE_LENGTHS = sorted({len(p) for p in _PREFECTURE_SET}, reverse=True)
_KANJI_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")}
_KANJI_POWER = {"十": 10, "百": 100, "千": 1000}
# A number in kanji only where it counts a block (一丁目, 二十三番地, 北一条): 三田, 九段, 八王子 stay.
_KANJI_NUMBER = re.compile(r"[〇一二三四五六七八九十百千]+(?=丁目|番|号|条)")
# What separates the numbers of an address once they are digits: 丁目・番地・番・号, の (ノ once
# hiragana is katakana) and every dash staff or forms use, the long-vowel mark typed for one included.
_NUMBER_UNIT = re.compile(r"(?<=\d)(?:丁目|番地ノ?|番ノ?|号ノ?|ノ|[-‐‑‒–—―−ー])+")
# One table, one pass: hiragana as katakana; ヶ/ヵ/ガ (が too) as ケ — 霞が関, 霞ヶ関 and 霞ケ関
# are one place; a small ッ as ツ (三ッ沢, 三ツ沢); 之 as ノ (二之宮, 二の宮); and the name 異体字.
_ADDRESS_TABLE: dict[int, int | None] = {
    **{c: c + 0x60 for c in range(_HIRA_START, _HIRA_END + 1)}, **_KEY_TABLE,
    **dict.fromkeys(map(ord, "ヶヵガが"), ord("ケ")), **dict.fromkeys(map(ord, "ッっ"), ord("ツ")),
    ord("之"): ord("ノ"),
}

_ADDRESS_FOLDS = frozenset(map(chr, _ADDRESS_TABLE))


def _kanji_number(m: re.Match[str]) -> str:
    s = m.group(0)
    if not any(c in _KANJI_POWER for c in s):
        return "".join(str(_KANJI_DIGIT[c]) for c in s)  # 一〇二 → 102
    total, digit = 0, 0
    for c in s:
        if c in _KANJI_POWER:
            total += (digit or 1) * _KANJI_POWER[c]  # 十 = 10, 二十 = 20
            digit = 0
        else:
            digit = _KANJI_DIGIT[c]
    return str(total + digit)


_KANJI_DIGITS = frozenset("〇一二三四五六七八九十百千")
_FIRST_DIGIT = re.compile(r"[0-9]")
_LAST_NUMBER = re.compile(r"[0-9]+(?!.*[0-9])")
_DIGIT_SPACE = re.compile(r"(?<=[0-9])\s+(?=[0-9])")
_PARTS: dict[str, str] = {}  # the keys of addresses' halves (see _address_part)
_PARTS_LIMIT = 200_000


def _fold(t: str, *, head: bool) -> str:
    """The key of ``t`` (already NFKC); ``head``: the start of an address (a prefecture is dropped)."""
    if not _ADDRESS_FOLDS.isdisjoint(t):  # most addresses are kanji and digits: no per-character pass
        t = t.translate(_ADDRESS_TABLE)
    if " " in t:  # NFKC has made the ideographic space an ASCII one
        t = "".join(_DIGIT_SPACE.sub("-", t).split())  # 1-2-3 101: a space between numbers parts them
    if head:
        for n in _PREFECTURE_LENGTHS:
            if t[:n] in _PREFECTURE_SET:
                t = t[n:]
                break
    if "大字" in t:
        t = t.replace("大字", "")
    if not _KANJI_DIGITS.isdisjoint(t):
        t = _KANJI_NUMBER.sub(_kanji_number, t)
    return _NUMBER_UNIT.sub("-", t).casefold()


def _address_part(s: str) -> str:
    # Split at the first digit, and each half's key kept: the head (prefecture, city, 町名, 丁目 in
    # kanji) is shared by every household of a block, the rest (12番5号, 305) by many blocks, so
    # the register import folds few of a million addresses (and, per row, only looks up). Neither
    # half's folding reaches into the other: the rest starts with a digit, and no digit precedes
    # it. (A head holds no digit and a rest starts with one, so one dict keeps both.)
    t = unicodedata.normalize("NFKC", s)
    m = _FIRST_DIGIT.search(t)
    if m is None:
        return _PARTS.get(t) or _part_key(t, head=True)
    i = m.start()
    if not i:
        return _PARTS.get(t) or _part_key(t, head=False)
    head, rest = t[:i], t[i:]
    return (_PARTS.get(head) or _part_key(head, head=True)) + (_PARTS.get(rest) or _part_key(rest, head=False))


def _part_key(t: str, *, head: bool) -> str:
    key = _fold(t, head=head)
    if len(_PARTS) >= _PARTS_LIMIT:
        _PARTS.clear()
    _PARTS[t] = key
    return key


def address_key(address: str, extra: str = "") -> str:
    """The key addresses are matched on (住所の検索キー): the address and its 方書 written one way.

    The register writes 神奈川県横浜市中区本町一丁目2番3号; the person at the counter, or the form,
    本町1-2-3, 本町１丁目２－３ or 本町1丁目2番地の3. All become 中区本町1-2-3-…: NFKC (widths),
    no spaces, no leading prefecture and no 大字, a block's kanji number as digits (一丁目 → 1丁目,
    二十三番地 → 23番地; 三田 and 九段 stay), 丁目/番地/番/号/の and any dash after a number as one
    ``-`` (so 1丁目 does not match 12丁目), ヶ/ケ/が as one, ッ/ツ and 之/の as one, name 異体字
    folded (髙田 = 高田) and case folded. The 方書 follows the address, a ``-`` between them when
    both meet in digits; when it ends in a room number, the key also holds the address with the
    room alone (本町1-2-3-101).
    Changing it needs the stored keys recomputed (a migration, as ``people.0011``).
    """
    a = _address_part(address) if address else ""
    if not extra:
        return a
    e = _address_part(extra)
    if not (a and e):
        return a + e
    if a[-1].isdigit() and e[0].isdigit():
        return f"{a}-{e}"
    # Forms write a flat's room after the block, its building left out (本町1-2-3-101): the key
    # holds that form too, after a space (no typed key holds one: spaces are dropped).
    room = _LAST_NUMBER.search(e)
    if room is None or room.start() == 0:
        return a + e
    return f"{a}{e} {a}{'' if a[-1] == '-' else '-'}{e[room.start():]}"
