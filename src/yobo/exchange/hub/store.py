"""The hub's own storage: SQLite (a file) or PostgreSQL, plain SQL, no Django.

The hub stands in for the national network, a different operator from any city, so it keeps its
own database (``YOBO_HUB_DB``). It holds no personal data in the clear: member public keys, the
permission list, the code registry (符号 ↔ linkage token, both keyed hashes), permits, the
ciphertext messages waiting for delivery, seen message ids, and the provision records.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

_TABLES = [
    """CREATE TABLE IF NOT EXISTS hub_member (
        code TEXT PRIMARY KEY, name TEXT NOT NULL, sig_jwk TEXT NOT NULL, enc_jwk TEXT NOT NULL,
        updated_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hub_permission (
        asker TEXT NOT NULL, provider TEXT NOT NULL, item_set TEXT NOT NULL, clause TEXT NOT NULL,
        PRIMARY KEY (asker, provider, item_set))""",
    """CREATE TABLE IF NOT EXISTS hub_code (
        party TEXT NOT NULL, code TEXT NOT NULL, token TEXT NOT NULL, issued_at TEXT NOT NULL,
        PRIMARY KEY (party, code))""",
    "CREATE INDEX IF NOT EXISTS hub_code_token ON hub_code (token)",
    """CREATE TABLE IF NOT EXISTS hub_permit (
        permit_id TEXT PRIMARY KEY, asker TEXT NOT NULL, provider TEXT NOT NULL, item_set TEXT NOT NULL,
        clause TEXT NOT NULL, asker_code TEXT NOT NULL, provider_code TEXT NOT NULL, state TEXT NOT NULL,
        issued_at TEXT NOT NULL, expires_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hub_message (
        delivery_id {serial}, msg_id TEXT NOT NULL UNIQUE, sender TEXT NOT NULL, receiver TEXT NOT NULL,
        permit_id TEXT NOT NULL, kind TEXT NOT NULL, token TEXT NOT NULL, created_at TEXT NOT NULL,
        delivered_at TEXT)""",
    "CREATE INDEX IF NOT EXISTS hub_message_receiver ON hub_message (receiver, delivered_at)",
    """CREATE TABLE IF NOT EXISTS hub_seen (
        sender TEXT NOT NULL, msg_id TEXT NOT NULL, seen_at TEXT NOT NULL, PRIMARY KEY (sender, msg_id))""",
    """CREATE TABLE IF NOT EXISTS hub_record (
        id {serial}, at TEXT NOT NULL, event TEXT NOT NULL, asker TEXT NOT NULL, provider TEXT NOT NULL,
        item_set TEXT NOT NULL, clause TEXT NOT NULL, permit_id TEXT NOT NULL, outcome TEXT NOT NULL,
        detail TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS hub_record_asker ON hub_record (asker, at)",
    "CREATE INDEX IF NOT EXISTS hub_record_provider ON hub_record (provider, at)",
]


class Duplicate(Exception):
    """A unique key already exists (used for seen message ids)."""


class Store:
    """A connection per thread to the hub database; ``tx()`` is one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = url.startswith(("postgresql://", "postgres://"))
        self._local = threading.local()

    def _connect(self) -> Any:
        if self.pg:
            import psycopg

            return psycopg.connect(self.url)
        path = self.url.removeprefix("sqlite:///") if self.url.startswith("sqlite:///") else self.url
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL: a commit survives a crash of the hub process; a power loss may lose the
        # last commits (the cities retry what the hub did not acknowledge). See decision 080.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def conn(self) -> Any:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = self._connect()
        return c

    def close(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None

    def migrate(self) -> None:
        serial = "BIGSERIAL PRIMARY KEY" if self.pg else "INTEGER PRIMARY KEY AUTOINCREMENT"
        with self.tx() as cur:
            for ddl in _TABLES:
                cur.execute(ddl.replace("{serial}", serial))

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read outside any write transaction (no write lock taken)."""
        c = self.conn()
        if self.pg:
            with c.transaction(), c.cursor() as cur:
                return Cursor(cur, True).execute(sql, params).fetchall()
        return Cursor(c.cursor(), False).execute(sql, params).fetchall()

    @contextmanager
    def tx(self) -> Iterator[Cursor]:
        c = self.conn()
        if self.pg:
            with c.transaction(), c.cursor() as cur:
                yield Cursor(cur, True)
            return
        cur = c.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield Cursor(cur, False)
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")


class Cursor:
    """``?`` placeholders on both engines; unique violations raise ``Duplicate``."""

    def __init__(self, cur: Any, pg: bool) -> None:
        self.cur = cur
        self.pg = pg

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if self.pg:
            sql = sql.replace("?", "%s")
        try:
            self.cur.execute(sql, tuple(params))
        except sqlite3.IntegrityError as exc:
            raise Duplicate(str(exc)) from None
        except Exception as exc:
            if type(exc).__name__ == "UniqueViolation":
                raise Duplicate(type(exc).__name__) from None
            raise
        return self

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self.cur.fetchone()
        return tuple(row) if row is not None else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.cur.fetchall()]

    @property
    def rowcount(self) -> int:
        return int(self.cur.rowcount)
