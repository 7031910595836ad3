"""接種記録ファイルの取込: a clinic CSV (医療機関・医師会) or VRS CSV file, read, checked and saved whole.

Shared by ``yobo doses import`` (the batch terminal) and the staff page ``/doses/import/`` (a clerk
uploading the medical association's monthly file), so that both refuse the same files with the same
problems and save the same records. Purpose V02 (接種記録の取込); ``services.record_batch`` writes
one BATCH entry of the access log with the counts.

Atomic like the resident import (decision 051): one invalid row refuses the whole file
(``DoseFileRefused`` carrying every problem, nothing applied), unless ``skip_invalid``, which saves
the valid rows and returns the refused ones with their cells and reasons (``DoseFileOutcome.rejected``).
Where those go is the caller's business: the CLI writes ``<name>.rejected.csv`` next to the
operator's input; the staff page lists row, column and reason on screen and writes no file.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.problems import ERROR, Problem
from yobo.immunizations import services
from yobo.immunizations.formats import clinic_csv, vrs_csv
from yobo.immunizations.formats._csvbase import CsvDoseFile, ExtractError, RejectedRow
from yobo.immunizations.inputs import DoseInput, Source

CSV_FORMATS = ("clinic", "vrs")
FORMAT_LABELS = {"clinic": "医療機関・医師会CSV", "vrs": "VRS CSV"}

# DoseInput field -> the column named in problem reports.
CLINIC_COLUMNS = {
    "atena_no": clinic_csv.ATENA, "vaccine": clinic_csv.VACCINE, "date": clinic_csv.DAY,
    "dose_number": clinic_csv.DOSE, "clinic_code": clinic_csv.CLINIC, "product_code": clinic_csv.PRODUCT,
    "lot_number": clinic_csv.LOT, "amount_ml": clinic_csv.AMOUNT, "voucher_no": clinic_csv.VOUCHER,
    "category": clinic_csv.CATEGORY, "manufacturer": clinic_csv.MAKER, "claim_month": clinic_csv.CLAIM,
}
VRS_COLUMNS = {
    "atena_no": vrs_csv.ATENA, "date": vrs_csv.DAY, "dose_number": "回目", "lot_number": vrs_csv.LOT,
    "voucher_no": vrs_csv.VOUCHER, "municipality_code": vrs_csv.MUNICIPALITY, "manufacturer": vrs_csv.MAKER,
}


@dataclass
class DoseFileOutcome:
    """What became of one dose file: counts, every problem (reader's and validation's, errors and
    warnings, each with file, row and column) and, after ``skip_invalid``, the refused rows."""

    fmt: str
    file_name: str
    read: int = 0  # data rows read
    doses: int = 0  # doses the readable rows gave (a VRS row may give several)
    result: services.BatchResult | None = None
    header: list[str] = field(default_factory=list)  # the file's header row as given
    problems: list[Problem] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)  # refused rows, in file order
    refused_rows: int = 0  # when the whole file was refused: the rows that caused it

    @property
    def applied(self) -> bool:
        return bool(self.result and self.result.applied)

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == ERROR)

    def as_json(self) -> dict[str, Any]:
        """The summary ``yobo doses import --json`` prints (CONTRACTS.md §5)."""
        r = self.result
        if not self.applied or r is None:
            return {"format": self.fmt, "read": self.read, "rejected": self.refused_rows, "applied": False,
                    "problems": self.errors}
        return {
            "format": self.fmt, "read": self.read, "doses": self.doses, "inserted": r.inserted,
            "unchanged": r.unchanged, "rejected": len(self.rejected), "with_warnings": r.with_warnings,
            "applied": r.applied, "batch_id": r.batch_id, "problems_by_code": r.codes,
        }


class DoseFileRefused(InputRejected):
    """The whole file was refused; ``outcome.problems`` lists why. Nothing was applied."""

    def __init__(self, outcome: DoseFileOutcome) -> None:
        super().__init__(f"取り込めない行があるため何も登録していません（問題 {outcome.errors} 件）。"
                         f" / the file was refused ({outcome.errors} problems); nothing was applied.")
        self.outcome = outcome


def _open_csv(path: Path, fmt: str, *, encoding: str = "auto", vaccine: str = vrs_csv.DEFAULT_VACCINE,
             name: str | None = None) -> CsvDoseFile:
    """The format's reader over ``path``; problems name the file ``name`` (an upload's own name)."""
    if fmt == "clinic":
        return clinic_csv.read_clinic_csv(path, encoding, name=name)
    if fmt == "vrs":
        return vrs_csv.read_vrs_csv(path, encoding, vaccine.upper(), name=name)
    raise InputRejected(f"形式が不明です: {fmt} / unknown format (clinic or vrs)")


def import_csv(ctx: AccessContext, path: Path, fmt: str, *, encoding: str = "auto",
               vaccine: str = vrs_csv.DEFAULT_VACCINE, skip_invalid: bool = False,
               name: str | None = None) -> DoseFileOutcome:
    """Read, check and save one clinic or VRS CSV file (purpose V02). Raises ``DoseFileRefused``."""
    name = name or path.name
    out = DoseFileOutcome(fmt, name)
    try:
        reader = _open_csv(path, fmt, encoding=encoding, vaccine=vaccine, name=name)
    except ExtractError as exc:
        out.problems = [Problem(name, None, None, str(exc))]
        raise DoseFileRefused(out) from None
    inputs = list(reader)
    out.read, out.doses, out.header = reader.rows_read, len(inputs), reader.header
    read_problems = reader.problems
    hard = [p for p in read_problems if p.severity == ERROR]
    header_bad = not reader.header or any(p.row == 1 and p.severity == ERROR for p in read_problems)
    columns = CLINIC_COLUMNS if fmt == "clinic" else VRS_COLUMNS
    if header_bad or (hard and not skip_invalid):
        # Still validate what was readable, so the operator gets every problem in one run.
        extra = _check_only(ctx, inputs, name, columns) if inputs and not header_bad else []
        out.problems, out.refused_rows = [*read_problems, *extra], len(reader.rejected)
        raise DoseFileRefused(out)
    try:
        result = services.record_batch(
            ctx, inputs, file_name=name, file_sha256=services.file_sha256(path), skip_invalid=skip_invalid,
            column_of=columns, source=Source.CLINIC_CSV if fmt == "clinic" else Source.VRS,
        )
    except services.DoseRejected as exc:
        r = exc.result
        out.problems = [*read_problems, *exc.file_problems]
        out.refused_rows = (r.rejected if r else 0) + len(reader.rejected)
        raise DoseFileRefused(out) from None
    out.result = result
    out.problems = [*read_problems, *result.problems]
    if reader.rejected or result.rejected_rows:
        out.rejected = _rejected_rows(path, reader, inputs, result, out.problems)
    return out


def _check_only(ctx: AccessContext, inputs: list[DoseInput], name: str, columns: dict[str, str]) -> list[Problem]:
    try:
        r = services.record_batch(ctx, inputs, file_name=name, check_only=True, column_of=columns)
    except InputRejected:
        return []
    return r.problems


def _rejected_rows(path: Path, reader: CsvDoseFile, inputs: Sequence[DoseInput], result: services.BatchResult,
                   problems: list[Problem]) -> list[RejectedRow]:
    """Each refused row as given, with its reasons (reader's and validation's)."""
    reasons: dict[int, list[str]] = {}
    for p in problems:
        if p.severity == ERROR and p.row is not None and p.row > 1:
            reasons.setdefault(p.row, []).append(f"{p.column}: {p.message}" if p.column else p.message)
    rows: dict[int, RejectedRow] = {r.row: r for r in reader.rejected}
    wanted = _rows_of(inputs, result.rejected_rows) - set(rows)
    if wanted:  # the cells of rows refused by validation: a second pass over the file
        with path.open(encoding=reader.encoding, newline="") as f:
            for n, cells in enumerate(csv.reader(f), 1):
                if n in wanted:
                    rows[n] = RejectedRow(n, cells, reasons.get(n, []))
    for n, r in rows.items():
        if n in reasons and not r.reasons:
            r.reasons = reasons[n]
    return [rows[n] for n in sorted(rows)]


def _rows_of(inputs: Sequence[DoseInput], positions: Sequence[int]) -> set[int]:
    """Source row numbers of the inputs at ``positions`` (from their ``ref`` "<file>:<row>")."""
    out: set[int] = set()
    for i in positions:
        _, row = services.parse_ref(inputs[i].ref)
        if row is not None:
            out.add(row)
    return out
