"""``yobo doses import FILE --format clinic|vrs|hl7 [--skip-invalid] [--json]`` (CONTRACTS.md §5, issue 5).

Acts as the operator (``--as`` / ``YOBO_OPERATOR``) from ``YOBO_TERMINAL`` under purpose V02
(接種記録の取込). The CSV formats go through ``immunizations.dose_files``, as the staff page's
upload does. Atomic like the resident import (decision 051): the file is read and checked
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
from yobo.immunizations import dose_files, services
from yobo.immunizations.formats import hl7_vxu, vrs_csv
from yobo.immunizations.inputs import DoseInput, Source
from yobo.people.extract import rejected_path, write_rejected

FORMATS = ("clinic", "vrs", "hl7")

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
        try:
            out = dose_files.import_csv(ctx, path, fmt, encoding=options["encoding"], vaccine=options["vaccine"],
                                        skip_invalid=options["skip_invalid"])
        except dose_files.DoseFileRefused as exc:
            self._refuse(options, exc.outcome.as_json(), exc.outcome.problems)
        for p in out.problems:
            self.stderr.write(str(p))
        summary = {**out.as_json(), "rejected_file": None}
        if out.rejected:
            summary["rejected_file"] = str(write_rejected(rejected_path(path), out.header, out.rejected))
        r = out.result
        assert r is not None  # noqa: S101 - applied: import_csv raised otherwise
        text = (f"取込完了 (バッチ {r.batch_id}): 新規 {r.inserted} / 登録済み {r.unchanged}"
                f" / 不正 {len(out.rejected)} 行 / 警告付き {r.with_warnings}\n"
                f"imported (batch {r.batch_id}): inserted {r.inserted}, unchanged {r.unchanged},"
                f" rejected rows {len(out.rejected)}, with warnings {r.with_warnings}\n")
        if summary["rejected_file"]:
            text += f"不正な行 / rejected rows: {summary['rejected_file']}\n"
        self.emit(options, summary, text)

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
