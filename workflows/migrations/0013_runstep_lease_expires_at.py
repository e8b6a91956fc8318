# The dispatch lease (issue 15, item 4): a dispatching worker renews it; recovery reads it.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('workflows', '0012_merge_20261201_2344'),
    ]

    operations = [
        migrations.AddField(
            model_name='runstep',
            name='lease_expires_at',
            field=models.DateTimeField(
                blank=True,
                help_text='While dispatching: its worker renews this; once past, recovery treats the dispatch as lost.',
                null=True,
            ),
        ),
    ]
