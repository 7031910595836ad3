"""``yobo exchange keys init|show``, ``register-copies``, ``query``, ``inbox``, ``answer``, ``send``,
``purge``, ``reconcile``, ``records`` (CONTRACTS.md §6).

Acts as the operator (``--as`` / ``YOBO_OPERATOR``) from ``YOBO_TERMINAL``; each subcommand
states its purpose (X01 照会, X02 提供, X03 副本登録, G02 削除). Exit 0 ok, 1 the hub is
unreachable (the work is queued), 2 rejected input, 3 not permitted. Never prints a My Number.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.core.errors import InputRejected, YoboError
from yobo.core.purposes import Purpose
from yobo.exchange import crypto, keys, selectors, services
from yobo.exchange.client import HubRefused, HubUnavailable


class HubDown(YoboError):
    exit_code = 1


class Command(OperatorCommand):
    help = "情報連携 (中間サーバー) / exchange with other municipalities through the hub"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
            p.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員")
            p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力")
            return p

        k = common(sub.add_parser("keys", help="鍵の作成・表示 / create or show this city's keys"))
        k.add_argument("kcmd", choices=["init", "show"])
        k.add_argument("--linkage-key", type=Path, default=None,
                       help="共通の連携鍵ファイルを取り込む / import the linkage key")
        k.add_argument("--hub-key", type=Path, default=None,
                       help="中継サーバーの公開鍵 (yobo hub keys show の出力) / the hub's public key")
        rc = common(sub.add_parser("register-copies", help="副本登録 / register copies from the dose records"))
        rc.add_argument("--atena", action="append", default=None, help="この宛名のみ (繰返し可) / only these persons")
        cd = common(sub.add_parser("codes", help="符号取得 (副本のない人も) / linkage codes for these persons"))
        cd.add_argument("--atena", action="append", required=True, help="宛名番号 (繰返し可)")
        q = common(sub.add_parser("query", help="情報照会 / query another municipality"))
        q.add_argument("--atena", required=True)
        q.add_argument("--from", dest="provider", required=True, help="照会先の地方公共団体コード")
        q.add_argument("--items", default="immunization_history", help="immunization_history | resident_tax_status")
        q.add_argument("--tax-year", type=int, default=None, help="税情報の年度 / the 年度 of a tax query")
        common(sub.add_parser("inbox", help="受信・自動回答 / receive, answer, store results"))
        common(sub.add_parser("send", help="送信待ちの再送 / retry what waits for the hub"))
        a = common(sub.add_parser("answer", help="確認待ちの回答 / review held answers"))
        a.add_argument("--list", action="store_true", help="確認待ち一覧 / list held answers")
        a.add_argument("--release", type=int, default=None, metavar="ID", help="確認の上で提供 / send it")
        a.add_argument("--withhold", type=int, default=None, metavar="ID", help="提供しない / answer nothing")
        st = common(sub.add_parser("status", help="照会の状況 / queries sent"))
        st.add_argument("--atena", default=None)
        p = common(sub.add_parser("purge", help="照会結果の削除 / delete old query results"))
        p.add_argument("--days", type=int, default=None)
        r = common(sub.add_parser("reconcile", help="副本と原本の照合 / copy versus original"))
        r.add_argument("--out", type=Path, default=None, help="差異のCSV / differences as CSV")
        common(sub.add_parser("records", help="情報提供等記録 (中継サーバー) / provision records at the hub"))
        dp = common(sub.add_parser("demo-prepare", help="デモ用: 医療機関等のマスタと支援措置の申請 / demo masters"))
        dp.add_argument("--protect", action="append", default=[], metavar="ATENA",
                        help="支援措置の設定を申請 (確認待ちも自動回答されない) / request protection")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"].replace("-", "_"))(options)
        except HubUnavailable as exc:
            raise HubDown(f"中継サーバーに接続できません。後で再実行してください。 / The hub is unreachable ({exc}).") \
                from None
        except HubRefused as exc:
            raise InputRejected(f"中継サーバーが拒否しました: {exc} / The hub refused ({exc.reason}).") from None
        except crypto.MessageRejected as exc:
            raise HubDown(str(exc)) from None
        except FileNotFoundError as exc:
            raise InputRejected(str(exc)) from None

    def _keys(self, o: dict[str, Any]) -> None:
        if o["kcmd"] == "init":
            out = keys.init(linkage_key=o["linkage_key"], hub_key=o["hub_key"])
            sys.stderr.write("注意: 本番の鍵はホスト外の鍵保管庫に置いてください。"
                             " / Production keys belong in a key store outside the host.\n")
        else:
            out = keys.show()
        import json

        self.emit(o, out, json.dumps(out, ensure_ascii=False, indent=1) + "\n")

    def _register_copies(self, o: dict[str, Any]) -> None:
        ctx = self.context(Purpose.COPY_REGISTRATION, o)
        s = services.register_copies(ctx, atena_nos=o["atena"])
        data = {"run_id": s.run_id, "persons": s.persons, "inserted": s.inserted, "updated": s.updated,
                "deleted": s.deleted, "unchanged": s.unchanged, **{f"codes_{k}": v for k, v in s.codes.items()}}
        self.emit(o, data, f"副本登録 {s.run_id}: 対象 {s.persons}人 追加{s.inserted} 更新{s.updated} 削除{s.deleted} "
                           f"変更なし{s.unchanged} 符号取得{s.codes['acquired']} 番号未登録{s.codes['no_number']}\n")

    def _codes(self, o: dict[str, Any]) -> None:
        out = services.acquire_codes(self.context(Purpose.COPY_REGISTRATION, o), o["atena"])
        self.emit(o, out, f"符号取得 {out['acquired']} 取得済み {out['held']} 番号未登録 {out['no_number']}\n")

    def _query(self, o: dict[str, Any]) -> None:
        ctx = self.context(Purpose.EXCHANGE_QUERY, o)
        params = {"tax_year": o["tax_year"]} if o["tax_year"] is not None else None
        qid = services.send_query(ctx, o["atena"], o["provider"], o["items"], params)
        q = selectors.query(ctx, qid)
        if q is None:  # pragma: no cover - just created
            raise InputRejected(f"照会 {qid} がありません。 / No query {qid}.")
        self.emit(o, {"query_id": qid, "state": q.state, "error": q.last_error},
                  f"照会 {qid}: {q.state_label} {q.last_error}\n")
        if q.state == "refused":
            raise InputRejected(f"照会は拒否されました: {q.last_error} / The query was refused.")

    def _inbox(self, o: dict[str, Any]) -> None:
        s = services.poll(self.context(Purpose.EXCHANGE_PROVISION, o))
        data = {"received": s.received, "rejected": s.rejected, "answered": s.answered, "held": s.held,
                "results": s.results}
        self.emit(o, data, f"受信 {s.received} (拒否 {s.rejected}) 自動回答 {s.answered} 確認待ち {s.held} "
                           f"照会結果 {s.results}\n")

    def _send(self, o: dict[str, Any]) -> None:
        self.emit(o, services.flush(self.context(Purpose.EXCHANGE_QUERY, o)), "")

    def _answer(self, o: dict[str, Any]) -> None:
        ctx = self.context(Purpose.EXCHANGE_PROVISION, o)
        if o["release"] is not None or o["withhold"] is not None:
            pid = o["release"] if o["release"] is not None else o["withhold"]
            services.decide_held(ctx, pid, release=o["release"] is not None)
            self.emit(o, {"id": pid, "released": o["release"] is not None}, f"{pid}: 送信しました / sent\n")
            return
        rows = selectors.held(ctx)
        data = [{"id": p.id, "asker": p.asker, "atena_no": p.atena_no, "received_at": p.received_at,
                 "items": p.answer} for p in rows]
        text = "\n".join(f"{p.id}\t{p.received_at:%Y-%m-%d %H:%M}\t照会元 {p.asker}\t宛名 {p.atena_no}\t"
                         f"{len(p.answer or [])}件" for p in rows) or "(確認待ちなし / nothing held)"
        self.emit(o, data, text + "\n")

    def _status(self, o: dict[str, Any]) -> None:
        rows = selectors.queries(self.context(Purpose.EXCHANGE_QUERY, o), atena_no=o["atena"])
        data = [{"query_id": q.query_id, "atena_no": q.atena_no, "provider": q.provider, "item_set": q.item_set,
                 "state": q.state, "created_at": q.created_at, "result": q.result} for q in rows]
        self.emit(o, data, "\n".join(f"{q.query_id}\t{q.created_at:%Y-%m-%d %H:%M}\t{q.atena_no}\t→{q.provider}\t"
                                     f"{q.state_label}" for q in rows) + "\n")

    def _purge(self, o: dict[str, Any]) -> None:
        out = services.purge(self.context(Purpose.RETENTION, o), days=o["days"])
        self.emit(o, out, f"照会結果を削除 {out['purged']} 件 (中断 {out['abandoned']}, "
                          f"提供記録 {out['provisions']})\n")

    def _reconcile(self, o: dict[str, Any]) -> None:
        r = services.reconcile(self.context(Purpose.COPY_REGISTRATION, o), out=o["out"])
        r.pop("items")
        self.emit(o, r, f"原本 {r['original']} 副本 {r['copy']} 差異 {r['differences']} "
                        f"(副本になし {r['missing_in_copy']}, 原本になし {r['extra_in_copy']}, "
                        f"接種日違い {r['date_differs']}) {r['file'] or ''}\n")
        if r["differences"]:
            n = r["differences"]
            raise IntegrityMismatch(f"副本と原本に差異が {n} 件あります。 / {n} differences between copy and original.")

    def _records(self, o: dict[str, Any]) -> None:
        rows = services.hub_records(self.context(Purpose.EXCHANGE_QUERY, o))
        self.emit(o, rows, "\n".join(f"{r['at']}\t{r['event']}\t{r['asker']}→{r['provider']}\t{r['clause']}\t"
                                     f"{r['outcome']}\t{r['detail']}" for r in rows) + "\n")


    def _demo_prepare(self, o: dict[str, Any]) -> None:
        from yobo.exchange import demo

        out = demo.prepare_city(self.context(Purpose.DOSE_IMPORT, o), protect=o["protect"])
        self.emit(o, out, f"マスタ {out['masters']} 支援措置申請 {out['protection_requests']}\n")


class IntegrityMismatch(YoboError):
    exit_code = 1
