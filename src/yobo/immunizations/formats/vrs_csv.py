"""The VRS CSV (予防接種台帳向け出力, CONTRACTS.md §5), reader and writer.

One row per person: ``個別宛名番号`` (the city's 宛名番号), then for each dose n = 1, 2, …:
``n回目接種履歴登録日時`` (YYYYMMDDHHMMSS), ``n回目接種日`` (YYYYMMDD), ``n回目券番号`` (10 digits),
``n回目接種自治体コード`` (6 digits), ``n回目接種会場名``, ``n回目接種医師名``,
``n回目ワクチンメーカー``, ``n回目ロット番号``. Empty cells for doses not given. No My Number:
a column that is not of this layout (e.g. ``個人番号``) is refused, not ignored, so a file that
carries numbers never enters the ledger.

Pure (no Django). The reader yields one :class:`DoseInput` per given dose (``dose_number = n``,
``source = vrs``, ``ref = "<file>（n回目）:<row>"``). The VRS of seed 000 records the COVID-19
vaccinations; the vaccine code of the doses is a parameter (default ``COVID-B``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from yobo.immunizations.inputs import DoseInput, Source

from ._csvbase import (
    M_REQUIRED_EMPTY,
    Cell,
    CsvDoseFile,
    Problem,
    detect_encoding,
    digits_only,
    nfkc,
    text,
)

ATENA = "個別宛名番号"
REGISTERED = "接種履歴登録日時"
DAY = "接種日"
VOUCHER = "券番号"
MUNICIPALITY = "接種自治体コード"
VENUE = "接種会場名"
DOCTOR = "接種医師名"
MAKER = "ワクチンメーカー"
LOT = "ロット番号"
DOSE_ITEMS: tuple[str, ...] = (REGISTERED, DAY, VOUCHER, MUNICIPALITY, VENUE, DOCTOR, MAKER, LOT)
DEFAULT_VACCINE = "COVID-B"
MAX_DOSES = 20

_DOSE_COLUMN = re.compile(r"^(\d{1,2})回目(.+)$")

M_ATENA = "個別宛名番号は15桁以内の数字です。 / 個別宛名番号 is up to 15 digits."
M_REGISTERED = "接種履歴登録日時は14桁（YYYYMMDDHHMMSS）です。 / the registration time has 14 digits (YYYYMMDDHHMMSS)."
M_DAY = "接種日は8桁（YYYYMMDD）の日付です。 / the date has 8 digits (YYYYMMDD)."
M_VOUCHER = "券番号は10桁の数字です。 / a voucher number (券番号) has 10 digits."
M_MUNICIPALITY = "接種自治体コードは6桁の数字です。 / the municipality code has 6 digits."
M_FOREIGN = ("VRS CSV の列ではありません。個人番号などの列を含むファイルは取り込めません。"
             " / not a VRS CSV column; a file with other columns (such as a My Number) is refused.")
M_GAP = "この回の接種日がないのに他の項目があります。 / items are given for this dose but not its date."
M_DUP_ROW = ("個別宛名番号が重複しています（{first}行目と{row}行目）。"
             " / duplicate 個別宛名番号 on rows {first} and {row}.")


def column(n: int, item: str) -> str:
    return f"{n}回目{item}"


def header(doses: int) -> list[str]:
    """The header for ``doses`` dose groups."""
    return [ATENA] + [column(n, item) for n in range(1, doses + 1) for item in DOSE_ITEMS]


def _compact_day(s: str) -> date | None:
    t = digits_only(s, exact=8)
    if t is None:
        return None
    try:
        return date(int(t[:4]), int(t[4:6]), int(t[6:]))
    except ValueError:
        return None


def _stamp(s: str) -> datetime | None:
    t = digits_only(s, exact=14)
    if t is None:
        return None
    try:
        return datetime.strptime(t, "%Y%m%d%H%M%S")  # VRS times are Japan local, naive as given
    except ValueError:
        return None


class VrsCsvFile(CsvDoseFile):
    """One pass over a VRS CSV. ``doses`` is the number of dose groups in the header."""

    def __init__(self, path: Path, encoding: str, vaccine: str = DEFAULT_VACCINE, name: str | None = None) -> None:
        super().__init__(path, encoding, name)
        self.vaccine = vaccine
        self.doses = 0
        self.groups: dict[int, dict[str, int]] = {}
        self._seen: dict[str, int] = {}

    def read_header(self) -> None:  # the columns are numbered: checked here, not by name lists
        with self.path.open(encoding=self.encoding, newline="") as f:
            try:
                head = next(csv.reader(f, strict=True))
            except StopIteration:
                self.problems.append(Problem(self.file, 1, None, "ファイルが空です（見出し行がありません）。"
                                             " / the file is empty (no header row)."))
                return
            except csv.Error as exc:
                self.problems.append(Problem(self.file, 1, None, f"見出し行が読めません / unreadable header: {exc}"))
                return
        self.header = head
        for i, raw in enumerate(head):
            name = nfkc(raw.lstrip("\ufeff")).replace(" ", "")
            if name == ATENA:
                if ATENA in self.index:
                    self.problems.append(Problem(self.file, 1, name, "同じ見出しの列が2つあります。"
                                                 " / this column appears twice."))
                self.index[ATENA] = i
                continue
            m = _DOSE_COLUMN.match(name)
            n = int(m.group(1)) if m else 0
            if m is None or m.group(2) not in DOSE_ITEMS or not 1 <= n <= MAX_DOSES:
                self.problems.append(Problem(self.file, 1, name or f"{i + 1}列目", M_FOREIGN))
                continue
            group = self.groups.setdefault(n, {})
            if m.group(2) in group:
                self.problems.append(Problem(self.file, 1, name, "同じ見出しの列が2つあります。"
                                             " / this column appears twice."))
            group[m.group(2)] = i
        if ATENA not in self.index:
            self.problems.append(Problem(self.file, 1, ATENA, "必須の列がありません。見出しを確認してください。"
                                         " / a required column is missing; check the header."))
        for n, group in sorted(self.groups.items()):
            if DAY not in group:
                self.problems.append(Problem(self.file, 1, column(n, DAY), "必須の列がありません。"
                                             " / a required column is missing."))
        self.doses = max(self.groups, default=0)
        self._header_ok = not self.errors

    def parse_row(self, row: int, cells: list[str], errs: list[Cell]) -> list[DoseInput]:
        raw_atena = cells[self.index[ATENA]].strip()
        atena = digits_only(raw_atena, most=15) if raw_atena else None
        if not raw_atena:
            errs.append((ATENA, M_REQUIRED_EMPTY))
        elif atena is None:
            errs.append((ATENA, M_ATENA))
        elif (first := self._seen.get(atena)) is not None:
            errs.append((ATENA, M_DUP_ROW.format(first=first, row=row)))
        else:
            self._seen[atena] = row
        out: list[DoseInput] = []
        for n in sorted(self.groups):
            g = self.groups[n]

            def cell(item: str, g: dict[str, int] = g) -> str:
                i = g.get(item)
                return cells[i].strip() if i is not None else ""

            if not any(cell(item) for item in DOSE_ITEMS):
                continue  # a dose not given
            col = column(n, DAY)
            day = _compact_day(cell(DAY)) if cell(DAY) else None
            if not cell(DAY):
                errs.append((col, M_GAP))
            elif day is None:
                errs.append((col, M_DAY))
            reg: datetime | None = None
            if s := cell(REGISTERED):
                reg = _stamp(s)
                if reg is None:
                    errs.append((column(n, REGISTERED), M_REGISTERED))
            voucher = ""
            if (s := cell(VOUCHER)) and (voucher := digits_only(s, exact=10) or "") == "":
                errs.append((column(n, VOUCHER), M_VOUCHER))
            muni = ""
            if (s := cell(MUNICIPALITY)) and (muni := digits_only(s, exact=6) or "") == "":
                errs.append((column(n, MUNICIPALITY), M_MUNICIPALITY))
            venue = text(cell(VENUE), column(n, VENUE), errs)
            doctor = text(cell(DOCTOR), column(n, DOCTOR), errs, limit=100)
            maker = text(cell(MAKER), column(n, MAKER), errs, limit=100)
            lot = nfkc(text(cell(LOT), column(n, LOT), errs, limit=40)).upper()
            if day is not None and atena:
                out.append(DoseInput(
                    atena_no=atena, vaccine=self.vaccine, date=day, dose_number=n, venue=venue, doctor=doctor,
                    manufacturer=maker, lot_number=lot, voucher_no=voucher, municipality_code=muni,
                    registered_at=reg, source=Source.VRS, ref=f"{self.file}（{n}回目）:{row}",
                ))
        return [] if errs else out


def read_vrs_csv(path: str | Path, encoding: str = "auto", vaccine: str = DEFAULT_VACCINE,
                 name: str | None = None) -> VrsCsvFile:
    """Open a VRS CSV (UTF-8 or CP932, auto-detected); iterate the result once for the doses.
    ``name``: the file name problems give, when not the path's (an uploaded file's own name)."""
    p = Path(path)
    f = VrsCsvFile(p, detect_encoding(p, encoding, name), vaccine, name)
    f.read_header()
    return f


# --- writing ----------------------------------------------------------------------------------


@dataclass(slots=True)
class VrsPerson:
    """One row: a person's doses by dose number (n -> dose)."""

    atena_no: str
    doses: dict[int, DoseInput] = field(default_factory=dict)


