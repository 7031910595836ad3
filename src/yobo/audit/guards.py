"""Append-only guards (追記専用の保護) at the database: triggers on the access-log tables.

On PostgreSQL, BEFORE UPDATE/DELETE row triggers and a BEFORE TRUNCATE statement trigger raise an
exception; on SQLite, BEFORE UPDATE/DELETE triggers ``RAISE(ABORT)`` (SQLite has no TRUNCATE; a
``DELETE`` without ``WHERE`` runs the row triggers when triggers exist). The one sanctioned removal
is archiving: a log row whose ``seq`` is covered by a recorded (and signed) archive may be deleted.
The chain head may only move forward.

Test databases: Django empties every table between transactional tests (TRUNCATE / DELETE). When the
triggers are installed under a test run, they also honour a per-connection switch that the test
session turns on (``yobo.audit_bypass`` on PostgreSQL, the ``yobo_audit_bypass()`` function on
SQLite); tests of the guards turn it off with :func:`enforced`. Production databases get triggers
without that clause. A person holding the table owner's rights can still drop the triggers: the
signed checkpoints are what catches such a person (see docs/decisions/020-audit-chain.md).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

LOG = "audit_access_log"
HEAD = "audit_chain_head"
APPEND_ONLY = ("audit_checkpoint", "audit_archive")
MESSAGE = "アクセスログは追記専用です (変更・削除はできません) / the access log is append-only"

_PG_BYPASS = """
  IF current_setting('yobo.audit_bypass', true) = 'on' THEN
    IF TG_LEVEL = 'ROW' AND TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    IF TG_LEVEL = 'ROW' THEN RETURN NEW; END IF;
    RETURN NULL;
  END IF;"""


def testing() -> bool:
    """True under the test runner: triggers then carry the test-session switch."""
    return bool(getattr(settings, "TESTING", False)) or "pytest" in sys.modules


def _pg_sql(bypass: bool) -> list[str]:
    b = _PG_BYPASS if bypass else ""
    raise_ = f"RAISE EXCEPTION '{MESSAGE} (% %)', TG_OP, TG_TABLE_NAME USING ERRCODE = '42501';"
    out = [
        f"""CREATE OR REPLACE FUNCTION yobo_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{b}
  {raise_}
END $$""",
        f"""CREATE OR REPLACE FUNCTION yobo_audit_log_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{b}
  IF OLD.seq <= (SELECT COALESCE(MAX(last_seq), 0) FROM audit_archive) THEN RETURN OLD; END IF;
  {raise_}
END $$""",
        f"""CREATE OR REPLACE FUNCTION yobo_audit_head_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{b}
  IF NEW.id = OLD.id AND NEW.seq >= OLD.seq THEN RETURN NEW; END IF;
  {raise_}
