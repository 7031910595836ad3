"""Bulk-load helpers shared by the set-based imports (no Django: they take a DB-API cursor).

A first load into an empty table is faster when its plain indexes are built once, from the loaded
rows, than grown row by row (about twice as fast on PostgreSQL, more on SQLite). Unique indexes
stay unless the caller has made the rows unique itself (``unique=True``); SQLite's inline table
constraints (``sqlite_autoindex_*``) cannot be dropped and always stay. DDL is transactional on both
databases, so a rolled-back load gets its indexes back (decision 051).
"""

from __future__ import annotations

from typing import Any


def drop_indexes(cur: Any, vendor: str, table: str, *, unique: bool = False) -> list[str]:
    """Drop the secondary indexes of ``table`` if it holds no row yet and return the statements that
    rebuild them; ``[]`` (nothing dropped) if the table has rows. The primary key always stays.

    ``unique``: the unique constraints and indexes go too, for a load whose rows the caller has
    already made unique (in SQL, with problems reported): their rebuild checks it again, and a
    duplicate then fails the statement and so the whole batch, never a silent loss."""
    cur.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")
    if not cur.fetchone()[0]:
        return []
    ddl: list[str] = []
    if vendor == "postgresql":
        if unique:
            cur.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                "AND contype = 'u' ORDER BY conname",
                [table],
            )
            for name, definition in cur.fetchall():
                cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
                ddl.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        cur.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary AND (%s OR NOT x.indisunique) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) ORDER BY i.relname",
            [table, unique],
        )
    else:
        # Unique constraints are unique indexes on SQLite (``sql`` is NULL only for the automatic
        # indexes of inline constraints, which cannot be dropped).
        cur.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL "
            "AND (%s OR upper(sql) NOT LIKE 'CREATE UNIQUE%%') ORDER BY name",
            [table, 1 if unique else 0],
        )
    for name, definition in cur.fetchall():
        cur.execute(f'DROP INDEX "{name}"')
        ddl.append(definition)
    return ddl


def rebuild(cur: Any, ddl: list[str]) -> None:
    """Run what ``drop_indexes`` returned."""
    for statement in ddl:
        cur.execute(statement)
