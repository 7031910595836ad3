"""The address search key (``Person.address_key``, ``core.text.address_key``; decision 058): the
address and its 方書 written one way, so 本町1-2-3 finds 本町一丁目2番3号 and 霞ケ関 finds 霞が関.

The key of every person on record is computed here, in chunks; no address leaves the database and
nothing is shown, like an index rebuild. On PostgreSQL the trigram index moves from the two
address columns to the key (the search reads only the key now): one GIN index fewer for every
import to maintain.
"""

from django.db import migrations, models

from yobo.core.text import address_key

CHUNK = 20_000


def _keys(cur):
    """(id, key) of every person, in chunks of ``CHUNK``."""
    last = 0
    while True:
        cur.execute("SELECT id, address, address_extra FROM people_person WHERE id > %s ORDER BY id LIMIT %s",
                    [last, CHUNK])
        rows = cur.fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield [(pk, address_key(a, e)) for pk, a, e in rows]


def fill(apps, schema_editor):
    conn = schema_editor.connection
    with conn.cursor() as cur:
        if conn.vendor != "postgresql":
            for chunk in _keys(cur):
                cur.executemany("UPDATE people_person SET address_key = %s WHERE id = %s",
                                [(k, pk) for pk, k in chunk])
            return
        # PostgreSQL: the keys arrive by COPY and are written by one join, not a statement per person
        # (1M persons: 112 s that way). The trigram indexes go first — the address ones for good,
        # the name ones to be rebuilt after — since the update would maintain each for every row.
        for col in ("address", "address_extra", "kana_key", "kanji_key"):
            cur.execute(f"DROP INDEX IF EXISTS people_person_{col}_trgm")
        cur.execute("CREATE TEMPORARY TABLE people_address_keys (id bigint PRIMARY KEY, address_key text) "
                    "ON COMMIT DROP")
        raw = cur.cursor  # psycopg 3
        for chunk in _keys(cur):
            with raw.copy("COPY people_address_keys (id, address_key) FROM STDIN") as copy:
                for item in chunk:
                    copy.write_row(item)
        cur.execute("UPDATE people_person p SET address_key = k.address_key FROM people_address_keys k "
                    "WHERE k.id = p.id AND p.address_key <> k.address_key")
        for col in ("kana_key", "kanji_key", "address_key"):
            cur.execute(f"CREATE INDEX IF NOT EXISTS people_person_{col}_trgm ON people_person "
                        f"USING gin ({col} gin_trgm_ops)")


def unfill(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        for col in ("address", "address_extra"):
            cur.execute(f"CREATE INDEX IF NOT EXISTS people_person_{col}_trgm ON people_person "
                        f"USING gin ({col} gin_trgm_ops)")
        cur.execute("DROP INDEX IF EXISTS people_person_address_key_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0010_search_keys_fold_variants"),
    ]

    operations = [
        migrations.AddField(
            model_name="person",
            name="address_key",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(fill, unfill),
    ]
