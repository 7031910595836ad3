"""What the staff's partial search needs of each database (decision 058): trigram indexes on
PostgreSQL, statistics on SQLite.

Names and addresses are searched anywhere in the key (``LIKE '%…%'``), which no B-tree serves: at a
million persons that was a parallel scan of the whole table per search (≈ 0.1 s for a name, 0.5 s
for an address, four times that for a city of four million). ``pg_trgm``'s GIN indexes serve
``LIKE '%…%'`` for keys of three characters or more (kana and kanji included). SQLite has no
such index; it reads the name key's B-tree instead (``people.lookup``), and needs statistics
(``sqlite_stat1``) to plan a search by birth date on its index: the import refreshes them, and
this migration takes them once for a database loaded before. The indexes are not in the model's
Meta because SQLite cannot create them.
"""

from django.db import migrations

COLUMNS = ("kana_key", "kanji_key", "address", "address_extra")


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        from yobo.core.bulkload import sqlite_sampled_analyze

        with schema_editor.connection.cursor() as cur:
            sqlite_sampled_analyze(cur, "people_person")
        return
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cur.fetchone() is None:
            cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
            if cur.fetchone() is None:
                raise RuntimeError(
                    "PostgreSQL の拡張 pg_trgm がありません（contrib をインストールしてください）。 / The PostgreSQL "
                    "extension pg_trgm is not installed on the server (install PostgreSQL's contrib package)."
                )
            # pg_trgm is a trusted extension: the database's owner may create it (PostgreSQL 13+).
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for col in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS people_person_{col}_trgm ON people_person USING gin ({col} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for col in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS people_person_{col}_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0006_unique_keys_as_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
