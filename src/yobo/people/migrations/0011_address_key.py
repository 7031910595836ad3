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


def fill(apps, schema_editor):
    conn = schema_editor.connection
    last = 0
    with conn.cursor() as cur:
        while True:
            cur.execute("SELECT id, address, address_extra FROM people_person WHERE id > %s ORDER BY id LIMIT %s",
                        [last, CHUNK])
            rows = cur.fetchall()
            if not rows:
                break
            last = rows[-1][0]
            cur.executemany("UPDATE people_person SET address_key = %s WHERE id = %s",
                            [(address_key(a, e), pk) for pk, a, e in rows])
        if conn.vendor == "postgresql":
            cur.execute("CREATE INDEX IF NOT EXISTS people_person_address_key_trgm ON people_person "
                        "USING gin (address_key gin_trgm_ops)")
            cur.execute("DROP INDEX IF EXISTS people_person_address_trgm")
            cur.execute("DROP INDEX IF EXISTS people_person_address_extra_trgm")


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