END $$""",
        f"CREATE TRIGGER yobo_audit_log_update BEFORE UPDATE ON {LOG} FOR EACH ROW "
        "EXECUTE FUNCTION yobo_audit_refuse()",
        f"CREATE TRIGGER yobo_audit_log_delete BEFORE DELETE ON {LOG} FOR EACH ROW "
        "EXECUTE FUNCTION yobo_audit_log_delete()",
        f"CREATE TRIGGER yobo_audit_log_truncate BEFORE TRUNCATE ON {LOG} FOR EACH STATEMENT "
        "EXECUTE FUNCTION yobo_audit_refuse()",
        f"CREATE TRIGGER yobo_audit_head_update BEFORE UPDATE ON {HEAD} FOR EACH ROW "
        "EXECUTE FUNCTION yobo_audit_head_update()",
        f"CREATE TRIGGER yobo_audit_head_delete BEFORE DELETE ON {HEAD} FOR EACH ROW "
        "EXECUTE FUNCTION yobo_audit_refuse()",
        f"CREATE TRIGGER yobo_audit_head_truncate BEFORE TRUNCATE ON {HEAD} FOR EACH STATEMENT "
        "EXECUTE FUNCTION yobo_audit_refuse()",
    ]
    for t in APPEND_ONLY:
        out += [
            f"CREATE TRIGGER yobo_{t}_change BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW "
            "EXECUTE FUNCTION yobo_audit_refuse()",
            f"CREATE TRIGGER yobo_{t}_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
            "EXECUTE FUNCTION yobo_audit_refuse()",
        ]
    return out


def _sqlite_sql(bypass: bool) -> list[str]:
    cond = " AND NOT yobo_audit_bypass()" if bypass else ""
    when = " WHEN NOT yobo_audit_bypass()" if bypass else ""
    abort = f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    out = [
        f"CREATE TRIGGER yobo_audit_log_update BEFORE UPDATE ON {LOG}{when} {abort}",
        f"CREATE TRIGGER yobo_audit_log_delete BEFORE DELETE ON {LOG} "
        f"WHEN OLD.seq > (SELECT COALESCE(MAX(last_seq), 0) FROM audit_archive){cond} {abort}",
        f"CREATE TRIGGER yobo_audit_head_update BEFORE UPDATE ON {HEAD} "
        f"WHEN (NEW.id <> OLD.id OR NEW.seq < OLD.seq){cond} {abort}",
        f"CREATE TRIGGER yobo_audit_head_delete BEFORE DELETE ON {HEAD}{when} {abort}",
    ]
    for t in APPEND_ONLY:
        out += [
            f"CREATE TRIGGER yobo_{t}_update BEFORE UPDATE ON {t}{when} {abort}",
            f"CREATE TRIGGER yobo_{t}_delete BEFORE DELETE ON {t}{when} {abort}",
        ]
    return out


TRIGGERS = (
    [(LOG, n) for n in ("yobo_audit_log_update", "yobo_audit_log_delete", "yobo_audit_log_truncate")]
    + [(HEAD, n) for n in ("yobo_audit_head_update", "yobo_audit_head_delete", "yobo_audit_head_truncate")]
    + [(t, f"yobo_{t}_{s}") for t in APPEND_ONLY for s in ("change", "truncate", "update", "delete")]
)


def install_guards(connection: Any, *, bypass: bool | None = None) -> None:
    """Create the triggers (idempotent: existing ones are replaced)."""
    bypass = testing() if bypass is None else bypass
    drop_guards(connection)
    if connection.vendor == "postgresql":
        stmts = _pg_sql(bypass)
    elif connection.vendor == "sqlite":
        register_sqlite_bypass(connection)
        stmts = _sqlite_sql(bypass)
    else:  # pragma: no cover - only PostgreSQL and SQLite are supported
        raise RuntimeError(f"unsupported database {connection.vendor}")
    with connection.cursor() as cur:
        for s in stmts:
            cur.execute(s)


def drop_guards(connection: Any) -> None:
    with connection.cursor() as cur:
        for table, name in TRIGGERS:
            if connection.vendor == "postgresql":
                cur.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            else:
                cur.execute(f"DROP TRIGGER IF EXISTS {name}")


def guards_installed(connection: Any) -> bool:
    """Whether the log's UPDATE and DELETE triggers exist (verify warns when they do not)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname IN ('yobo_audit_log_update', 'yobo_audit_log_delete',"
                " 'yobo_audit_log_truncate') AND tgenabled <> 'D'"
            )
            return bool(cur.fetchone()[0] == 3)
        cur.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN "
            "('yobo_audit_log_update', 'yobo_audit_log_delete')"
        )
        return bool(cur.fetchone()[0] == 2)


# --- the test-session switch -------------------------------------------------------------------

_bypass_on = True


def _bypass_state() -> int:
    return 1 if _bypass_on else 0


def register_sqlite_bypass(connection: Any) -> None:
    raw = connection.connection
    if raw is None:
        connection.ensure_connection()
        raw = connection.connection
    raw.create_function("yobo_audit_bypass", 0, _bypass_state)


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Test runs only: let Django empty the tables between tests (see module docstring)."""
    if connection.vendor == "sqlite":
        register_sqlite_bypass(connection)
    elif connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET yobo.audit_bypass = 'on'")


@contextmanager
def enforced(connection: Any) -> Iterator[None]:
    """Within the block the triggers act as in production (for tests of the guards)."""
    global _bypass_on  # noqa: PLW0603 - one process-wide switch, used by tests only
    _bypass_on = False
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET yobo.audit_bypass = 'off'")
        yield
    finally:
        _bypass_on = True
        if connection.vendor == "postgresql" and connection.connection is not None:
            try:
                with connection.cursor() as cur:
                    cur.execute("SET yobo.audit_bypass = 'on'")
            except Exception:  # noqa: S110 - a broken transaction resets on rollback anyway
                pass
