"""``yobo certificates issue|verify|jwks|revoke|keys rotate`` (CONTRACTS.md §4)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from yobo.access.cli import OperatorCommand
from yobo.audit.door import door
from yobo.core.errors import InputRejected, IntegrityBroken
from yobo.core.purposes import Operation, Purpose

from ... import issuer_keys, pdf, selectors, services
from ...verify import read_cards, read_input, verify

_JWS_LIKE = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")


def project_keyset() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The project's published key set (with crlVersion) and its revocation lists."""
    keyset = issuer_keys.public_jwks(selectors.crl_versions())
    return keyset, selectors.revocation_lists([k["kid"] for k in keyset["keys"]])


def write_outputs(ctx: Any, certificate_id: str, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<id>.pdf`` and ``<id>.shc`` (one ``shc:/`` line per card) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = selectors.certificate_document(ctx, certificate_id)
    pdf_path = pdf.render(doc, out_dir / f"{certificate_id}.pdf", settings.MUNICIPALITY_CODE)
    shc_path = out_dir / f"{certificate_id}.shc"
    shc_path.write_text("\n".join(doc.certificate.numerics) + "\n", encoding="ascii")
    return pdf_path, shc_path


class Command(OperatorCommand):
    help = "接種証明書: 交付・検証・鍵 / vaccination certificates: issue, verify, keys"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        common: Any = argparse.ArgumentParser(add_help=False)
        common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON出力 / print JSON")
        common.add_argument("--as", dest="operator", default=argparse.SUPPRESS, help="操作職員 / operator")
        i = sub.add_parser("issue", parents=[common], help="証明書の交付 (PDF と shc:/) / issue a certificate")
        i.add_argument("--atena", required=True, help="宛名番号")
        i.add_argument("--out", required=True, help="出力先ディレクトリ / output directory")
        i.add_argument("--lang", choices=["ja", "en"], default="ja", help="ja 国内用 / en 海外用")
        i.add_argument("--romanised-name", default="", help="ローマ字氏名 (旅券の表記; en では必須)")
        i.add_argument("--passport", default="", help="旅券番号 / passport number")
        i.add_argument("--nationality", default="", help="国籍 (ISO 3166 alpha-3, e.g. JPN)")
        v = sub.add_parser("verify", parents=[common], help="証明書の検証 (オフライン) / verify a card offline")
        v.add_argument("card", help="ファイル (shc:/ テキスト, .smart-health-card) または shc:/ テキスト")
        v.add_argument("--jwks", default=None, help="発行者の鍵一覧 (JWKS) のファイル; 省略時はこのシステムの鍵")
        v.add_argument("--crl", action="append", default=[], help="失効リスト (crl/<kid>.json) のファイル")
        sub.add_parser("jwks", parents=[common], help="発行者の公開鍵一覧 / the issuer key set (public keys)")
        r = sub.add_parser("revoke", parents=[common], help="誤交付の取消 / revoke a certificate issued in error")
        r.add_argument("certificate_id")
        r.add_argument("--reason", required=True, help="取消の理由")
        k = sub.add_parser("keys", help="発行者鍵 / issuer keys")
        ksub = k.add_subparsers(dest="key_action", required=True)
        ksub.add_parser("rotate", parents=[common], help="新しい鍵に切り替える / make a new signing key")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "issue":
            self._issue(options)
        elif action == "verify":
            self._verify(options)
        elif action == "jwks":
            keyset, _ = project_keyset()
            self.stdout.write(json.dumps(keyset, indent=None if options.get("json") else 1))
        elif action == "revoke":
            ctx = self.context(Purpose.CERTIFICATE_ISSUANCE, options)
            services.revoke(ctx, options["certificate_id"], options["reason"])
            self.emit(options, {"certificate_id": options["certificate_id"], "revoked": True},
                      f"証明書 {options['certificate_id']} を取り消しました。 / Revoked.")
        elif action == "keys":
            ctx = self.context(Purpose.ADMINISTRATION, options)
            with door(ctx, Operation.ADMIN, resource="certificates.issuer_key") as rec:
                new, old, dropped = issuer_keys.rotate()
                rec.detail = f"rotate new={new} retired={old} dropped={len(dropped)}"
            self.emit(options, {"kid": new, "retired": old, "dropped": dropped},
                      f"新しい発行者鍵 {new} に切り替えました。旧鍵 {old} の公開鍵は鍵一覧に残します。"
                      f" / Now signing with {new}; the public key of {old} stays in the key set.")

    def _issue(self, options: dict[str, Any]) -> None:
        ctx = self.context(Purpose.CERTIFICATE_ISSUANCE, options)
        issued = services.issue_for_atena(
            ctx, options["atena"], language=options["lang"], romanised_name=options["romanised_name"],
            passport_no=options["passport"], nationality=options["nationality"])
        pdf_path, shc_path = write_outputs(ctx, issued.certificate_id, Path(options["out"]))
        self.emit(options, {"certificate_id": issued.certificate_id, "pdf": str(pdf_path), "shc": str(shc_path)},
                  f"証明書 {issued.certificate_id} を交付しました（接種 {issued.dose_count} 件）。\n"
                  f"PDF: {pdf_path}\nSHC: {shc_path}")

    def _verify(self, options: dict[str, Any]) -> None:
        arg = options["card"]
        if not arg.lower().startswith("shc:/") and not _JWS_LIKE.match(arg) and not Path(arg).is_file():
            raise InputRejected(f"ファイル {arg[:80]} がありません。 / No such file: {arg[:80]}")
        cards = read_input(arg)
        if options.get("jwks"):
            try:
                keyset = json.loads(Path(options["jwks"]).read_text(encoding="utf-8"))
                crls = {}
                for f in options["crl"]:
                    crl = json.loads(Path(f).read_text(encoding="utf-8"))
                    crls[str(crl["kid"])] = crl
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise InputRejected(f"鍵一覧または失効リストを読めません: {exc} / Cannot read the key set or CRL.") \
                    from None
        else:
            keyset, crls = project_keyset()
        results = [verify(c, keyset, crls) for c in cards or read_cards("")]
        lines = []
        for n, res in enumerate(results, start=1):
            head = f"[{n}/{len(results)}] " if len(results) > 1 else ""
            lines.append(head + ("有効 / VALID: " if res.ok else "無効 / INVALID: ") + res.message)
            if res.names:
                lines.append("  氏名 / name: " + " / ".join(res.names))
            if res.birth_date:
                lines.append("  生年月日 / birth date: " + res.birth_date)
            for d in res.doses:
                lines.append(f"  接種 / dose: {d.date} {d.vaccine}" + (f" lot {d.lot}" if d.lot else ""))
            if res.ok and not res.revocation_checked:
                lines.append("  注意: 失効リストを確認していません。 / note: revocation not checked.")
        self.emit(options, [r.as_dict() for r in results] if len(results) > 1 else results[0].as_dict(),
                  "\n".join(lines))
        if not all(r.ok for r in results):
            raise IntegrityBroken(next(r.message for r in results if not r.ok))
