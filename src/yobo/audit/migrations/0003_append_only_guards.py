# Append-only at the database: triggers refuse UPDATE, DELETE and TRUNCATE on the access log,
# its checkpoints and archive records (see yobo.audit.guards and docs/decisions/020-audit-chain.md).

from django.db import migrations


def install(apps, schema_editor):
    from yobo.audit.guards import install_guards

    install_guards(schema_editor.connection)


def uninstall(apps, schema_editor):
    from yobo.audit.guards import drop_guards

    drop_guards(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_at_us_checkpoints_archive'),
    ]

    operations = [migrations.RunPython(install, uninstall)]
