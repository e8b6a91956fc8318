"""``manage.py device_queue DEVICE [--force-release --reason WHY --user NAME]``.

Shows who holds a device and its queue in serve order; with ``--force-release`` an operator
takes it back (recorded) and it is handed on, through the same service as the admin action.
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

    def handle(self, *args, device, force_release, reason, user, **options):
        found = Device.objects.filter(pk=device).first()
        if found is None:
            raise CommandError(f"device {device} does not exist")
        if force_release:
            try:
                operator = user_by_username(user) if user else None
                booking = device_force_release(device=found, user=operator, reason=reason)
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
            self.stdout.write(f"released {found.pk} from workflow {booking.workflow_id}")
        holder = Booking.objects.active().filter(device=found).first()
        self.stdout.write(f"{found.pk}: " + (f"held by workflow {holder.workflow_id}" if holder else "free"))
        for entry in device_queue(found):
            since = f"{entry.created_at:%Y-%m-%d %H:%M:%S}"
            self.stdout.write(
                f"  {entry.position}. workflow {entry.workflow_id} ({entry.get_priority_display()}) since {since}"
            )
