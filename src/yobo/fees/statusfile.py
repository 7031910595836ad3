"""Reader of the tax and welfare status file (税・福祉情報 連携ファイル, docs/formats/tax-welfare.md).

Pure Python, no Django. The tax system (住民税の課税台帳) and the welfare system (生活保護) are other
systems; this file is the interface. ``read_status_file(path)`` detects the encoding (UTF-8 with or
without BOM, or CP932), checks the header and every row, and returns the valid rows with every
problem found (file, row, column, reason). Row numbers follow the spreadsheet convention: the
header is row 1.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from pathlib import Path

from yobo.core.problems import ERROR, WARNING, Problem
from yobo.core.text import digits
from yobo.core.wareki import DateFormatError, parse_date
from yobo.people.extract import ExtractError, detect_encoding

ATENA = "宛名番号"
KIND = "種別"
YEAR = "年度"
TAX_STATUS = "課税区分"
FROM = "開始日"
UNTIL = "終了日"
COLUMNS: tuple[str, ...] = (ATENA, KIND, YEAR, TAX_STATUS, FROM, UNTIL)
REQUIRED: tuple[str, ...] = (ATENA, KIND)
MAX_KEY_DIGITS = 15


class StatusKind(IntEnum):
    """種別: which system the status comes from."""

    RESIDENT_TAX = 1  # 住民税 (課税台帳)
    WELFARE = 2  # 生活保護
    CHINA_SUPPORT = 3  # 中国残留邦人等支援給付


class TaxStatus(IntEnum):
    """課税区分 of the resident tax for one 年度 (assessed on residents of 1 January)."""

    TAXABLE = 1  # 課税
    NON_TAXABLE = 2  # 非課税 (均等割・所得割とも)
    UNDECLARED = 3  # 未申告 (課税・非課税が判定できない)


KIND_LABELS = {StatusKind.RESIDENT_TAX: "住民税", StatusKind.WELFARE: "生活保護",
               StatusKind.CHINA_SUPPORT: "中国残留邦人等支援給付"}
TAX_LABELS = {TaxStatus.TAXABLE: "課税", TaxStatus.NON_TAXABLE: "非課税", TaxStatus.UNDECLARED: "未申告"}
_KINDS = {str(int(k)): k for k in StatusKind} | {v: k for k, v in KIND_LABELS.items()}
_TAX = {str(int(k)): k for k in TaxStatus} | {v: k for k, v in TAX_LABELS.items()}
_ERA_YEAR = re.compile(r"^(令和|平成|R|H)(元|\d{1,2})(年度?)?$")
_ERA_BASE = {"令和": 2018, "R": 2018, "平成": 1988, "H": 1988}


@dataclass(frozen=True, slots=True)
class StatusRow:
    """One valid row. ``key`` identifies it within a person and kind: the 年度 for the resident tax,
    the start date for welfare-type records (a person may have several spells)."""

    row: int
    atena_no: str
    kind: StatusKind
    tax_year: int | None
    tax_status: TaxStatus | None
    valid_from: date | None
    valid_until: date | None

    @property
    def key(self) -> str:
        if self.kind is StatusKind.RESIDENT_TAX:
            return str(self.tax_year)
        assert self.valid_from is not None  # noqa: S101  (guaranteed by the reader)
        return self.valid_from.isoformat()


@dataclass
class StatusFile:
    file: str
    encoding: str = ""
    rows: list[StatusRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows_read: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]


def parse_year(text: str) -> int:
    """A 年度 as a western year: ``2026``, ``令和8``, ``令和8年度``, ``R8``, ``H30``. Raises ValueError."""
    t = unicodedata.normalize("NFKC", text).strip()
    if re.fullmatch(r"\d{4}", t):
        y = int(t)
    else:
        m = _ERA_YEAR.match(t)
        if not m:
            raise ValueError(text)
        n = 1 if m.group(2) == "元" else int(m.group(2))
        y = _ERA_BASE[m.group(1)] + n
    if not 1989 <= y <= 2200:
        raise ValueError(text)
    return y


def _date(text: str) -> date:
    return parse_date(unicodedata.normalize("NFKC", text).strip())


def read_status_file(path: str | Path, encoding: str = "auto") -> StatusFile:
    """Read and check the whole file. Never raises for bad rows: see ``problems``."""
    p = Path(path)
    out = StatusFile(file=p.name)
    try:
        out.encoding = detect_encoding(p, encoding)
    except ExtractError as exc:
        out.problems.append(Problem(p.name, None, None, str(exc)))
        return out
    with p.open(encoding=out.encoding, newline="") as f:
        reader = csv.reader(f, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            out.problems.append(Problem(p.name, 1, None, "ファイルが空です（見出し行がありません）。"
                                        " / the file is empty."))
            return out
        except csv.Error as exc:
            out.problems.append(Problem(p.name, 1, None, f"見出し行が読めません / unreadable header: {exc}"))
            return out
        index: dict[str, int] = {}
        for i, raw in enumerate(header):
            name = unicodedata.normalize("NFKC", raw.lstrip("\ufeff")).strip()
            if name in index:
                out.problems.append(Problem(p.name, 1, name, "同じ見出しの列が2つあります。"
                                            " / this column appears twice."))
            elif name in COLUMNS:
                index[name] = i
            elif name:
                out.problems.append(Problem(p.name, 1, name, "不明な列です。無視します。 / unknown column, ignored.",
                                            WARNING))
        for col in REQUIRED:
            if col not in index:
                out.problems.append(Problem(p.name, 1, col, "必須の列がありません。 / a required column is missing."))
        if out.errors:
            return out
        seen: dict[tuple[str, int, str], int] = {}
        row_no = 1
        try:
            for cells in reader:
                row_no += 1
                if not any(c.strip() for c in cells):
                    continue
                out.rows_read += 1
                row = _check_row(p.name, row_no, cells, index, out.problems)
                if row is None:
                    continue
                k = (row.atena_no, int(row.kind), row.key)
                if k in seen:
                    out.problems.append(Problem(p.name, row_no, ATENA,
                                                f"{seen[k]}行目と同じ宛名番号・種別・年度（開始日）です。"
                                                f" / duplicates row {seen[k]}."))
                    continue
                seen[k] = row_no
                out.rows.append(row)
        except csv.Error as exc:
            out.problems.append(Problem(p.name, row_no, None, f"CSVとして読めません / not valid CSV: {exc}"))
    return out


def _check_row(file: str, row: int, cells: list[str], index: dict[str, int],
               problems: list[Problem]) -> StatusRow | None:
    def cell(col: str) -> str:
        i = index.get(col)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    before = len(problems)

    def bad(col: str, msg: str) -> None:
        problems.append(Problem(file, row, col, msg))

    atena = digits(cell(ATENA))
    if not atena:
        bad(ATENA, "必須の項目が空です。 / required.")
    elif not atena.isdigit() or len(atena) > MAX_KEY_DIGITS:
        bad(ATENA, "数字15桁以内で入力してください。 / use digits only, at most 15.")
    kind = _KINDS.get(unicodedata.normalize("NFKC", cell(KIND)))
    if kind is None:
        bad(KIND, "種別は 1/住民税, 2/生活保護, 3/中国残留邦人等支援給付 のいずれかです。 / unknown kind.")
    tax_year: int | None = None
    tax_status: TaxStatus | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    if kind is StatusKind.RESIDENT_TAX:
        try:
            tax_year = parse_year(cell(YEAR))
        except ValueError:
            bad(YEAR, "住民税の行には年度（2026, 令和8, R8 など）が必要です。"
                " / the tax year is required (e.g. 2026, R8).")
        tax_status = _TAX.get(unicodedata.normalize("NFKC", cell(TAX_STATUS)))
        if tax_status is None:
            bad(TAX_STATUS, "課税区分は 1/課税, 2/非課税, 3/未申告 のいずれかです。 / use 1, 2 or 3.")
    elif kind is not None:
        if not cell(FROM):
            bad(FROM, "生活保護等の行には開始日が必要です。 / the start date is required.")
        else:
            try:
                valid_from = _date(cell(FROM))
            except DateFormatError:
                bad(FROM, "日付として読めません（2026-04-01, 令和8年4月1日 など）。 / not a date.")
        if cell(UNTIL):
            try:
                valid_until = _date(cell(UNTIL))
            except DateFormatError:
                bad(UNTIL, "日付として読めません。 / not a date.")
            if valid_from and valid_until and valid_until < valid_from:
                bad(UNTIL, "終了日が開始日より前です。 / the end date is before the start date.")
    if len(problems) > before or kind is None:
        return None
    return StatusRow(row, atena, kind, tax_year, tax_status, valid_from, valid_until)
