# PostgreSQL: the chain append as one server-side function (one round trip instead of two):
# it locks the head, numbers and hashes the entries exactly as yobo.audit.chain.canonical() does,
# inserts them and moves the head. See yobo.audit.chain and docs/decisions/020-audit-chain.md.

from django.db import migrations


def install(apps, schema_editor):
    from yobo.audit.chain import APPEND_FUNCTION_SQL

    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_FUNCTION_SQL)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS audit_append(bigint, text[])")


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0003_append_only_guards'),
    ]

    operations = [migrations.RunPython(install, uninstall)]
