"""``python manage.py anchor_logs``: record the execution log's chain head now."""

from django.core.management.base import BaseCommand

from executionlogs.services import log_anchor_create


class Command(BaseCommand):
    help = "Record the chain head (entry id and hash) in the append-only anchor table and the application log."

    def handle(self, *args, **options):
        anchor = log_anchor_create(anchored_by="command")
        if anchor is None:
            self.stdout.write("The execution log is empty; nothing to anchor.")
            return
        self.stdout.write(
            self.style.SUCCESS(f"Anchor #{anchor.pk}: chain head entry #{anchor.head_id}, hash {anchor.head_hash}")
        )
