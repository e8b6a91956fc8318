"""``manage.py run_workflow``: start a protocol run (auto mode) and show a live progress bar until it ends.

The Celery workers run it; this command only creates, starts and watches it (Ctrl-C stops
watching, not the run). Exit status: 0 completed, 1 failed or cancelled, 2 still going at --timeout.
"""

import sys
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from devices.choices import Priority
from labcore.celery import app
from labcore.exceptions import ApplicationError
from samples.models import Sample
from workflows.choices import ProtocolStatus, RunStepStatus, WorkflowStatus
from workflows.models import Protocol, Workflow
from workflows.services.creation import workflow_create_from_protocol
from workflows.services.execution import workflow_start

FINISHED = (WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELLED)
BAR_WIDTH = 30


def protocol_find(reference: str) -> Protocol:
    """A protocol by id, or the latest published version with that name."""
    published = Protocol.objects.filter(status=ProtocolStatus.PUBLISHED)
    found = (
        published.filter(pk=int(reference)).first()
        if reference.isdigit()
        else published.filter(name=reference).order_by("-version_major", "-version_minor").first()
    )
    if found is None:
        raise CommandError(f"no published protocol {reference!r}")
    return found


def progress_line(workflow: Workflow) -> str:
    steps = list(workflow.run_steps.select_related("action_type").order_by("position"))
    done = sum(1 for s in steps if s.status in (RunStepStatus.SUCCEEDED, RunStepStatus.SKIPPED))
    total = len(steps) or 1
    filled = int(BAR_WIDTH * done / total)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    current = next((s for s in steps if s.status in (RunStepStatus.DISPATCHING, RunStepStatus.WAITING)), None) or next(
        (s for s in steps if s.status not in (RunStepStatus.SUCCEEDED, RunStepStatus.SKIPPED)), None
    )
    line = f"[{bar}] {done}/{len(steps)} {workflow.status}"
    if current is not None and workflow.status not in FINISHED:
        line += f" - step {current.position} {current.action_type.name} on {current.device_id} ({current.status})"
    if workflow.status_reason:
        line += f" - {workflow.status_reason}"
    return line


class Command(BaseCommand):
    help = "Start a run of a published protocol on samples (auto mode) and watch it with a live progress bar."

    def add_arguments(self, parser):
        parser.add_argument("protocol", nargs="?", help="protocol id or name (latest published version)")
        parser.add_argument("--samples", default="", help="comma-separated sample barcodes, e.g. SAMPLE001,SAMPLE002")
        parser.add_argument("--name", default="", help="workflow name (default: the protocol's)")
        parser.add_argument("--priority", choices=[p.label for p in Priority], default="normal")
        parser.add_argument("--user", default="", help="username recorded as the creator")
        parser.add_argument("--workflow", type=int, help="watch (and start, if created) an existing workflow")
        parser.add_argument("--interval", type=float, default=0.5, help="seconds between progress updates")
        parser.add_argument("--timeout", type=float, default=0, help="stop watching after this many seconds")

    def handle(self, *args, **options):
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
        self._warn_without_worker()
        try:
            workflow = self._workflow(options, user)
            if workflow.status == WorkflowStatus.CREATED:
                workflow = workflow_start(workflow=workflow, user=user)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"workflow {workflow.pk} ({workflow.name}): {workflow.status}")
        status = self._watch(workflow, interval=options["interval"], timeout=options["timeout"])
        if status == WorkflowStatus.COMPLETED:
            return
        sys.exit(1 if status in FINISHED else 2)

    def _workflow(self, options, user) -> Workflow:
        if options["workflow"]:
            workflow = Workflow.objects.filter(pk=options["workflow"]).first()
            if workflow is None:
                raise CommandError(f"no workflow {options['workflow']}")
            return workflow
        if not options["protocol"]:
            raise CommandError("name a protocol (id or name), or --workflow ID")
        protocol = protocol_find(options["protocol"])
        barcodes = [b.strip() for b in options["samples"].split(",") if b.strip()]
        samples = list(Sample.objects.filter(barcode__in=barcodes))
        missing = sorted(set(barcodes) - {s.barcode for s in samples})
        if missing:
            raise CommandError("unknown sample(s): " + ", ".join(missing))
        samples.sort(key=lambda s: barcodes.index(s.barcode))
        return workflow_create_from_protocol(
            name=options["name"] or protocol.name,
            protocol=protocol,
            samples=samples,
            priority=Priority.from_name(options["priority"]),
            user=user,
        )

    def _warn_without_worker(self) -> None:
        try:
            answered = app.control.ping(timeout=1.0)
        except Exception:
            answered = []
        if not answered:
            self.stderr.write("warning: no Celery worker answered; start one (make worker) or the run will not move")

    def _watch(self, workflow: Workflow, *, interval: float, timeout: float) -> str:
        tty = self.stdout.isatty()
        deadline = time.monotonic() + timeout if timeout else None
        last = ""
        while True:
            workflow.refresh_from_db()
            line = progress_line(workflow)
            if line != last:
                self.stdout.write(("\r" + line.ljust(len(last))) if tty else line, ending="" if tty else "\n")
                self.stdout.flush()
                last = line
            if workflow.status in FINISHED or (deadline and time.monotonic() > deadline):
                if tty:
                    self.stdout.write("")
                return workflow.status
            time.sleep(interval)
