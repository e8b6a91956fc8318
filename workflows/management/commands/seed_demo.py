"""``manage.py seed_demo``: create the demo lab (idempotent)."""

from django.core.management.base import BaseCommand

from workflows.demo import demo_lab_seed


class Command(BaseCommand):
    help = "Create the demo lab: devices, action types, plates, samples, a published protocol, users."

    def handle(self, *args, **options):
        counts = demo_lab_seed()
        self.stdout.write(
            self.style.SUCCESS(
                "demo lab ready: {devices} devices, {action_types} action types, {samples} samples, "
                "protocol #{protocol}".format(**counts)
            )
        )
