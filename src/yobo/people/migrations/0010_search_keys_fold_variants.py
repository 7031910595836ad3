"""Name search keys fold 異体字 and drop variation selectors (``core.text.search_key``, decision
058): the keys already stored are recomputed, so that 高橋 finds a 髙橋 imported before.

Only ``kanji_key`` can change (a カナ氏名 holds no kanji and no selector). The names are read
in chunks and only the rows whose key changes are written; no name leaves the database and
nothing is shown, like an index rebuild. The reverse keeps the folded keys (the old search only
missed more).
"""

from django.db import migrations

from yobo.core.text import search_key

CHUNK = 20_000


def refold(apps, schema_editor):
    Person = apps.get_model("people", "Person")
    db = schema_editor.connection.alias
    last = 0
    while True:
        rows = list(Person.objects.using(db).filter(pk__gt=last).order_by("pk")
                    .values_list("pk", "name_kanji", "kanji_key")[:CHUNK])
        if not rows:
            return
        last = rows[-1][0]
        changed = [Person(pk=pk, kanji_key=key) for pk, name, old in rows if (key := search_key(name)) != old]
        if changed:
            Person.objects.using(db).bulk_update(changed, ["kanji_key"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0009_batch_review"),
    ]

    operations = [migrations.RunPython(refold, migrations.RunPython.noop)]
