"""Reader and validator of the resident-register extract (住民基本台帳 連携ファイル, CONTRACTS.md §1).

Pure Python, no Django: the import command, the benchmarks and the synthetic city use it.

``read_extract(path)`` detects the encoding (UTF-8 with or without BOM, or CP932 — a strict decode
of the whole file, so a file in neither is refused before any row is used), reads the header, and
returns an :class:`ExtractResult`. Iterating the result streams the valid rows as
:class:`ResidentRecord`; every problem found on the way is appended to ``result.problems`` and
every rejected row (with its original cells and reasons) to ``result.rejected``.

Row numbers (行番号) follow the spreadsheet convention: **the header is row 1, the first data row is
row 2**, one number per CSV record (a quoted cell spanning lines is still one row). That is the
number staff see when they open the file in Excel, so problem lists can be checked against it.

No problem message, ``repr`` or exception produced here ever contains a My Number: messages name
the column and the other 宛名番号, never the number, and every message is scrubbed of 12+-digit runs.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import pickle
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, Literal, NamedTuple, TextIO

from yobo.core.errors import InputRejected

# The problem type lives in core (every import uses it); re-exported for the reader's callers.
from yobo.core.problems import ERROR, MASK, WARNING, Problem, mask_numbers  # noqa: F401
from yobo.core.text import address_key, search_key
from yobo.core.text import digits as _digits
from yobo.core.wareki import DateFormatError, parse_date, to_wareki
from yobo.mynumber.checkdigit import check_digit
from yobo.mynumber.checkdigit import normalize as _mn_normalize

# The columns of §1 in their documented order (files may order them freely).
ATENA = "宛名番号"
HOUSEHOLD = "世帯番号"
MY_NUMBER = "個人番号"
NAME_KANJI = "漢字氏名"
NAME_KANA = "カナ氏名"
BIRTH = "生年月日"
SEX = "性別"
RELATIONSHIP = "続柄"
POSTAL = "郵便番号"
ADDRESS = "住所"
ADDRESS_EXTRA = "方書"
STATUS = "住民区分"
CHANGE_REASON = "異動事由"
CHANGE_DATE = "異動日"
PHONE = "電話番号"
COLUMNS: tuple[str, ...] = (
    ATENA, HOUSEHOLD, MY_NUMBER, NAME_KANJI, NAME_KANA, BIRTH, SEX, RELATIONSHIP,
    POSTAL, ADDRESS, ADDRESS_EXTRA, STATUS, CHANGE_REASON, CHANGE_DATE, PHONE,
)
REQUIRED: tuple[str, ...] = (ATENA, HOUSEHOLD, NAME_KANJI, NAME_KANA, BIRTH, SEX, ADDRESS, STATUS)
REASON_COLUMN = "理由"

MAX_KEY_DIGITS = 15
MAX_AGE_YEARS = 125

# 住民区分
RESIDENT, MOVED_OUT, DECEASED, REMOVED = 1, 2, 3, 4
STATUS_LABELS = {RESIDENT: "住民", MOVED_OUT: "転出", DECEASED: "死亡", REMOVED: "職権消除等"}

_SEX = {"1": 1, "男": 1, "１": 1, "2": 2, "女": 2, "２": 2}
_STATUS = {str(i): i for i in range(1, 5)} | {chr(0xFF10 + i): i for i in range(1, 5)}

class ExtractError(InputRejected):
    """The file cannot be read at all (not found, not UTF-8/CP932). Names the file, never a value."""


@dataclass(slots=True, repr=False)
class ResidentRecord:
    """One person of the extract, normalised (住民記録). ``row`` is the source row (header = row 1)."""

    atena_no: str
    household_no: str
    my_number: str | None
    name_kanji: str
    name_kana: str
    kana_key: str
    kanji_key: str
    birth_date: date
    sex: int
    relationship: str
    postal_code: str
    address: str
    address_extra: str
    status: int
    change_reason: str
    change_date: date | None
    phone: str
    row: int = field(default=0, compare=False)

    def __repr__(self) -> str:
        mn = "None" if self.my_number is None else "'<masked>'"
        return (
            f"ResidentRecord(row={self.row}, atena_no={self.atena_no!r}, household_no={self.household_no!r}, "
            f"my_number={mn}, name_kanji={self.name_kanji!r}, name_kana={self.name_kana!r}, "
            f"birth_date={self.birth_date.isoformat()}, sex={self.sex}, status={self.status})"
        )

    __str__ = __repr__


@dataclass(slots=True)
class RejectedRow:
    """A data row that failed (its original cells as read, and why)."""

    row: int
    cells: list[str]
    reasons: list[str]


# --- encoding ---------------------------------------------------------------------------------

_CHUNK = 1 << 20


def _strict_scan(path: Path, encoding: str) -> tuple[int, str, bool] | None:
    """None when the whole file decodes strictly; else (line number, reason, at the end) of the first
    bad byte. *At the end*: everything decodes but a character cut off by the end of the file.

    Decodes whole lines in 1 MB chunks: b"\\n" is never part of a multi-byte character in UTF-8 or
    CP932 (CP932 trail bytes are 0x40-0xFC), so cutting at a newline never splits a character.
    """
    line = 1
    carry = b""
    with path.open("rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            data = carry + chunk
            if not chunk:
                part, carry = data, b""
            else:
                cut = data.rfind(b"\n") + 1
                part, carry = data[:cut], data[cut:]
            try:
                part.decode(encoding)
            except UnicodeDecodeError as exc:
                cut_off = not chunk and exc.end == len(part) and part[exc.start:].decode(encoding, "ignore") == ""
                return line + part.count(b"\n", 0, exc.start), exc.reason, cut_off
            line += part.count(b"\n")
            if not chunk:
                return None


def detect_encoding(path: str | Path, encoding: str = "auto", name: str | None = None) -> str:
    """The Python codec to read ``path`` with: ``utf-8-sig``, ``utf-8`` or ``cp932``.

    ``auto`` tries a strict UTF-8 decode of the whole file, then CP932; ``utf-8``/``cp932`` check
    only that one. Raises :class:`ExtractError` naming the file (``name``, else the path's) and line
    when the file is not in the encoding(s).
    """
    p = Path(path)
    shown = name or p.name
    if not p.is_file():
        raise ExtractError(f"ファイルが見つかりません / file not found: {p}")
    enc = encoding.lower().replace("_", "-")
    aliases = {"utf8": "utf-8", "utf-8-sig": "utf-8", "shift-jis": "cp932", "sjis": "cp932", "ms932": "cp932"}
    enc = aliases.get(enc, enc)
    if enc not in {"auto", "utf-8", "cp932"}:
        raise ExtractError(f"文字コードは auto, utf-8, cp932 のいずれかです / unknown encoding: {encoding[:20]}")
    with p.open("rb") as f:
        bom = f.read(3) == codecs.BOM_UTF8
    candidates = ["utf-8", "cp932"] if enc == "auto" else [enc]
    first_fail: tuple[int, str, bool] | None = None
    for cand in candidates:
        fail = _strict_scan(p, cand)
        if fail is None:
            return "utf-8-sig" if cand == "utf-8" and bom else cand
        if fail[2]:
            # Valid up to a character cut by the end of the file: an export or a copy that stopped.
            raise ExtractError(
                f"{shown}: ファイルの末尾（{fail[0]}行目）が文字の途中で切れています。書き出しかコピーが途中で"
                f"止まった可能性があります。元のファイルを取り直してください。 / {shown} ends in the middle of a"
                f" character (line {fail[0]}): it looks truncated; get the file again."
            )
        first_fail = first_fail or fail
    line = first_fail[0] if first_fail else 0
    if enc == "auto":
        raise ExtractError(
            f"{shown}: 文字コードが UTF-8 でも CP932(Shift_JIS) でもありません（{line}行目付近）。"
            f"UTF-8 または CP932 で保存し直してください。 / {shown} is neither UTF-8 nor CP932 "
            f"(near line {line}); save it again in one of them."
        )
    raise ExtractError(
        f"{shown}: {enc} として読めない文字があります（{line}行目付近）。文字コードを確認してください。"
        f" / {shown} is not valid {enc} (near line {line}); check the encoding (or use --encoding auto)."
    )


# --- value parsing (shared caches: extracts repeat names and dates a lot) -----------------------

_CACHE_LIMIT = 400_000
_date_cache: dict[str, date | str] = {}
_kana_cache: dict[str, tuple[str, str] | None] = {}
_kanji_cache: dict[str, str] = {}


def _parse_date_cached(s: str) -> date | str:
    """The date, or the reason it is not one (a string)."""
    got = _date_cache.get(s)
    if got is None:
        try:
            got = parse_date(s)
        except DateFormatError as exc:
            got = str(exc)
        if len(_date_cache) > _CACHE_LIMIT:
            _date_cache.clear()
        _date_cache[s] = got
    return got


def _kana(s: str) -> tuple[str, str] | None:
    """(full-width katakana with single ideographic spaces, search key) or None if not katakana."""
    if s in _kana_cache:
        return _kana_cache[s]
    parts = unicodedata.normalize("NFKC", s).split()
    got: tuple[str, str] | None = None
    if parts and all("\u30a0" <= c <= "\u30ff" for part in parts for c in part):
        name = "\u3000".join(parts)
        got = (name, search_key(name))
    if len(_kana_cache) > _CACHE_LIMIT:
        _kana_cache.clear()
    _kana_cache[s] = got
    return got


def _kanji_key(s: str) -> str:
    got = _kanji_cache.get(s)
    if got is None:
        got = search_key(s)
        if len(_kanji_cache) > _CACHE_LIMIT:
            _kanji_cache.clear()
        _kanji_cache[s] = got
    return got


def _printable(s: str) -> bool:
    # str.isprintable counts the ideographic space as a separator; names use it on purpose. It also
    # refuses private-use characters: the 外字 of a register (CP932's user-defined area, decoded to
    # U+E000…), kept as given — the city's terminals show them with their 外字 font.
    return (s.isprintable() or s.replace("\u3000", " ").isprintable()
            or all(c.isprintable() or c == "\u3000" or unicodedata.category(c) == "Co" for c in s))


def _key_digits(s: str) -> str | None:
    """ASCII digits of a number column (full-width accepted), or None."""
    if s.isascii():
        return s if s.isdigit() else None
    t = unicodedata.normalize("NFKC", s)
    return t if t.isascii() and t.isdigit() else None


# --- messages (Japanese first, then English; they say what to fix) ---------------------------

M_REQUIRED_EMPTY = "必須の項目が空です。値を入れてください。 / this column is required; fill it in."
M_KEY = "数字15桁以内で入力してください。 / use digits only, at most 15."
M_MN_FORM = "個人番号は12桁の数字です。 / a 個人番号 has 12 digits."
M_MN_CHECK = "個人番号の検査用数字（最後の桁）が正しくありません。番号を確認してください。 / the check digit is wrong."
M_MN_ZERO = "個人番号がすべて0です。 / a 個人番号 of all zeros is not valid."
M_KANA = "カタカナ（全角または半角）で入力してください。 / use katakana (full- or half-width)."
M_SEX = "性別は 1/男 または 2/女 で入力してください。 / use 1 or 男 (male), 2 or 女 (female)."
M_POSTAL = "郵便番号は7桁の数字です（ハイフン可）。 / a postal code has 7 digits (hyphen optional)."
M_STATUS = (
    "住民区分は 1(住民) 2(転出) 3(死亡) 4(職権消除等) のいずれかです。"
    " / use 1 resident, 2 moved out, 3 deceased, 4 other removal."
)
M_CONTROL = "改行や制御文字は使えません。 / line breaks and control characters are not allowed."
M_FUTURE_BIRTH = "生年月日が基準日より後です。 / the birth date is after the reference date."
M_OLD_BIRTH = f"生年月日が{MAX_AGE_YEARS}年以上前です。 / the birth date is more than {MAX_AGE_YEARS} years ago."
M_EMPTY_FILE = "ファイルが空です（見出し行がありません）。 / the file is empty (no header row)."
M_SEPARATOR = (
    "見出し行が{sep[0]}で区切られています。カンマ区切り（CSV）で保存し直してください。"
    " / the header is separated by {sep[1]}, not commas; save the file as CSV (comma-separated)."
)
_SEPARATOR_NAMES = {"\t": ("タブ", "tabs"), ";": ("セミコロン", "semicolons"), "|": ("縦棒", "vertical bars")}
M_HEADER_AGAIN = (
    "見出し行と同じ内容の行です。複数のファイルをつなげていないか確認してください。"
    " / this row repeats the header: were two files joined into one?"
)
M_UNNAMED_COLUMN = "見出しが空の列は無視します。 / a column without a name is ignored."
M_MISSING_COLUMN = "必須の列がありません。見出しを確認してください。 / a required column is missing; check the header."
M_CHANGE_BEFORE_BIRTH = "異動日が生年月日より前です。 / the change date is before the birth date."


def dup_atena_message(first: int, row: int) -> str:
    return f"宛名番号が重複しています（{first}行目と{row}行目）。 / duplicate 宛名番号 on rows {first} and {row}."


def _dup_my_number(other_atena: str, other_row: int) -> str:
    # Names the other person by 宛名番号 and row, never the number itself.
    return (
        f"個人番号が他の宛名番号({other_atena}、{other_row}行目)と重複しています。確認してください。"
        f" / the same 個人番号 is already on 宛名番号 {other_atena} (row {other_row})."
    )


# --- the reader ------------------------------------------------------------------------------


class ExtractResult:
    """The header check and a one-pass stream of the rows of one extract file.

    Iterate once to get the valid :class:`ResidentRecord` rows; ``problems`` and ``rejected`` are
    complete when the iteration ends. Header problems are known as soon as ``read_extract`` returns.
    """

    def __init__(self, path: Path, encoding: str, as_of: date, check_duplicates: bool = True) -> None:
        self.path = path
        self.check_duplicates = check_duplicates
        self.file = path.name
        self.encoding = encoding
        self.as_of = as_of
        self.header: list[str] = []
        self.problems: list[Problem] = []
        self.rejected: list[RejectedRow] = []
        self.rows_read = 0  # data records seen (blank lines not counted)
        self.rows_ok = 0
        self._index: dict[str, int] = {}
        self._header_ok = False
        self._consumed = False

    # -- summary helpers
    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed). Meaningful after the rows were iterated."""
        return not self.errors

    def read_all(self) -> list[ResidentRecord]:
        return list(self)

    def _open(self) -> TextIO:
        return self.path.open(encoding=self.encoding, newline="")

    def _read_header(self) -> None:
        with self._open() as f:
            reader = csv.reader(f, strict=True)
            try:
                header = next(reader)
            except StopIteration:
                self.problems.append(Problem(self.file, 1, None, M_EMPTY_FILE))
                return
            except csv.Error as exc:
                self.problems.append(Problem(self.file, 1, None, f"見出し行が読めません / unreadable header: {exc}"))
                return
        self.header = header
        if len(header) == 1 and (sep := next((c for c in "\t;|" if c in header[0]), None)):
            # One "column" holding the whole header: saved with another separator. Say so, rather
            # than list every required column as missing.
            self.problems.append(Problem(self.file, 1, None, M_SEPARATOR.format(sep=_SEPARATOR_NAMES[sep])))
            return
        known = set(COLUMNS)
        for i, raw in enumerate(header):
            name = unicodedata.normalize("NFKC", raw.lstrip("\ufeff")).strip()
            if not name:
                self.problems.append(Problem(self.file, 1, f"{i + 1}列目", M_UNNAMED_COLUMN, WARNING))
            elif name in self._index:
                self.problems.append(
                    Problem(self.file, 1, name, "同じ見出しの列が2つあります。 / this column appears twice.")
                )
            elif name in known:
                self._index[name] = i
            else:
                self.problems.append(
                    Problem(self.file, 1, name, "不明な列です。無視します。 / unknown column, ignored.", WARNING)
                )
        for col in REQUIRED:
            if col not in self._index:
                self.problems.append(Problem(self.file, 1, col, M_MISSING_COLUMN))
        self._header_ok = not self.errors

    def __iter__(self) -> Iterator[ResidentRecord]:
        if self._consumed:
            raise RuntimeError("an ExtractResult can be iterated only once")
        self._consumed = True
        if not self._header_ok:
            return iter(())
        return _rows(self)


def _rows(res: ExtractResult) -> Iterator[ResidentRecord]:  # one flat hot loop: kept long on purpose
    """Stream the valid rows of ``res``; record problems and rejected rows on it as they are found."""
    file, problems, rejected = res.file, res.problems, res.rejected
    ix = res._index
    ncols = len(res.header)
    header = [c.lstrip("\ufeff").strip() for c in res.header]
    as_of = res.as_of
    oldest_year = as_of.year - MAX_AGE_YEARS
    i_atena, i_house, i_name, i_kana = ix[ATENA], ix[HOUSEHOLD], ix[NAME_KANJI], ix[NAME_KANA]
    i_birth, i_sex, i_addr, i_status = ix[BIRTH], ix[SEX], ix[ADDRESS], ix[STATUS]
    i_mn, i_rel, i_postal = ix.get(MY_NUMBER), ix.get(RELATIONSHIP), ix.get(POSTAL)
    i_extra, i_reason = ix.get(ADDRESS_EXTRA), ix.get(CHANGE_REASON)
    i_cdate, i_phone = ix.get(CHANGE_DATE), ix.get(PHONE)
    # Duplicates within the file: checked here with two dictionaries that grow with the file, unless
    # the caller checks them itself (the importer does, in SQL on its staging table).
    check_dups = res.check_duplicates
    seen_atena: dict[str, int] = {}
    # My Number -> 宛名番号 (str values keep the dict out of the garbage collector's way).
    seen_mn: dict[str, str] = {}
    sex_map, status_map = _SEX, _STATUS
    date_cache, kana_cache, kanji_cache = _date_cache, _kana_cache, _kanji_cache
    cd = check_digit
    record = ResidentRecord
    row = 1  # the header is row 1
    n_read = n_ok = 0
    f = res._open()
    reader = csv.reader(f, strict=True)
    try:
        next(reader)  # the header, already checked
    except (StopIteration, csv.Error):
        f.close()
        return
    try:
        while True:
            try:
                for cells in reader:
                    row += 1
                    if len(cells) != ncols:
                        if not cells or (len(cells) == 1 and not cells[0].strip()):
                            continue  # a blank line
                        n_read += 1
                        msg = _column_count(ncols, cells)
                        problems.append(Problem(file, row, None, msg))
                        rejected.append(RejectedRow(row, cells, [msg]))
                        continue
                    n_read += 1
                    errs: list[tuple[str, str]] = []

                    # 宛名番号 / 世帯番号
                    s = cells[i_atena].strip()
                    atena = s if s.isascii() and s.isdigit() else _key_digits(s)
                    if not s:
                        errs.append((ATENA, M_REQUIRED_EMPTY))
                    elif atena is None or len(atena) > MAX_KEY_DIGITS:
                        if [c.lstrip("\ufeff").strip() for c in cells] == header:
                            # The header again (two files joined): one problem, not one per column.
                            problems.append(Problem(file, row, None, M_HEADER_AGAIN))
                            rejected.append(RejectedRow(row, cells, [M_HEADER_AGAIN]))
                            continue
                        errs.append((ATENA, M_KEY))
                        atena = None
                    elif check_dups:
                        if atena in seen_atena:
                            errs.append((ATENA, dup_atena_message(seen_atena[atena], row)))
                        else:
                            seen_atena[atena] = row
                    s = cells[i_house].strip()
                    house = s if s.isascii() and s.isdigit() else _key_digits(s)
                    if not s:
                        errs.append((HOUSEHOLD, M_REQUIRED_EMPTY))
                    elif house is None or len(house) > MAX_KEY_DIGITS:
                        errs.append((HOUSEHOLD, M_KEY))

                    # 個人番号 (optional)
                    mn: str | None = None
                    if i_mn is not None and (s := cells[i_mn].strip()):
                        n = s if len(s) == 12 and s.isascii() and s.isdigit() else _mn_normalize(s)
                        if len(n) != 12 or not n.isascii() or not n.isdigit():
                            errs.append((MY_NUMBER, M_MN_FORM))
                        elif n == "0" * 12:
                            errs.append((MY_NUMBER, M_MN_ZERO))
                        elif cd(n[:11]) != ord(n[11]) - 48:
                            errs.append((MY_NUMBER, M_MN_CHECK))
                        else:
                            mn = n
                            if check_dups and atena is not None:
                                owner = seen_mn.get(n)
                                if owner is None:
                                    seen_mn[n] = atena
                                elif owner != atena:
                                    errs.append((MY_NUMBER, _dup_my_number(owner, seen_atena.get(owner, 0))))

                    # 漢字氏名 / カナ氏名
                    name = cells[i_name].strip()
                    kkey = kanji_cache.get(name)
                    if kkey is None:
                        if not name:
                            errs.append((NAME_KANJI, M_REQUIRED_EMPTY))
                        elif not _printable(name):
                            errs.append((NAME_KANJI, M_CONTROL))
                        else:
                            kkey = _kanji_key(name)
                    s = cells[i_kana].strip()
                    kana = kana_cache[s] if s in kana_cache else _kana(s)
                    if kana is None:
                        errs.append((NAME_KANA, M_KANA if s else M_REQUIRED_EMPTY))

                    # 生年月日
                    s = cells[i_birth].strip()
                    birth: date | None = None
                    got = date_cache.get(s)
                    if got is None:
                        got = _parse_date_cached(s) if s else M_REQUIRED_EMPTY
                    if got.__class__ is str:
                        errs.append((BIRTH, got))  # type: ignore[arg-type]
                    elif got > as_of:  # type: ignore[operator]
                        errs.append((BIRTH, M_FUTURE_BIRTH))
                    elif got.year < oldest_year:  # type: ignore[union-attr]
                        errs.append((BIRTH, M_OLD_BIRTH))
                    else:
                        birth = got  # type: ignore[assignment]

                    # 性別 / 住民区分
                    s = cells[i_sex].strip()
                    sex = sex_map.get(s, 0)
                    if not sex:
                        errs.append((SEX, M_SEX if s else M_REQUIRED_EMPTY))
                    s = cells[i_status].strip()
                    status = status_map.get(s, 0)
                    if not status:
                        errs.append((STATUS, M_STATUS if s else M_REQUIRED_EMPTY))

                    # 郵便番号 (optional)
                    postal = ""
                    if i_postal is not None and (s := cells[i_postal].strip()):
                        if len(s) == 8 and s[3] == "-":
                            s = s[:3] + s[4:]
                        if len(s) != 7 or not s.isascii() or not s.isdigit():
                            s = _digits(s.lstrip("〒"))
                        if len(s) == 7 and s.isascii() and s.isdigit():
                            postal = s
                        else:
                            errs.append((POSTAL, M_POSTAL))

                    # 住所 / 方書 / 続柄 / 異動事由 / 電話番号: kept as given, but no control characters
                    address = cells[i_addr].strip()
                    if not address:
                        errs.append((ADDRESS, M_REQUIRED_EMPTY))
                    elif not (address.isprintable() or _printable(address)):
                        errs.append((ADDRESS, M_CONTROL))
                    extra = rel = reason = phone = ""
                    if i_extra is not None and (extra := cells[i_extra].strip()) and not (
                        extra.isprintable() or _printable(extra)
                    ):
                        errs.append((ADDRESS_EXTRA, M_CONTROL))
                    if i_rel is not None and (rel := cells[i_rel].strip()) and not rel.isprintable():
                        errs.append((RELATIONSHIP, M_CONTROL))
                    if i_reason is not None and (reason := cells[i_reason].strip()) and not reason.isprintable():
                        errs.append((CHANGE_REASON, M_CONTROL))
                    if i_phone is not None and (phone := cells[i_phone].strip()) and not phone.isprintable():
                        errs.append((PHONE, M_CONTROL))

                    # 異動日 (optional)
                    cdate: date | None = None
                    if i_cdate is not None and (s := cells[i_cdate].strip()):
                        got = date_cache.get(s)
                        if got is None:
                            got = _parse_date_cached(s)
                        if got.__class__ is str:
                            errs.append((CHANGE_DATE, got))  # type: ignore[arg-type]
                        elif birth is not None and got < birth:  # type: ignore[operator]
                            errs.append((CHANGE_DATE, M_CHANGE_BEFORE_BIRTH))
                        else:
                            cdate = got  # type: ignore[assignment]

                    if errs:
                        reasons = []
                        for col, msg in errs:
                            p = Problem(file, row, col, msg)
                            problems.append(p)
                            reasons.append(f"{col}: {p.message}")
                        rejected.append(RejectedRow(row, cells, reasons))
                        continue
                    n_ok += 1
                    yield record(
                        atena, house, mn, name, kana[0], kana[1], kkey, birth, sex, rel, postal,  # type: ignore[arg-type,index]
                        address, extra, status, reason, cdate, phone, row,
                    )
                break
            except csv.Error as exc:
                # The csv module resumes on the next line after an error.
                row += 1
                n_read += 1
                msg = (
                    f"CSVの形式が正しくありません（引用符\"の対応を確認してください。ファイルの{reader.line_num}"
                    f"行目付近） / malformed CSV near line {reader.line_num}: {exc}"
                )
                problems.append(Problem(file, row, None, msg))
                rejected.append(RejectedRow(row, [], [msg]))
    finally:
        f.close()
        res.rows_read, res.rows_ok = n_read, n_ok


def _column_count(ncols: int, cells: list[str]) -> str:
    hint = ""
    if any("\n" in c for c in cells):
        hint = "（引用符\"の閉じ忘れの可能性があります / possibly an unclosed quote）"
    return (
        f"列の数が見出しと合いません（見出し{ncols}列、この行{len(cells)}列）{hint}"
        f" / this row has {len(cells)} columns, the header has {ncols}."
    )


def read_extract(
    path: str | Path, encoding: str = "auto", as_of: date | None = None, *, check_duplicates: bool = True
) -> ExtractResult:
    """Open a resident extract: detect/check the encoding, read the header, return the row stream.

    ``as_of`` (default today) is the reference date for "no future birth dates". Raises
    :class:`ExtractError` when the file is missing or not in the encoding; every other problem is
    reported in ``result.problems``. ``check_duplicates=False`` leaves duplicate 宛名番号 / 個人番号
    within the file to the caller (memory then stays flat however long the file is).
    """
    p = Path(path)
    enc = detect_encoding(p, encoding)
    result = ExtractResult(p, enc, as_of or date.today(), check_duplicates)
    result._read_header()
    return result


# --- the importer's feed: rows ready for its staging table, in chunks ---------------------------
#
# The resident import (``yobo.people.importer``) reads large files in a worker process so that
# reading and validating (the slowest per-row work) overlaps with loading and the vault in the main
# process. What runs in the worker lives here because this module imports no Django.


def record_hash(rec: ResidentRecord) -> str:
    """Digest of the register fields (``row_hash``; never the My Number: it lives in the vault only)."""
    parts = (
        rec.household_no, rec.name_kanji, rec.name_kana, rec.birth_date.isoformat(), str(rec.sex), rec.relationship,
        rec.postal_code, rec.address, rec.address_extra, rec.phone, str(rec.status),
        rec.change_date.isoformat() if rec.change_date else "", rec.change_reason,
    )
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


ChunkForm = Literal["copy", "lines", "tuples"]


class StageChunk(NamedTuple):
    """Up to ``size`` valid rows for the importer's staging table, and what was found on the way.

    ``rows``, by form: ``copy``, PostgreSQL COPY text (bytes, one line per row); ``tuples``, for
    ``executemany`` (SQLite, in-process); ``lines``, the cells tab-separated, one line per row, NUL
    for NULL, unescaped (SQLite, from the worker: one string pickles and unpickles much faster than
    5,000 tuples, and the worker is the slower side; :func:`unpack_lines`). Columns in the
    staging column order (宛名番号, the 13 register fields, the three search keys, row hash, source row);
    ``pairs``: (source row, 宛名番号, My Number) for the vault; ``problems``/``rejected``: found in
    these rows. The last chunk has ``last`` set, the counts of the whole file and its SHA-256.
    """

    rows: Any
    size: int
    pairs: list[tuple[int, str, str]]
    problems: list[Problem]
    rejected: list[RejectedRow]
    last: bool = False
    rows_read: int = 0
    rows_ok: int = 0
    sha256: str = ""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def stage_chunks(path: str | Path, encoding: str, as_of: date, *, form: ChunkForm,
                 size: int = 5000, address_keys: bool = True) -> Iterator[StageChunk]:
    """Read the extract (``encoding`` as detected by ``read_extract``) and yield its valid rows in
    chunks ready for the staging table, in ``form`` (see :class:`StageChunk`); duplicates are left
    to the caller (``check_duplicates`` off). Header problems are not repeated (the caller has them
    from ``read_extract``). Without ``address_keys`` the address key is left empty (the importer
    keys only its delta, unless nobody is on record yet)."""
    res = ExtractResult(Path(path), encoding, as_of, check_duplicates=False)
    res._read_header()
    problems, rejected = res.problems, res.rejected
    problems.clear()
    rows: list[Any] = []
    pairs: list[tuple[int, str, str]] = []
    add, add_pair, blake2b = rows.append, pairs.append, hashlib.blake2b
    place, akey = ("", ""), ""  # a household's members follow one another: one address key for all
    for r in res:
        if r.my_number is not None:
            add_pair((r.row, r.atena_no, r.my_number))
        if address_keys and (r.address, r.address_extra) != place:
            place = (r.address, r.address_extra)
            akey = address_key(*place)
        birth, sex, status = r.birth_date.isoformat(), str(r.sex), str(r.status)
        cd = r.change_date.isoformat() if r.change_date else ""
        # ``record_hash``, inline (the dates and numbers are formatted once for the hash and the row).
        digest = blake2b("\x1f".join((
            r.household_no, r.name_kanji, r.name_kana, birth, sex, r.relationship, r.postal_code, r.address,
            r.address_extra, r.phone, status, cd, r.change_reason,
        )).encode(), digest_size=16).hexdigest()
        if form != "tuples":
            # Escaped for COPY per chunk (``_chunk``): validation refused tabs, line breaks and every
            # other control character, so a backslash is all there is to escape; NUL stands for NULL.
            add("\t".join((
                r.atena_no, r.household_no, r.name_kanji, r.name_kana, birth, sex, r.relationship, r.postal_code,
                r.address, r.address_extra, r.phone, status, cd or "\x00", r.change_reason, r.kanji_key,
                r.kana_key, akey, digest, str(r.row),
            )))
        else:
            add((
                r.atena_no, r.household_no, r.name_kanji, r.name_kana, birth, r.sex, r.relationship,
                r.postal_code, r.address, r.address_extra, r.phone, r.status, cd or None, r.change_reason, r.kanji_key,
                r.kana_key, akey, digest, r.row,
            ))
        if len(rows) >= size:
            yield _chunk(rows, form, pairs, problems, rejected)
            rows.clear()
            pairs.clear()
            problems.clear()
            rejected.clear()
    chunk = _chunk(rows, form, pairs, problems, rejected)
    yield chunk._replace(last=True, rows_read=res.rows_read, rows_ok=res.rows_ok, sha256=file_sha256(res.path))


def _chunk(rows: list[Any], form: ChunkForm, pairs: list[tuple[int, str, str]], problems: list[Problem],
           rejected: list[RejectedRow]) -> StageChunk:
    data: Any
    if form == "copy":
        text = "\n".join(rows) + "\n" if rows else ""
        if "\\" in text:
            text = text.replace("\\", "\\\\")
        data = text.replace("\x00", "\\N").encode()
    elif form == "lines":
        data = "\n".join(rows)
    else:
        data = list(rows)
    return StageChunk(data, len(rows), list(pairs), list(problems), list(rejected))


_NULLABLE = 12  # the one staging cell that may be NULL: 異動日 (status_date)


def unpack_lines(text: str) -> list[list[Any]]:
    """The rows of a ``lines`` chunk, for ``executemany``: each line's cells, the NUL placeholder
    made None. Numbers and dates stay text; the staging table's column types convert them (SQLite
    column affinity)."""
    if not text:
        return []
    rows: list[list[Any]] = [line.split("\t") for line in text.split("\n")]
    k = _NULLABLE
    for r in rows:
        if r[k] == "\x00":
            r[k] = None
    return rows


def feed(out: BinaryIO, path: str, encoding: str, as_of: date, form: ChunkForm, size: int,
         address_keys: bool = True) -> None:
    """Worker entry: write ``stage_chunks`` to ``out`` (a pipe) as a sequence of pickles.

    The pipe is the bound on memory: a write blocks until the importer has taken the previous
    chunk, so the worker is at most one chunk ahead. An error is sent as a string (never with a
    cell value: it is masked like every problem message) and ends the feed.
    """
    try:
        for chunk in stage_chunks(path, encoding, as_of, form=form, size=size, address_keys=address_keys):
            pickle.dump(chunk, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    except Exception as exc:
        pickle.dump(mask_numbers(f"{type(exc).__name__}: {exc}"[:500]), out)
        out.flush()


def _feed_main(argv: list[str]) -> int:
    """``python -m yobo.people.extract --feed PATH ENCODING AS_OF pg|sqlite SIZE keys|nokeys``: the
    importer's worker process (a fresh interpreter: it inherits no database connection and runs no
    caller's main module). Chunks go to stdout."""
    if len(argv) != 7 or argv[0] != "--feed" or argv[6] not in ("keys", "nokeys"):
        sys.stderr.write("usage: python -m yobo.people.extract --feed PATH ENCODING AS_OF pg|sqlite SIZE keys|nokeys\n")
        return 2
    _, path, encoding, as_of, kind, size, keys = argv
    feed(sys.stdout.buffer, path, encoding, date.fromisoformat(as_of), "copy" if kind == "pg" else "lines", int(size),
         address_keys=keys == "keys")
    return 0


# --- writing (rejected rows; and the cell formats the synthetic city and tests write) ---------


def rejected_path(input_path: str | Path) -> Path:
    """``residents.csv`` -> ``residents.rejected.csv`` next to it."""
    p = Path(input_path)
    return p.with_name(f"{p.stem}.rejected.csv")


def write_rejected(
    path: str | Path, header: list[str], rows: Iterable[RejectedRow], encoding: str = "utf-8-sig"
) -> Path:
    """Write the rejected rows with their original columns plus a ``理由`` (reason) column.

    Rows whose column count was wrong are padded/cut to the header width (the reason says so).
    Characters the encoding cannot hold are replaced by ``?`` rather than losing the row.
    """
    p = Path(path)
    width = len(header)
    with p.open("w", encoding=encoding, errors="replace", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow([*header, REASON_COLUMN])
        for r in rows:
            cells = (list(r.cells) + [""] * width)[:width]
            w.writerow([*cells, "; ".join(f"{r.row}行目 {reason}" for reason in r.reasons)])
    return p


def _half_kana_table() -> dict[int, str]:
    """Full-width katakana -> half-width, derived from Unicode itself (ｶﾞ is ｶ + ﾞ)."""
    table: dict[int, str] = {}
    for cp in range(0xFF61, 0xFFA0):
        half = chr(cp)
        full = unicodedata.normalize("NFKC", half)
        if len(full) == 1 and ord(full) >= 0x3000:
            table.setdefault(ord(full), half)
            for mark in ("\uff9e", "\uff9f"):
                voiced = unicodedata.normalize("NFKC", half + mark)
                if len(voiced) == 1:
                    table.setdefault(ord(voiced), half + mark)
    table[0x3000] = " "
    return table


_HALF = _half_kana_table()


def kana_halfwidth(s: str) -> str:
    """カナ -> ｶﾅ (the reverse of NFKC for katakana; the ideographic space becomes a space)."""
    return s.translate(_HALF)


_wareki_cache: dict[tuple[date, str], str] = {}


def format_date(d: date, style: str = "iso") -> str:
    """``iso`` 2025-09-05, ``compact`` 20250905, ``wareki`` 令和7年9月5日, ``wareki_short`` R7.9.5."""
    if style == "iso":
        return d.isoformat()
    if style == "compact":
        return f"{d.year:04d}{d.month:02d}{d.day:02d}"
    key = (d, style)
    got = _wareki_cache.get(key)
    if got is None:
        got = to_wareki(d, short=style == "wareki_short")
        if len(_wareki_cache) > _CACHE_LIMIT:
            _wareki_cache.clear()
        _wareki_cache[key] = got
    return got


def record_cells(rec: ResidentRecord, date_style: str = "iso", kana: str = "full") -> list[str]:
    """The record as the cells of one row in ``COLUMNS`` order (the inverse of reading)."""
    return [
        rec.atena_no, rec.household_no, rec.my_number or "", rec.name_kanji,
        kana_halfwidth(rec.name_kana) if kana == "half" else rec.name_kana,
        format_date(rec.birth_date, date_style), str(rec.sex), rec.relationship,
        f"{rec.postal_code[:3]}-{rec.postal_code[3:]}" if rec.postal_code else "", rec.address, rec.address_extra,
        str(rec.status), rec.change_reason,
        format_date(rec.change_date, date_style) if rec.change_date else "", rec.phone,
    ]


if __name__ == "__main__":
    # Run the worker from the package module, so that what it pickles names yobo.people.extract.
    from yobo.people.extract import _feed_main as _main

    sys.exit(_main(sys.argv[1:]))
