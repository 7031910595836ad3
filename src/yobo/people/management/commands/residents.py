"""``yobo residents import FILE [--full] [--skip-invalid] [--json]`` (CONTRACTS.md §1), and
``yobo residents batches`` / ``yobo residents absent BATCH_ID``; ``yobo residents jukinet-check
FILE`` / ``yobo residents jukinet-findings [BATCH_ID]`` (住基ネットによる住登外者の整合性確認,
docs/formats/jukinet.md).

Acts as the operator (``--as`` / ``YOBO_OPERATOR``) from ``YOBO_TERMINAL`` under purpose P01
(住民記録の連携); the 住基ネット check under P03 (住登外者の登録).
Exit 0 applied, 2 rejected (nothing applied; every problem on stderr with file,
row, column and reason), 3 not permitted. Never prints a My Number.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from django.core.management.base import CommandError, CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.purposes import Purpose
from yobo.people import jukinet, review, selectors, services
from yobo.people.extract import Problem

# what a batch's summary says of why a file was refused (or let in only because staff said so)
_NOTES = (("problems", "問題"), ("backdated", "遡った異動日"), ("mass_absent", "多数の不在"))


def _batch_notes(summary: dict[str, Any]) -> str:
    return "".join(f" {label}{summary[key]}" for key, label in _NOTES if summary.get(key))


class Command(OperatorCommand):
    help = "住民記録の取込 / import the resident-register extract"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
            p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力")
            return p

        imp = common(sub.add_parser("import", help="連携ファイルの取込 / import an extract file"))
        imp.add_argument("file")
        imp.add_argument("--full", action="store_true",
                         help="全件ファイル: ない人を一覧にする (削除しない) / complete snapshot: list absent persons")
        imp.add_argument("--skip-invalid", action="store_true",
                         help="正しい行だけ取り込み、不正行を <名前>.rejected.csv に書く / apply valid rows only")
        imp.add_argument("--allow-backdated", action="store_true",
                         help="異動日が記録より前の行も取り込む (住民記録システムの訂正を確認したとき) /"
                              " apply rows whose 異動日 is earlier than the record's (confirmed corrections)")
        imp.add_argument("--allow-mass-absent", action="store_true",
                         help=f"全件ファイルに記録上の人の{services.MASS_ABSENT_SHARE:.0%}%超がなくても取り込む"
                              " (正しいファイルと確かめたとき) / with --full, apply even if the file leaves out over"
                              f" {services.MASS_ABSENT_SHARE:.0%}% of the persons on record")
        imp.add_argument("--encoding", default="auto", choices=["auto", "utf-8", "cp932"])
        imp.add_argument("--as-of", type=date.fromisoformat, default=None,
                         help="基準日 (生年月日の未来日チェック) / reference date")
        imp.add_argument("--no-progress", action="store_true", help="進捗表示なし / no progress bar")
        common(sub.add_parser("batches", help="取込履歴 / recent import batches"))
        ab = common(sub.add_parser(
            "absent", help="全件取込でファイルになかった宛名 / persons absent from a --full batch"
        ))
        ab.add_argument("batch_id", type=int)
        rv = common(sub.add_parser(
            "review", help="確認したことを記録 (ファイルにない宛名・住基ネット確認の要確認) / record a review"
        ))
        rv.add_argument("batch_id", type=int)
        rv.add_argument("atena_no")
        rv.add_argument("--note", required=True, help="確認した内容 (番号は書かない) / what you found (no numbers)")
        jk = common(sub.add_parser(
            "jukinet-check", help="住基ネットの本人確認情報で住登外者を更新 / check the 住登外者 against an answer"
        ))
        jk.add_argument("file")
        jk.add_argument("--encoding", default="auto", choices=["auto", "utf-8", "cp932"])
        jk.add_argument("--as-of", type=date.fromisoformat, default=None,
                        help="基準日 (生年月日の未来日チェック) / reference date")
        jf = common(sub.add_parser(
            "jukinet-findings", help="住基ネット確認で要確認となった住登外者 / what a check left for staff"
        ))
        jf.add_argument("batch_id", type=int, nargs="?", default=None, help="省略時は最新 / latest when omitted")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "review":
            self._review(options)
            return
        if action.startswith("jukinet-"):
            self._jukinet(self.context(Purpose.NONRESIDENT_REGISTRATION, options), action, options)
            return
        ctx = self.context(Purpose.RESIDENT_SYNC, options)
        if action == "import":
            self._import(ctx, options)
        elif action == "batches":
            rows = selectors.batches(ctx)
            data = [{k: getattr(b, k) for k in b.__slots__} for b in rows]
            text = "\n".join(
                f"{b.id}\t{b.started_at:%Y-%m-%d %H:%M}\t{b.status}\t{b.mode}\t{b.file_name}\t{b.operator}\t"
                f"新規{b.inserted} 更新{b.updated} 変更なし{b.unchanged} 不正{b.rejected} 不在{b.absent}"
                + _batch_notes(b.summary)
                for b in rows
            ) or "(取込履歴なし / no batches)"
            self.emit(options, data, text + "\n")
        else:
            _, items = review.items(ctx, options["batch_id"])  # InputRejected: exit 2
            self.emit(options, [_item_json(i) for i in items], "".join(_item_line(i) for i in items))

    def _review(self, options: dict[str, Any]) -> None:
        # The purpose is the item's own (P01 absences, P03 findings): review.mark sets it.
        ctx = self.context(Purpose.RESIDENT_SYNC, options)
        n = review.mark(ctx, options["batch_id"], options["atena_no"], options["note"])  # InputRejected: exit 2
        self.emit(options, {"batch_id": options["batch_id"], "atena_no": options["atena_no"], "marked": n},
                  f"確認を記録しました ({n} 件: このバッチと、同じ項目を載せた後のバッチ)"
                  f" / review recorded on {n} row(s)\n")

    def _import(self, ctx: Any, options: dict[str, Any]) -> None:
        err = sys.stderr

        def show(p: Problem) -> None:
            err.write(f"{p}\n")

        try:
            s = services.import_residents(
                ctx, options["file"], full=options["full"], skip_invalid=options["skip_invalid"],
                allow_backdated=options["allow_backdated"], allow_mass_absent=options["allow_mass_absent"],
                encoding=options["encoding"], as_of=options["as_of"],
                progress=not options["no_progress"] and err.isatty(), on_problem=show,
            )
        except services.ImportRejected as exc:
            if options.get("json"):
                self.stdout.write(json.dumps(exc.summary.as_json(), ensure_ascii=False))
            err.write(f"{exc}\n")
            raise CommandError("取込を中止しました / import refused", returncode=exc.exit_code) from None
        text = (
            f"取込完了 (バッチ {s.batch_id}): 新規 {s.inserted} / 更新 {s.updated} / 変更なし {s.unchanged}"
            f" / 不正 {s.rejected} / ファイルにない {s.absent}\n"
            f"imported (batch {s.batch_id}): inserted {s.inserted}, updated {s.updated}, unchanged {s.unchanged},"
            f" rejected {s.rejected}, absent {s.absent}\n"
        )
        if s.rejected_file:
            text += f"不正な行 / rejected rows: {s.rejected_file}\n"
        if s.absent:
            text += (
                f"ファイルにない宛名 {s.absent} 件は削除していません。確認してください:"
                f" yobo residents absent {s.batch_id}"
                f" / {s.absent} persons absent from the snapshot were kept; review them.\n"
            )
        self.emit(options, s.as_json(), text)

    def _jukinet(self, ctx: Any, action: str, options: dict[str, Any]) -> None:
        if action == "jukinet-findings":
            batch, rows = jukinet.findings(ctx, options["batch_id"])
            if batch is None:
                raise CommandError("住基ネット確認の履歴がありません / no such check", returncode=2)
            data = {"batch_id": batch.pk, "findings": [_item_json(f) for f in rows]}
            text = f"バッチ {batch.pk} ({batch.started_at:%Y-%m-%d %H:%M}, {batch.file_name})\n" + "".join(
                f"{f.row}行目\t" + _item_line(f) for f in rows
            ) + ("" if rows else "要確認はありません / nothing to review\n")
            self.emit(options, data, text)
            return
        err = sys.stderr

        def show(p: Problem) -> None:
            err.write(f"{p}\n")

        try:
            s = jukinet.check(ctx, options["file"], encoding=options["encoding"], as_of=options["as_of"],
                              on_problem=show)
        except jukinet.CheckRejected as exc:
            if options.get("json"):
                self.stdout.write(json.dumps(exc.summary.as_json(), ensure_ascii=False))
            err.write(f"{exc}\n")
            raise CommandError("取込を中止しました / check refused", returncode=exc.exit_code) from None
        held = sum(s.findings.values())
        text = (
            f"住基ネット確認 (バッチ {s.batch_id}): 更新 {s.updated} / 変更なし {s.unchanged} / 要確認 {held}\n"
            f"checked (batch {s.batch_id}): updated {s.updated}, unchanged {s.unchanged}, to review {held}\n"
        )
        if s.status_changes:
            changes = ", ".join(f"{k} {v}" for k, v in s.status_changes.items())
            text += f"住民区分の変更 / status changes: {changes}\n"
        if held:
            text += f"要確認の一覧 / to review: yobo residents jukinet-findings {s.batch_id}\n"
        self.emit(options, s.as_json(), text)


def _item_json(i: review.ReviewItem) -> dict[str, Any]:
    return {"atena_no": i.atena_no, "code": i.code, "label": i.label, "row": i.row, "status": i.status,
            "reviewed": i.reviewed, "reviewed_by": i.reviewed_by,
            "reviewed_at": i.reviewed_at.isoformat() if i.reviewed_at else None, "review_note": i.review_note}


def _item_line(i: review.ReviewItem) -> str:
    done = f"確認済 {i.reviewed_at:%Y-%m-%d} {i.reviewed_by}: {i.review_note}" if i.reviewed_at else "未確認"
    return f"{i.atena_no}\t{i.name_kanji or '—'}\t{i.status_label}\t{i.label}\t{done}\n"
