"""What the CSV dose readers share: encoding detection, the one-pass row loop, value parsers.

Row numbers follow the resident extract (decision 051): the header is row 1, the first data row
is row 2, one number per CSV record — the number staff see when they open the file in Excel.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import date
from itertools import chain
from pathlib import Path

from yobo.core.problems import ERROR, WARNING, Problem
from yobo.core.wareki import DateFormatError, parse_date
from yobo.immunizations.gcpause import each_paused
from yobo.immunizations.inputs import DoseInput

# Reused from the resident extract: same encodings, same rejected-row file, same messages.
from yobo.people.extract import ExtractError, RejectedRow, detect_encoding, rejected_path, write_rejected

__all__ = [
    "ERROR", "WARNING", "CsvDoseFile", "ExtractError", "Problem", "RejectedRow", "detect_encoding", "rejected_path",
    "write_rejected",
]

M_REQUIRED_EMPTY = "必須の項目が空です。値を入れてください。 / this column is required; fill it in."
M_MISSING_COLUMN = "必須の列がありません。見出しを確認してください。 / a required column is missing; check the header."
M_CONTROL = "改行や制御文字は使えません。 / line breaks and control characters are not allowed."
M_EMPTY_FILE = "ファイルが空です（見出し行がありません）。 / the file is empty (no header row)."
M_DUP_COLUMN = "同じ見出しの列が2つあります。 / this column appears twice."
M_UNKNOWN_COLUMN = "不明な列です。無視します。 / unknown column, ignored."
M_TOO_LONG = "長すぎます（{n}文字以内）。 / too long (at most {n} characters)."

Cell = tuple[str, str]  # (column name for problems, message)


def nfkc(s: str) -> str:
    """NFKC and stripped (full-width digits and letters become ASCII, half-width kana full-width)."""
    return unicodedata.normalize("NFKC", s).strip() if s else ""


def header_name(raw: str) -> str:
    return nfkc(raw.lstrip("\ufeff")).replace(" ", "")


def digits_only(s: str, *, exact: int | None = None, most: int | None = None) -> str | None:
    """ASCII digits of ``s`` (full-width accepted, hyphens and spaces dropped), or None if not digits."""
    t = re.sub(r"[\s\-‐−ー－]", "", nfkc(s))
    if not t.isascii() or not t.isdigit():
        return None
    if exact is not None and len(t) != exact:
        return None
    if most is not None and len(t) > most:
        return None
    return t


_date_cache: dict[str, date | str] = {}


def parse_day(s: str) -> date | str:
    """A date in any form of ``yobo.core.wareki`` (Western, 和暦, full-width), or the reason it is not one."""
    got = _date_cache.get(s)
    if got is None:
        try:
            got = parse_date(s)
        except DateFormatError as exc:
            got = str(exc)
        if len(_date_cache) > 100_000:
            _date_cache.clear()
        _date_cache[s] = got
    return got


def printable(s: str) -> bool:
    # The ideographic space counts as a separator for str.isprintable; names use it on purpose.
    return s.isprintable() or s.replace("\u3000", " ").isprintable()


def text(cell: str, column: str, errs: list[Cell], *, limit: int = 200) -> str:
    """A free-text cell kept as given (stripped), refused when it holds control characters or is too long."""
    s = cell.strip()
    if not s:
        return ""
    if not printable(s):
        errs.append((column, M_CONTROL))
        return ""
    if len(s) > limit:
        errs.append((column, M_TOO_LONG.format(n=limit)))
        return ""
    return s


class CsvDoseFile:
    """A one-pass stream of the doses of one CSV file, with the problems and rejected rows found.

    Subclasses say which columns exist (``columns``, ``aliases``), which are required, and how one
    row becomes doses (``parse_row``). Iterate once; ``problems``, ``rejected``, ``rows_read`` and
    ``rows_ok`` are complete when the iteration ends. Header problems are known at once.
    """

    columns: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    aliases: dict[str, str] = {}

    def __init__(self, path: Path, encoding: str, name: str | None = None) -> None:
        self.path = path
        self.file = name or path.name  # the name problems and refs give (an upload's own name)
        self.encoding = encoding
        self.header: list[str] = []
        self.problems: list[Problem] = []
        self.rejected: list[RejectedRow] = []
        self.rows_read = 0
        self.rows_ok = 0
        self.doses_ok = 0
        self.index: dict[str, int] = {}
        self._header_ok = False
        self._consumed = False

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors

    def read_all(self) -> list[DoseInput]:
        return list(self)

    # -- header
    def known_column(self, name: str) -> str | None:
        """The canonical column for a header name (after aliases), or None when unknown."""
        name = self.aliases.get(name) or self.aliases.get(name.upper()) or name
        return name if name in self.columns else None

    def read_header(self) -> None:
        with self.path.open(encoding=self.encoding, newline="") as f:
            try:
                header = next(csv.reader(f, strict=True))
            except StopIteration:
                self.problems.append(Problem(self.file, 1, None, M_EMPTY_FILE))
                return
            except csv.Error as exc:
                self.problems.append(Problem(self.file, 1, None, f"見出し行が読めません / unreadable header: {exc}"))
                return
        self.header = header
        for i, raw in enumerate(header):
            name = header_name(raw)
            col = self.known_column(name)
            if not name:
                self.problems.append(Problem(self.file, 1, f"{i + 1}列目", "見出しが空の列は無視します。"
                                             " / a column without a name is ignored.", WARNING))
            elif col is None:
                self.problems.append(Problem(self.file, 1, name, M_UNKNOWN_COLUMN, WARNING))
            elif col in self.index:
                self.problems.append(Problem(self.file, 1, name, M_DUP_COLUMN))
            else:
                self.index[col] = i
        self.check_header()
        self._header_ok = not self.errors

    def check_header(self) -> None:
        for col in self.required:
            if col not in self.index:
                self.problems.append(Problem(self.file, 1, col, M_MISSING_COLUMN))

    # -- rows
    def parse_row(self, row: int, cells: list[str], errs: list[Cell]) -> list[DoseInput]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[DoseInput]:
        if self._consumed:
            raise RuntimeError("a dose file can be iterated only once")
        self._consumed = True
        if not self._header_ok:
            return iter(())
        return chain.from_iterable(each_paused(self._chunks()))

    # Good rows are handed to ``parse_chunk`` this many at a time (a subclass may parse them column
    # by column); memory stays bounded by the chunk, not the file.
    chunk_rows = 20_000

    def parse_chunk(self, chunk: list[tuple[int, list[str]]]) -> list[DoseInput]:
        """The doses of a run of rows that have the header's column count, in row order. The default
        parses row by row with :meth:`parse_row`; a faster reader must give the same result."""
        return [d for row, cells in chunk for d in self.parse_one(row, cells)]

    def parse_one(self, row: int, cells: list[str]) -> list[DoseInput]:
        """One row through :meth:`parse_row`, its problems recorded (the reference path)."""
        errs: list[Cell] = []
        try:
            doses = self.parse_row(row, cells, errs)
        except Exception as exc:  # a parser bug must not lose the row silently
            errs.append(("", f"この行を読めませんでした / could not read this row ({type(exc).__name__})"))
            doses = []
        if errs:
            self._reject(row, cells, errs)
            return []
        self.rows_ok += 1
        self.doses_ok += len(doses)
        return doses

    def _chunks(self) -> Iterator[list[DoseInput]]:
        ncols = len(self.header)
        row = 1
        chunk: list[tuple[int, list[str]]] = []
        size = self.chunk_rows
        with self.path.open(encoding=self.encoding, newline="") as f:
            reader = csv.reader(f, strict=True)
            try:
                next(reader)
            except (StopIteration, csv.Error):
                return
            while True:
                try:
                    for cells in reader:
                        row += 1
                        if len(cells) == ncols:
                            if ncols == 1 and not cells[0].strip():
                                continue  # a blank line is not a record
                            chunk.append((row, cells))
                            if len(chunk) >= size:
                                self.rows_read += len(chunk)
                                yield self.parse_chunk(chunk)
                                chunk = []
                            continue
                        if not cells or (len(cells) == 1 and not cells[0].strip()):
                            continue  # a blank line is not a record
                        # Problems stay in row order: the rows before this one are parsed first.
                        self.rows_read += len(chunk) + 1
                        yield self.parse_chunk(chunk)
                        chunk = []
                        self._reject(row, cells, [(None, _column_count(ncols, cells))])
                    break
                except csv.Error as exc:
                    row += 1
                    self.rows_read += len(chunk) + 1
                    yield self.parse_chunk(chunk)
                    chunk = []
                    msg = (f"CSVの形式が正しくありません（引用符\"の対応を確認してください。ファイルの{reader.line_num}"
                           f"行目付近） / malformed CSV near line {reader.line_num}: {exc}")
                    self._reject(row, [], [(None, msg)])
            if chunk:
                self.rows_read += len(chunk)
                yield self.parse_chunk(chunk)

    def _reject(self, row: int, cells: list[str], errs: Sequence[tuple[str | None, str]]) -> None:
        reasons = []
        for col, msg in errs:
            p = Problem(self.file, row, col or None, msg)
            self.problems.append(p)
            reasons.append(f"{col}: {p.message}" if col else p.message)
        self.rejected.append(RejectedRow(row, cells, reasons))

    def warn(self, row: int, column: str, message: str) -> None:
        self.problems.append(Problem(self.file, row, column, message, WARNING))


def _column_count(ncols: int, cells: list[str]) -> str:
    hint = ""
    if any("\n" in c for c in cells):
        hint = "（引用符\"の閉じ忘れの可能性があります / possibly an unclosed quote）"
    return (f"列の数が見出しと合いません（見出し{ncols}列、この行{len(cells)}列）{hint}"
            f" / this row has {len(cells)} columns, the header has {ncols}.")
