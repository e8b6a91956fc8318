"""``manage.py device_queue DEVICE [--force-release --reason WHY [--workflow ID] --user NAME]``.

Shows who holds a device (each slot of a shared one) and its queue in serve order; with
``--force-release`` an operator takes it back (recorded) and it is handed on, through the same
service as the admin action. A device with several holders needs ``--workflow``.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.services import user_by_username
from devices.models import Booking, Device
from devices.selectors import device_queue
from devices.services import device_force_release
from labcore.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Show a device's holder and queue; optionally force-release it (recorded, handed on)."

    def add_arguments(self, parser):
        parser.add_argument("device")
        parser.add_argument("--force-release", action="store_true", help="release it from its holder")
        parser.add_argument("--reason", default="", help="why (required with --force-release)")
        parser.add_argument("--user", default=None, help="the operator doing it (recorded)")
        parser.add_argument("--workflow", type=int, default=None, help="the holder to release (shared devices)")

    def handle(self, *args, device, force_release, reason, user, workflow, **options):
        found = Device.objects.filter(pk=device).first()
        if found is None:
            raise CommandError(f"device {device} does not exist")
        if force_release:
            try:
                operator = user_by_username(user) if user else None
                holder = None
                if workflow is not None:
                    held = Booking.objects.active().filter(device=found, workflow_id=workflow)
                    held = held.select_related("workflow")
                    if not held:
                        raise CommandError(f"workflow {workflow} does not hold device {found.pk}")
                    holder = held[0].workflow
                booking = device_force_release(device=found, user=operator, reason=reason, workflow=holder)
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
            self.stdout.write(f"released {found.pk} from workflow {booking.workflow_id}")
        active = Booking.objects.active().filter(device=found).order_by("slot")
        holders = list(active.values_list("workflow_id", flat=True))
        if found.capacity == 1:
            state = f"held by workflow {holders[0]}" if holders else "free"
        else:
            in_use = f"{len(holders)} of {found.capacity} slots in use"
            state = in_use + (": held by workflows " + ", ".join(map(str, holders)) if holders else "")
        self.stdout.write(f"{found.pk}: {state}")
        for entry in device_queue(found):
            since = f"{entry.created_at:%Y-%m-%d %H:%M:%S}"
            self.stdout.write(
                f"  {entry.position}. workflow {entry.workflow_id} ({entry.get_priority_display()}) since {since}"
            )
