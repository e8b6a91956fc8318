"""``manage.py run_campaign``: create and start a culture campaign, then show its live progress.

The Celery workers run it; this command creates, starts and watches (Ctrl-C stops watching,
not the campaign). Exit status: 0 every run completed, 1 all finished but some did not
complete, 2 still going at --timeout.

Simulated time is the workers' business: they read ``LABCORE_TIME_SCALE`` from their own
environment, so start them with it (``LABCORE_TIME_SCALE=0.001 make worker``). ``--time-scale``
only states the scale you expect; the command warns when its own setting differs.
"""

import os
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from devices.choices import Priority
from devices.models import Booking
from labcore.exceptions import ApplicationError
from samples.models import Plate
from workflows.choices import FINISHED_WORKFLOW_STATUSES, WorkflowStatus
from workflows.growth import plates_growth
from workflows.management.commands.run_workflow import protocol_find
from workflows.management.lifecycle import command_user
from workflows.models import Campaign
from workflows.selectors import campaign_list, campaign_summary
from workflows.services.campaigns import campaign_create, plates_by_barcode

CULTURE_PLATE_PREFIX = "PLATE-"


def plates_choose(spec: str) -> list[Plate]:
    """``24``: the first 24 culture plates with samples (PLATE-01.. in order); ``A,B``: those plates."""
    spec = spec.strip()
    if spec.isdigit():
        count = int(spec)
        plates = list(
            Plate.objects.filter(barcode__startswith=CULTURE_PLATE_PREFIX, samples__isnull=False)
            .distinct()
            .order_by("barcode")[:count]
        )
        if count < 1 or len(plates) < count:
            raise CommandError(f"asked for {count} culture plates; there are {len(plates)} (seed_demo adds 24)")
        return plates
    return plates_by_barcode([barcode.strip() for barcode in spec.split(",") if barcode.strip()])


def status_line(campaign: Campaign) -> str:
    """Plates done, runs by status, window violations and device use (active bookings per device)."""
    campaign = campaign_list().get(pk=campaign.pk)
    summary = campaign_summary(campaign)
    runs = ", ".join(f"{count} {status}" for status, count in summary.by_status.items() if count)
    bookings = (
        Booking.objects.active()
        .filter(workflow__campaign=campaign)
        .values("device_id")
        .annotate(count=Count("id"))
        .order_by("device_id")
    )
    devices = ", ".join(f"{row['device_id']} {row['count']}" for row in bookings) or "none"
    return (
        f"plates done {summary.plates_done}/{summary.workflows} | runs: {runs} | "
        f"window violations {summary.window_violations} | "
        f"steps {summary.progress.settled}/{summary.progress.total} | devices in use: {devices}"
    )


class Command(BaseCommand):
    help = "Create and start a campaign (one run of a published protocol per plate) and watch it until it ends."

    def add_arguments(self, parser):
        parser.add_argument("--protocol", required=True, help="protocol id or name (latest published version)")
        parser.add_argument("--plates", required=True, help="N (the first N culture plates) or PLATE-01,PLATE-02")
        parser.add_argument("--name", default="", help="campaign name (default: the protocol's and the time)")
        parser.add_argument("--priority", choices=[p.label for p in Priority], default="normal")
        parser.add_argument("--time-scale", type=float, help="the LABCORE_TIME_SCALE the workers were started with")
        parser.add_argument("--user", default="", help="username recorded as the creator")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between progress lines")
        parser.add_argument("--timeout", type=float, default=0, help="stop watching after this many seconds")

    def handle(self, *args, **options):
        user = command_user(options["user"])
        self._time_scale_check(options["time_scale"])
        protocol = protocol_find(options["protocol"])
        try:
            campaign = campaign_create(
                name=options["name"] or f"{protocol.name} {time.strftime('%Y-%m-%d %H:%M')}",
                protocol=protocol,
                plates=plates_choose(options["plates"]),
                priority=Priority.from_name(options["priority"]),
                user=user,
                via="run_campaign",
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"campaign {campaign.pk} ({campaign.name}): {campaign.workflows.count()} runs started")
        statuses = self._watch(campaign, interval=options["interval"], timeout=options["timeout"])
        self._growth_report(campaign)
        if all(status == WorkflowStatus.COMPLETED for status in statuses):
            return
        sys.exit(1 if all(status in FINISHED_WORKFLOW_STATUSES for status in statuses) else 2)

    def _growth_report(self, campaign: Campaign) -> None:
        """The final report: each plate's fitted doubling time (plates never imaged say so)."""
        for plate in plates_growth(list(campaign.workflows.order_by("id"))):
            doubling = plate["doubling_hours"]
            told = f"doubling {doubling:.1f} h" if doubling is not None else "no growth fit (not imaged enough)"
            self.stdout.write(f"{plate['plate'] or 'run ' + str(plate['workflow'])}: {plate['status']}, {told}")

    def _time_scale_check(self, wanted: float | None) -> None:
        if wanted is None:
            return
        if wanted <= 0:
            raise CommandError("--time-scale must be above 0")
        here = float(getattr(settings, "LABCORE_TIME_SCALE", os.environ.get("LABCORE_TIME_SCALE", 1)))
        if here != wanted:
            self.stderr.write(
                f"warning: this process has LABCORE_TIME_SCALE={here:g}, not {wanted:g}; the workers read their own "
                f"environment, so start them with LABCORE_TIME_SCALE={wanted:g}"
            )

    def _watch(self, campaign: Campaign, *, interval: float, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout if timeout else None
        last = ""
        while True:
            # Statuses first, then the line: the last line printed always shows the state decided on.
            statuses = list(campaign.workflows.values_list("status", flat=True))
            line = status_line(campaign)
            if line != last:
                self.stdout.write(line)
                last = line
            if all(status in FINISHED_WORKFLOW_STATUSES for status in statuses):
                return statuses
            if deadline and time.monotonic() > deadline:
                return statuses
            time.sleep(interval)
