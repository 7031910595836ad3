"""``yobo demo``: init, the demo operator, and the staff web UI on http://localhost:PORT/."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from .init import render_text, run_init


class Command(BaseCommand):
    help = "デモ市を準備して起動 / set up and serve the demo city"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="準備だけ行う / set up only")
        parser.add_argument(
            "--code", action="store_true",
            help="demo-admin の現在の確認コードを表示 / print demo-admin's current TOTP code (demo only)",
        )
        parser.add_argument("--cities", type=int, choices=[1, 2], default=1,
                            help="2: 中継サーバーと2市を別プロセスで起動 / the hub and two cities (exchange demo)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["code"]:
            self.stdout.write(demo_totp_code())
            return
        if options["cities"] == 2:
            from pathlib import Path

            from yobo.exchange.demo import run_two_cities

            base = Path(settings.VAR_DIR) / "two-cities"
            raise SystemExit(run_two_cities(base, port=options["port"], serve=not options["no_serve"],
                                            out=self.stdout))
        port = options["port"]
        result = run_init(settings.MUNICIPALITY_CODE, demo_operator=True, base_url=f"http://localhost:{port}")
        self.stdout.write(render_text(result))
        self.stdout.write(
            "   認証アプリがない場合の現在のコード / current code without an app:  .venv/bin/yobo demo --code\n"
        )
        self._demo_city()
        if options["no_serve"]:
            return
        self.stdout.write(f"\nhttp://localhost:{port}/ で起動します（終了は Ctrl+C） / serving, Ctrl+C to stop\n")
        self.stdout.flush()
        # --insecure: serve static files without DEBUG; this is the local demo, not production.
        call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, insecure_serving=True)

    def _demo_city(self) -> None:
        """The demo city's residents (synthetic, fixed seed), loaded once as demo-admin on demo-terminal."""
        from yobo.access.context import context_for_operator
        from yobo.core.purposes import Purpose
        from yobo.people.services import ensure_demo_changes, ensure_demo_city

        ctx = context_for_operator(Purpose.RESIDENT_SYNC, "demo-admin", "demo-terminal")
        s = ensure_demo_city(ctx, settings.VAR_DIR)
        if s is not None:
            self.stdout.write(f"デモ市の住民 {s.inserted} 人を取り込みました / loaded {s.inserted} demo residents\n")
        from yobo.immunizations.services import ensure_demo_doses

        d = ensure_demo_doses(ctx.for_purpose(Purpose.DOSE_IMPORT), settings.VAR_DIR)
        if d is not None:
            self.stdout.write(f"デモ市の接種記録 {d.inserted} 件を取り込みました / loaded {d.inserted} demo doses\n")
        # after the doses, which the synthetic dose history draws from the first extract
        c = ensure_demo_changes(ctx, settings.VAR_DIR)
        if c is not None:
            self.stdout.write(f"デモ市の翌日の異動（新規 {c.inserted}・更新 {c.updated}）を取り込みました / loaded the "
                              f"next day's changes: {c.inserted} new, {c.updated} updated\n")
        n = demo_second_staff_work()
        if n:
            self.stdout.write(f"{DEMO_CLERK} の申請 {n} 件が確認待ちです（demo-admin が確認します） / {n} requests by "
                              f"{DEMO_CLERK} wait for a second staff member\n")


DEMO_CLERK = "demo-clerk"


def demo_second_staff_work() -> int:
    """The demo's clerk (``demo-clerk``, a 予防接種事務担当 without a login: no password is shown and
    no second factor is set up) and what they entered for a second staff member to confirm (住登外者
    applications, a 支援措置 request), so that demo-admin sees the two-staff confirmation at work.
    Once: nothing is entered when the clerk exists already. Returns how many requests were entered."""
    from yobo.access import selectors as staff
    from yobo.access import services as access
    from yobo.access.context import context_for_operator
    from yobo.core.errors import InputRejected
    from yobo.core.purposes import Duty, Purpose
    from yobo.people.services import ensure_demo_requests

    admin = context_for_operator(Purpose.ADMINISTRATION, "demo-admin", "demo-terminal")
    try:
        staff.get_staff(admin, DEMO_CLERK)
        return 0
    except InputRejected:
        pass
    access.create_staff(admin, username=DEMO_CLERK, last_name="窓口", first_name="一郎", department="hoken",
                        duties=[str(Duty.CLERK)], mynumber_right=True)
    clerk = context_for_operator(Purpose.NONRESIDENT_REGISTRATION, DEMO_CLERK, "demo-terminal")
    return ensure_demo_requests(clerk, clerk.for_purpose(Purpose.PROTECTION_MEASURE))


def demo_totp_code() -> str:
    """The current TOTP code of the demo administrator, for trying the demo without an authenticator app.

    Only ever for ``demo-admin``: a real account's second factor is the person's own device.
    """
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    dev = TOTPDevice.objects.filter(user__username="demo-admin", confirmed=True).first()
    if dev is None:
        return "demo-admin の確認コード端末がありません。先に yobo demo を実行してください。 / run yobo demo first."
    code = totp(dev.bin_key, dev.step, dev.t0, dev.digits, dev.drift)
    return f"{code:0{dev.digits}d}"
