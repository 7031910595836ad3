"""Bulk-load helpers shared by the set-based imports (no Django: they take a DB-API cursor).

A first load into an empty table is faster when its plain indexes are built once, from the loaded
rows, than grown row by row (about twice as fast on PostgreSQL, more on SQLite). Unique indexes
stay unless the caller has made the rows unique itself (``unique=True``); SQLite's inline table
constraints (``sqlite_autoindex_*``) cannot be dropped and always stay. DDL is transactional on both
databases, so a rolled-back load gets its indexes back (decision 051).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Literal


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


def sqlite_sampled_analyze(cur: Any, table: str) -> None:
    """SQLite statistics (``sqlite_stat1``) for ``table`` from a sample of a few hundred rows per
    index: under a millisecond at any size. SQLite keeps none unless asked, and without them it
    cannot tell its indexes apart when all lead with the same column (decision 058)."""
    cur.execute("PRAGMA analysis_limit = 400")
    cur.execute(f"ANALYZE {table}")
    cur.execute("PRAGMA analysis_limit = 0")


def rebuild(cur: Any, ddl: list[str]) -> None:
    """Run what ``drop_indexes`` returned."""
    for statement in ddl:
        cur.execute(statement)


@contextmanager
def staged_keys(cur: Any, vendor: str, table: str, keys: Iterable[str]) -> Iterator[str]:
    """Stage ``keys`` in a temporary one-column table ``table`` (``k text PRIMARY KEY``) for the
    duration of the block and yield its name, so that a long list (a batch's 宛名番号, say) is
    joined to a large table instead of spelled out in IN lists or compared after reading the
    whole table: time and memory then follow the list, not the table. COPY on PostgreSQL,
    ``executemany`` on SQLite. Join it with ``CROSS JOIN`` placed first: SQLite then walks the
    list and probes the other table's index (it has no statistics on a fresh temporary table
    and would otherwise walk the whole table); PostgreSQL plans the join freely.

    ``cur`` is a Django cursor (the PostgreSQL COPY uses the psycopg cursor under it). Must run
    inside a transaction: the table is dropped when the block ends; if the block raises, the
    transaction's rollback takes the table with it (DDL is transactional on both databases), and
    no statement is sent to a transaction that has already failed."""
    pg = vendor == "postgresql"
    cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"CREATE TEMPORARY TABLE {table} (k text PRIMARY KEY)" + (" ON COMMIT DROP" if pg else ""))
    if pg:
        with getattr(cur, "cursor", cur).copy(f"COPY {table} (k) FROM STDIN") as cp:
            for k in keys:
                cp.write_row((k,))
        # Its true size for the planner (a fresh temporary table has no statistics): it then picks
        # index probes or a hash join by the list's real length, not by a guess.
        cur.execute(f"ANALYZE {table}")
    else:
        cur.executemany(f"INSERT INTO {table} (k) VALUES (%s)", [(k,) for k in keys])
    yield table
    cur.execute(f"DROP TABLE {table}")


IN_LIST = 900  # IN-list size kept under SQLite's default variable limit
Way = Literal["in_lists", "joined", "scan"]


def rows_for_keys(cur: Any, vendor: str, *, select: str, source: str, where: str, params: list[Any], key: str,
                  keys: list[str], way: Way, stage: str) -> list[tuple[Any, ...]]:
    """The rows of ``SELECT {select} FROM {source} WHERE {where}`` whose ``key`` is among ``keys``,
    read one of three ways, which the caller picks by the list's length against the table's:

    - ``in_lists``: IN lists of :data:`IN_LIST` (a short list);
    - ``joined``: the list staged in the temporary table ``stage`` (:func:`staged_keys`) and
      joined, so time and memory follow the list, not the table (a long list, a small share);
    - ``scan``: one scan of the table, streamed, keeping the rows whose first column is among
      the keys (a list naming much of the table; ``select`` must start with ``key``).
    """
    raw: list[tuple[Any, ...]] = []
    if way == "scan":
        keep = set(keys)
        cur.execute(f"SELECT {select} FROM {source} WHERE {where}", params)
        while part := cur.fetchmany(20_000):
            raw.extend(r for r in part if r[0] in keep)
    elif way == "joined":
        with staged_keys(cur, vendor, stage, keys) as w:
            cur.execute(f"SELECT {select} FROM {w} w CROSS JOIN {source} WHERE {where} AND {key} = w.k", params)
            raw = cur.fetchall()
    else:
        for k in range(0, len(keys), IN_LIST):
            part = keys[k:k + IN_LIST]
            cur.execute(f"SELECT {select} FROM {source} WHERE {where} AND {key} IN ({', '.join(['%s'] * len(part))})",
                        [*params, *part])
            raw.extend(cur.fetchall())
    return raw
