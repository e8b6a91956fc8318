"""Latency statistics per (device, action type), and the ``synthetic`` cause of seed_logs's entries.

A trigger on the log counts each new entry that qualifies (executionlogs.latency.TRIGGER_SQL, as
it is when this migration runs). The statistics are backfilled from the existing log under the chain lock (no entry is appended
between the read and the write). Entries seeded before this migration carry the cause
``system`` and, like every entry that is not a real successful dispatch, are not counted
(executionlogs.latency). Reversing drops the table; the log itself is untouched either way.
"""

import django.contrib.postgres.fields
import django.db.models.deletion
import django.db.models.functions.datetime
import executionlogs.models
from django.db import migrations, models

from executionlogs.chain import CHAIN_LOCK
from executionlogs.latency import TRIGGER_DROP_SQL, TRIGGER_SQL, latency_stats_rebuild
from labcore.locking import advisory_lock_key


def backfill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_lock_key(CHAIN_LOCK)])
        latency_stats_rebuild(cursor)


class Migration(migrations.Migration):

    dependencies = [
        ('devices', '0010_device_adapter_sila2'),
        ('executionlogs', '0006_log_anchor_append_only_trigger'),
    ]

    operations = [
        migrations.AlterField(
            model_name='executionlog',
            name='caused_by',
            field=models.CharField(choices=[('user', "A user's request"), ('worker', 'The executor (Celery worker)'), ('manual', 'A manual call (execute endpoint or command)'), ('system', 'LabCore itself (recovery)'), ('synthetic', 'Synthetic data (seed_logs)')], default='worker', max_length=16),
        ),
        migrations.CreateModel(
            name='LatencyStat',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action_type', models.CharField(max_length=100)),
                ('count', models.BigIntegerField(default=0)),
                ('sum_ms', models.FloatField(default=0.0)),
                ('histogram', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), default=executionlogs.models._empty_histogram, help_text='Entries per log-spaced latency bucket (executionlogs.latency.bucket_of).', size=281)),
                ('updated_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ('device', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='devices.device')),
            ],
            options={
                'ordering': ['device', 'action_type'],
                'constraints': [models.UniqueConstraint(fields=('device', 'action_type'), name='latencystat_device_action')],
            },
        ),
        migrations.RunSQL(TRIGGER_SQL, TRIGGER_DROP_SQL),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