def dose_group(d: DoseInput | None) -> list[str]:
    if d is None:
        return [""] * len(DOSE_ITEMS)
    return [
        d.registered_at.strftime("%Y%m%d%H%M%S") if d.registered_at else "",
        f"{d.date.year:04d}{d.date.month:02d}{d.date.day:02d}", d.voucher_no, d.municipality_code, d.venue,
        d.doctor, d.manufacturer, d.lot_number,
    ]


def group_by_person(doses: Iterable[DoseInput]) -> Iterator[VrsPerson]:
    """Consecutive doses of the same 宛名番号 -> one row (input sorted by person); n = dose number."""
    cur: VrsPerson | None = None
    for d in doses:
        if cur is None or cur.atena_no != d.atena_no:
            if cur is not None:
                yield cur
            cur = VrsPerson(d.atena_no)
        n = d.dose_number or (max(cur.doses, default=0) + 1)
        cur.doses[n] = d
    if cur is not None:
        yield cur


def write_vrs_csv(
    path: str | Path, people: Iterable[VrsPerson], doses: int, encoding: str = "utf-8"
) -> int:
    """Write the §5 layout with ``doses`` dose groups; returns the number of person rows.

    Writes only the columns of the layout: there is no place for a My Number.
    """
    count = 0
    with Path(path).open("w", encoding=encoding, errors="replace", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(header(doses))
        for p in people:
            if p.doses and max(p.doses) > doses:
                raise ValueError(f"{p.atena_no}: dose {max(p.doses)} exceeds the {doses} dose groups of the header")
            cells = [p.atena_no]
            for n in range(1, doses + 1):
                cells += dose_group(p.doses.get(n))
            w.writerow(cells)
            count += 1
    return count
