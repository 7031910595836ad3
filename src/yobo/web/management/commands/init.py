"""``yobo init``: create or migrate the database, create missing keys, record the city.

``--demo-operator`` also creates the administrator ``demo-admin`` and the terminal
``demo-terminal`` and prints how to use them (CONTRACTS.md).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from yobo.access.municipality import is_valid

KEY_WARNING = (
    "注意: 鍵は {dir} に作成されます。本番環境の鍵はこのサーバーの外の鍵保管庫（HSM・KMS等）に置いてください。"
    " / Warning: keys are created in {dir}; production keys belong in a key store outside the host."
)


def _secret_key_file(key_dir: Path) -> list[str]:
    path = key_dir / "django-secret.key"
    if path.exists():
        return []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(50))
    return [f"セッション署名鍵を作成しました: {path} / Created the Django secret key {path}."]


def _app_keys() -> list[str]:
    """Ask each app that holds keys to create missing ones (skipped if the app is not there yet)."""
    out: list[str] = []
    for module, func in (("yobo.mynumber.keys", "ensure_keys"), ("yobo.audit.signing", "ensure_key"),
                         ("yobo.certificates.issuer_keys", "ensure_keys")):
        try:
            mod = __import__(module, fromlist=[func])
            fn = getattr(mod, func)
        except (ImportError, AttributeError):
            out.append(f"{module}.{func} がまだありません。スキップしました。 / {module}.{func} missing; skipped.")
            continue
        out.extend(fn())
    return out


def run_init(municipality: str, *, demo_operator: bool, stdout: Any = None, base_url: str = "") -> dict[str, Any]:
    """The work of ``yobo init``; returns what was done (and, with demo_operator, the credentials)."""
    code = (municipality or "").strip()
    if not is_valid(code):
        raise CommandError(
            f"地方公共団体コード「{code}」が正しくありません（6桁、最後の桁は検査数字）。 "
            f"/ Invalid municipality code {code!r} (6 digits with check digit).", returncode=2)
    var_dir = Path(settings.VAR_DIR)
    key_dir = Path(settings.KEY_DIR)
    var_dir.mkdir(parents=True, exist_ok=True)
    created_key_dir = not key_dir.exists()
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    notes: list[str] = []
    if created_key_dir:
        notes.append(KEY_WARNING.format(dir=key_dir))
    notes += _secret_key_file(key_dir)
    call_command("migrate", interactive=False, verbosity=0)
    notes += _app_keys()
    recorded = var_dir / "municipality"
    if not recorded.exists() or recorded.read_text().strip() != code:
        recorded.write_text(code + "\n")
        notes.append(f"地方公共団体コード {code} を記録しました: {recorded} / Recorded municipality code {code}.")
    env_code = os.environ.get("YOBO_MUNICIPALITY")
    if env_code and env_code != code:
        notes.append(f"注意: 環境変数 YOBO_MUNICIPALITY={env_code} が優先されます。 / YOBO_MUNICIPALITY overrides it.")
    result: dict[str, Any] = {"municipality": code, "var_dir": str(var_dir), "key_dir": str(key_dir),
                              "notes": notes}
    if demo_operator:
        from django_otp.oath import totp

        from yobo.access.services import bootstrap_demo

        demo = bootstrap_demo(municipality=code)
        dev = demo["device"]
        from base64 import b32encode

        base = base_url.rstrip("/") or "http://localhost:8000"
        result["demo"] = {
            "username": demo["staff"].username,
            "password": demo["password"],
            "totp_secret": b32encode(dev.bin_key).decode(),
            "totp_uri": dev.config_url,
            "totp_now": f"{totp(dev.bin_key, step=dev.step, t0=dev.t0, digits=dev.digits):0{dev.digits}d}",
            "terminal": demo["terminal"].name,
            "enroll_url": f"{base}/terminal/enroll/{demo['enroll_code']}/",
            "env": {"YOBO_OPERATOR": "demo-admin", "YOBO_TERMINAL": "demo-terminal"},
        }
    return result


def render_text(result: dict[str, Any]) -> str:
    lines = [*result["notes"], f"データベースを作成・更新しました（地方公共団体コード {result['municipality']}）。"
             " / Database created or migrated."]
    d = result.get("demo")
    if d:
        lines += [
            "",
            "== デモ用の管理者と端末 / demo administrator and terminal ==",
            "1. このブラウザを端末として登録 / register your browser as the terminal (一度だけ, 24時間有効):",
            f"   {d['enroll_url']}",
            f"2. ログイン / log in:  ユーザーID {d['username']}   パスワード {d['password']}",
            "3. 確認コード / second factor: 認証アプリに次のキーを登録 / add this key to an authenticator app:",
            f"   {d['totp_secret']}",
            f"   (いまのコード / current code: {d['totp_now']} — 30秒ごとに変わります / changes every 30 s)",
            "",
            "CLI から操作するときは次の2行を export してください / export these for the yobo command:",
            *(f"{k}={v}" for k, v in d["env"].items()),
        ]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "データベースの作成・更新と鍵の作成 / create or migrate the database and create missing keys"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--municipality", default=None,
                            help="地方公共団体コード (6桁, default: the recorded one or 141003)")
        parser.add_argument("--demo-operator", action="store_true",
                            help="デモ用の管理者 demo-admin と端末 demo-terminal を作成 / create the demo operator")
        parser.add_argument("--base-url", default="http://localhost:8000", help="URL printed in the enrolment link")
        parser.add_argument("--json", action="store_true", help="JSON出力 / print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["municipality"] or settings.MUNICIPALITY_CODE
        result = run_init(code, demo_operator=options["demo_operator"], base_url=options["base_url"])
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        else:
            self.stdout.write(render_text(result))
