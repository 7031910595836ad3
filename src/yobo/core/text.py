"""Text normalisation for Japanese names and numbers (全角/半角, かな/カナ).

Names are stored exactly as given; these functions make the *search keys* and clean the digits
that files and staff type in full width.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[\s\u3000]+")
_HIRA_START, _HIRA_END = 0x3041, 0x3096


def hira_to_kata(s: str) -> str:
    return "".join(chr(ord(c) + 0x60) if _HIRA_START <= ord(c) <= _HIRA_END else c for c in s)


def kana_fullwidth(s: str) -> str:
    """A name reading as stored: half-width katakana (ｶﾅ) made full-width (カナ), and each run of
    spaces (either width) one ideographic space, as the register import stores カナ氏名."""
    return "\u3000".join(unicodedata.normalize("NFKC", s).split())


def search_key(s: str) -> str:
    """The key names are matched on: NFKC, hiragana as katakana, no spaces, case-folded.

    ``ﾔﾏﾀﾞ ﾀﾛｳ``, ``やまだ　たろう`` and ``ヤマダタロウ`` share one key.
    """
    return _SPACES.sub("", hira_to_kata(unicodedata.normalize("NFKC", s or ""))).casefold()


def digits(s: str) -> str:
    """Full-width digits to ASCII, hyphens and spaces removed (郵便番号, 電話番号, 番号類)."""
    return re.sub(r"[\s\-‐−ー－]", "", unicodedata.normalize("NFKC", s or ""))


def is_katakana(s: str) -> bool:
    """True when ``s`` (after NFKC) is katakana, the long-vowel mark, middle dot and spaces only."""
    t = unicodedata.normalize("NFKC", s)
    return bool(t.strip()) and all(
        ("\u30a0" <= c <= "\u30ff") or c in " \u3000" for c in t
    )
