# The hashed timestamp becomes an integer microsecond column; checkpoints, archives, verify runs.
# Hand-written: the log has no rows to carry over before this migration ships.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0001_initial'),
    ]

    operations = [
        migrations.RemoveIndex(model_name='accesslogentry', name='audit_log_at'),
        migrations.RemoveIndex(model_name='accesslogentry', name='audit_log_staff_at'),
        migrations.RemoveField(model_name='accesslogentry', name='at'),
        migrations.AddField(
            model_name='accesslogentry',
            name='at_us',
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddIndex(model_name='accesslogentry', index=models.Index(fields=['at_us'], name='audit_log_at')),
        migrations.AddIndex(model_name='accesslogentry', index=models.Index(fields=['staff', 'at_us'], name='audit_log_staff_at')),
        migrations.CreateModel(
            name='Checkpoint',
            fields=[
                ('seq', models.BigIntegerField(primary_key=True, serialize=False)),
                ('hash', models.CharField(max_length=64)),
                ('at_us', models.BigIntegerField()),
                ('key_id', models.CharField(max_length=16)),
                ('signature', models.CharField(max_length=128)),
            ],
            options={'db_table': 'audit_checkpoint'},
        ),
        migrations.CreateModel(
            name='ArchiveRecord',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('first_seq', models.BigIntegerField()),
                ('last_seq', models.BigIntegerField(unique=True)),
                ('last_hash', models.CharField(max_length=64)),
                ('before', models.DateField()),
                ('file_name', models.CharField(max_length=255)),
                ('file_sha256', models.CharField(max_length=64)),
                ('entries', models.BigIntegerField()),
                ('at_us', models.BigIntegerField()),
                ('key_id', models.CharField(max_length=16)),
                ('signature', models.CharField(max_length=128)),
            ],
            options={'db_table': 'audit_archive'},
        ),
        migrations.CreateModel(
            name='VerifyRun',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('at_us', models.BigIntegerField()),
                ('staff', models.CharField(blank=True, max_length=150)),
                ('ok', models.BooleanField()),
                ('entries', models.BigIntegerField()),
                ('broken_seq', models.BigIntegerField(null=True)),
                ('kind', models.CharField(blank=True, max_length=24)),
                ('message', models.CharField(blank=True, max_length=400)),
                ('seconds', models.FloatField()),
            ],
            options={'db_table': 'audit_verify_run'},
        ),
    ]
