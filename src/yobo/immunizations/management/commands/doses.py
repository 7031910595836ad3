"""``yobo doses import FILE --format clinic|vrs|hl7 [--skip-invalid] [--json]`` (CONTRACTS.md §5, issue 5).

Acts as the operator (``--as`` / ``YOBO_OPERATOR``) from ``YOBO_TERMINAL`` under purpose V02
(接種記録の取込). Atomic like the resident import (decision 051): the file is read and checked
whole by its format reader, then validated and saved by the core's batch service
(``services.record_batch``, set-based, one access-log entry); one invalid row refuses the whole
file (exit 2, every problem on stderr with file, row/segment and column, Japanese then English,
nothing applied). ``--skip-invalid`` applies the valid rows and writes the rejected CSV rows, with
reasons, next to the input as ``<name>.rejected.csv``. Re-running the same file changes nothing
(already recorded doses are ``unchanged``). For HL7 every message gets its ACK^V04 (AA/AE/AR),
printed to stdout (or in the ``acks`` list with ``--json``).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from django.conf import settings
from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.problems import ERROR, Problem
from yobo.core.purposes import Purpose
from yobo.immunizations import services
from yobo.immunizations.formats import clinic_csv, hl7_vxu, vrs_csv
from yobo.immunizations.formats._csvbase import CsvDoseFile, ExtractError, RejectedRow
from yobo.immunizations.inputs import DoseInput, Source
from yobo.people.extract import rejected_path, write_rejected

FORMATS = ("clinic", "vrs", "hl7")

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
HL7_COLUMNS = {
    "atena_no": "PID-3", "date": "RXA-3", "vaccine": "RXA-5", "dose_number": "OBX 30973-2", "clinic_code": "RXA-11",
    "lot_number": "RXA-15", "manufacturer": "RXA-17", "amount_ml": "RXA-6",
}


class Command(OperatorCommand):
    help = "接種記録の取込 / import dose records (clinic CSV, VRS CSV, HL7 v2.5.1 VXU)"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="ファイルの取込 / import a file")
        imp.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")
        imp.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力")
        imp.add_argument("file")
        imp.add_argument("--format", required=True, choices=FORMATS,
                         help="clinic (医療機関・医師会CSV), vrs (VRS CSV), hl7 (HL7 v2.5.1 VXU^V04)")
        imp.add_argument("--skip-invalid", action="store_true",
                         help="正しい行だけ取り込み、不正行を <名前>.rejected.csv に書く / apply valid rows only")
        imp.add_argument("--encoding", default="auto", choices=["auto", "utf-8", "cp932"])
        imp.add_argument("--vaccine", default=vrs_csv.DEFAULT_VACCINE,
                         help="VRS CSV の接種コード (既定 COVID-B) / vaccine code of a VRS file")

    def handle(self, *args: Any, **options: Any) -> None:
        ctx = self.context(Purpose.DOSE_IMPORT, options)
        path = Path(options["file"])
        fmt = options["format"]
        if fmt == "hl7":
            self._hl7(ctx, path, options)
        else:
            self._csv(ctx, path, fmt, options)

    # -- CSV formats -----------------------------------------------------------------------------

    def _csv(self, ctx: AccessContext, path: Path, fmt: str, options: dict[str, Any]) -> None:
        skip = options["skip_invalid"]
        try:
            reader: CsvDoseFile = (
                clinic_csv.read_clinic_csv(path, options["encoding"]) if fmt == "clinic"
                else vrs_csv.read_vrs_csv(path, options["encoding"], options["vaccine"].upper())
            )
        except ExtractError as exc:
            self._refuse(options, {"format": fmt, "read": 0, "problems": 1}, [Problem(path.name, None, None, str(exc))])
        inputs = list(reader)
        read_problems = reader.problems
        hard = [p for p in read_problems if p.severity == ERROR]
        header_bad = not reader.header or any(p.row == 1 and p.severity == ERROR for p in read_problems)
        if header_bad or (hard and not skip):
            # Still validate what was readable, so the operator gets every problem in one run.
            extra = self._check_only(ctx, inputs, path, fmt) if inputs and not header_bad else []
            self._refuse(options, {"format": fmt, "read": reader.rows_read, "rejected": len(reader.rejected),
                                   "applied": False}, [*read_problems, *extra])
        columns = CLINIC_COLUMNS if fmt == "clinic" else VRS_COLUMNS
        try:
            result = services.record_batch(
                ctx, inputs, file_name=path.name, file_sha256=services.file_sha256(path), skip_invalid=skip,
                column_of=columns, source=Source.CLINIC_CSV if fmt == "clinic" else Source.VRS,
            )
        except services.DoseRejected as exc:
            r = exc.result
            self._refuse(options, {"format": fmt, "read": reader.rows_read, "applied": False,
                                   "rejected": (r.rejected if r else 0) + len(reader.rejected)},
                         [*read_problems, *exc.file_problems])
        for p in [*read_problems, *result.problems]:
            self.stderr.write(str(p))
        rejected_file = None
        bad_rows = sorted({r.row for r in reader.rejected} | _rows_of(inputs, result.rejected_rows))
        if bad_rows:
            rejected_file = str(self._write_rejected(path, reader, inputs, result, read_problems))
        summary = {
            "format": fmt, "read": reader.rows_read, "doses": len(inputs), "inserted": result.inserted,
            "unchanged": result.unchanged, "rejected": len(bad_rows), "with_warnings": result.with_warnings,
            "applied": result.applied, "batch_id": result.batch_id, "rejected_file": rejected_file,
            "problems_by_code": result.codes,
        }
        text = (f"取込完了 (バッチ {result.batch_id}): 新規 {result.inserted} / 登録済み {result.unchanged}"
                f" / 不正 {len(bad_rows)} 行 / 警告付き {result.with_warnings}\n"
                f"imported (batch {result.batch_id}): inserted {result.inserted}, unchanged {result.unchanged},"
                f" rejected rows {len(bad_rows)}, with warnings {result.with_warnings}\n")
        if rejected_file:
            text += f"不正な行 / rejected rows: {rejected_file}\n"
        self.emit(options, summary, text)

    def _check_only(self, ctx: AccessContext, inputs: list[DoseInput], path: Path, fmt: str) -> list[Problem]:
        columns = CLINIC_COLUMNS if fmt == "clinic" else VRS_COLUMNS
        try:
            r = services.record_batch(ctx, inputs, file_name=path.name, check_only=True, column_of=columns)
        except InputRejected:
            return []
        return r.problems

    def _write_rejected(self, path: Path, reader: CsvDoseFile, inputs: Sequence[DoseInput],
                        result: services.BatchResult, read_problems: list[Problem]) -> Path:
        """``<name>.rejected.csv``: each refused row as given, with its reasons (reader's and validation's)."""
        reasons: dict[int, list[str]] = {}
        for p in [*read_problems, *result.problems]:
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
        return write_rejected(rejected_path(path), reader.header, [rows[n] for n in sorted(rows)])

    # -- HL7 ---------------------------------------------------------------------------------------

    def _hl7(self, ctx: AccessContext, path: Path, options: dict[str, Any]) -> None:
        skip = options["skip_invalid"]
        if not path.is_file():
            self._refuse(options, {"format": "hl7", "messages": 0},
                         [Problem(path.name, None, None, f"ファイルが見つかりません / file not found: {path}")])
        messages = hl7_vxu.read_vxu_file(path, municipality=getattr(settings, "MUNICIPALITY_CODE", ""))
        inputs = [d for m in messages if m.ok for d in m.doses]
        read_problems = [p for m in messages for p in m.problems()]
        bad_msgs = [m for m in messages if not m.ok]
        extra_errors: dict[int, list[hl7_vxu.Hl7Error]] = {}
        result: services.BatchResult | None = None
        refused = False
        if bad_msgs and not skip:
            refused = True
            problems = [*read_problems, *self._hl7_check(ctx, inputs, path, extra_errors)]
        else:
            try:
                result = services.record_batch(ctx, inputs, file_name=path.name,
                                               file_sha256=services.file_sha256(path), skip_invalid=skip,
                                               column_of=HL7_COLUMNS, source=Source.HL7)
                problems = [*read_problems, *result.problems]
                _errors_by_message(result.problems, extra_errors)
            except services.DoseRejected as exc:
                refused = True
                problems = [*read_problems, *exc.file_problems]
                _errors_by_message(exc.file_problems, extra_errors)
        acks: list[str] = []
        codes: list[str] = []
        for m in messages:
            errs = extra_errors.get(m.index, [])
            code = None
            if refused and m.ok and not any(e.severity == "E" for e in errs):
                # A good message of a refused file was not applied either: say so.
                errs = [*errs, hl7_vxu.Hl7Error("MSH", 1, None, hl7_vxu.E_INTERNAL,
                                                "同じファイルの他のメッセージに誤りがあるため登録していません。"
                                                " / not applied: another message of the file was refused.")]
                code = "AE"
            codes.append(code or ("AR" if m.refused else ("AE" if not m.ok or any(e.severity == "E" for e in errs)
                                                          else "AA")))
            acks.append(hl7_vxu.ack(m, code=code, extra_errors=errs,
                                    facility=getattr(settings, "MUNICIPALITY_CODE", "")))
        summary: dict[str, Any] = {
            "format": "hl7", "messages": len(messages), "accepted": codes.count("AA"),
            "doses": len(inputs), "applied": bool(result and result.applied),
            "inserted": result.inserted if result else 0, "unchanged": result.unchanged if result else 0,
            "rejected": (len(bad_msgs) + (result.rejected if result else 0)) if not refused else len(messages),
            "batch_id": result.batch_id if result else None, "acks": [a.replace("\r", "\n") for a in acks],
        }
        for p in problems:
            self.stderr.write(str(p))
        if options.get("json"):
            self.stdout.write(json.dumps(summary, ensure_ascii=False, default=str))
        else:
            self.stdout.write("\n\n".join(a.replace("\r", "\n").rstrip("\n") for a in acks) + "\n")
        if refused:
            self.stderr.write("取り込めないメッセージがあるため何も登録していません。 / the file was refused; nothing "
                             "was applied.\n")
            raise InputRejected("取込を中止しました / import refused")
        self.stderr.write(f"取込完了: 新規 {summary['inserted']} / 登録済み {summary['unchanged']} / 不受理メッセージ "
                         f"{len(bad_msgs)} / imported: inserted {summary['inserted']}, unchanged "
                         f"{summary['unchanged']}, refused messages {len(bad_msgs)}\n")

    def _hl7_check(self, ctx: AccessContext, inputs: list[DoseInput], path: Path,
                   extra_errors: dict[int, list[hl7_vxu.Hl7Error]]) -> list[Problem]:
        if not inputs:
            return []
        try:
            r = services.record_batch(ctx, inputs, file_name=path.name, check_only=True, column_of=HL7_COLUMNS)
        except InputRejected:
            return []
        _errors_by_message(r.problems, extra_errors)
        return r.problems

    # -- common ------------------------------------------------------------------------------------

    def _refuse(self, options: dict[str, Any], summary: dict[str, Any], problems: list[Problem]) -> NoReturn:
        for p in problems:
            self.stderr.write(str(p))
        errors = sum(1 for p in problems if p.severity == ERROR)
        summary = {**summary, "applied": False, "problems": errors}
        if options.get("json"):
            self.stdout.write(json.dumps(summary, ensure_ascii=False, default=str))
        self.stderr.write(f"取り込めない行があるため何も登録していません（問題 {errors} 件）。"
                         f" / the file was refused ({errors} problems); nothing was applied.\n")
        raise InputRejected("取込を中止しました / import refused")


def _rows_of(inputs: Sequence[DoseInput], positions: Sequence[int]) -> set[int]:
    """Source row numbers of the inputs at ``positions`` (from their ``ref`` "<file>:<row>")."""
    out: set[int] = set()
    for i in positions:
        _, row = services.parse_ref(inputs[i].ref)
        if row is not None:
            out.add(row)
    return out


def _errors_by_message(problems: Sequence[Problem], out: dict[int, list[hl7_vxu.Hl7Error]]) -> None:
    """Validation problems of HL7 inputs (file "<name>#<k>:RXA(<n>)") as ERR entries of message k."""
    import re

    for p in problems:
        m = re.search(r"#(\d+):RXA\((\d+)\)$", p.file)
        if not m:
            continue
        field = {"PID-3": 3, "RXA-3": 3, "RXA-5": 5, "RXA-6": 6, "RXA-11": 11, "RXA-15": 15, "RXA-17": 17}
        seg = "PID" if p.column == "PID-3" else "RXA"
        out.setdefault(int(m.group(1)), []).append(hl7_vxu.Hl7Error(
            seg, 1 if seg == "PID" else int(m.group(2)), field.get(p.column or ""), hl7_vxu.E_TABLE if
            p.severity == ERROR else "0", p.message, "E" if p.severity == ERROR else "W"))
