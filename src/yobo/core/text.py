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
