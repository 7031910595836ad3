"""Base class for ``yobo`` commands that act as a named operator from a registered terminal."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from yobo.core.context import AccessContext
from yobo.core.errors import YoboError
from yobo.core.purposes import Purpose

from .context import context_for_operator


class OperatorCommand(BaseCommand):
    """Adds ``--as USER`` and ``--json``; maps yobo errors to the exit codes of CONTRACTS.md."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--as", dest="operator", default=None, help="操作職員 (default: $YOBO_OPERATOR)")
        parser.add_argument("--json", action="store_true", help="JSON出力 / print JSON")
        return parser

    def context(self, purpose: Purpose | str, options: dict[str, Any]) -> AccessContext:
        return context_for_operator(purpose, options.get("operator"))

    def emit(self, options: dict[str, Any], data: Any, text: str) -> None:
        if options.get("json"):
            self.stdout.write(json.dumps(data, ensure_ascii=False, default=str))
        else:
            self.stdout.write(text)

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except YoboError as exc:
            if getattr(self, "_called_from_command_line", False):
                # From the shell: the message once, without Django's "CommandError:" prefix, and the exit code.
                sys.stderr.write(f"{exc}\n")
                raise SystemExit(exc.exit_code) from exc
            raise CommandError(str(exc), returncode=exc.exit_code) from exc
