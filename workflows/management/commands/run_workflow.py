"""``manage.py run_workflow``: start a protocol run (auto mode) and show a live progress bar until it ends.

The Celery workers run it; this command only creates, starts and watches it (Ctrl-C stops
watching, not the run). Exit status: 0 completed, 1 failed or cancelled, 2 still going at --timeout.
"""

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from devices.choices import Priority
from labcore.celery import app
from labcore.exceptions import ApplicationError
from samples.models import Sample
from workflows.choices import FINISHED_WORKFLOW_STATUSES, ProtocolStatus, WorkflowStatus
from workflows.management.lifecycle import command_user
from workflows.models import Protocol, Workflow
from workflows.selectors import run_steps_for_progress, workflow_events, workflow_progress
from workflows.services.creation import workflow_create_from_protocol
from workflows.services.execution import workflow_start

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
    """A progress bar, the counts and the current action, from the one progress selector."""
    workflow = Workflow.objects.prefetch_related(run_steps_for_progress()).get(pk=workflow.pk)
    progress = workflow_progress(workflow)
    filled = int(BAR_WIDTH * progress.settled / (progress.total or 1))
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    line = f"[{bar}] {progress.succeeded}/{progress.total} {workflow.status}"
    extra = [f"{n} {label}" for label, n in (("skipped", progress.skipped), ("failed", progress.failed)) if n]
    if extra:
        line += " (" + ", ".join(extra) + ")"
    current = progress.current
    if current is not None:
        line += f" - step {current.position} {current.action_type.name} on {current.device_id} ({current.status})"
    if workflow.status_reason:
        line += f" - {workflow.status_reason}"
    return line


def event_line(event) -> str:
    """One status change as ``run_workflow`` prints it."""
    subject = f"step {event.run_step.position}" if event.run_step_id else "run"
    reason = f": {event.reason}" if event.reason else ""
    return f"{event.at:%H:%M:%S} {subject} {event.from_status or '-'} -> {event.to_status} by {event.by}{reason}"


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
        user = command_user(options["user"])
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
        sys.exit(1 if status in FINISHED_WORKFLOW_STATUSES else 2)

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
        last_event_id = 0
        while True:
            workflow.refresh_from_db()
            for event in workflow_events(workflow.pk).filter(id__gt=last_event_id):
                # Events are printed as they happen, above the progress bar.
                self.stdout.write(("\r" + event_line(event).ljust(len(last))) if tty else event_line(event))
                last_event_id, last = event.pk, ""
            line = progress_line(workflow)
            if line != last:
                self.stdout.write(("\r" + line.ljust(len(last))) if tty else line, ending="" if tty else "\n")
                self.stdout.flush()
                last = line
            if workflow.status in FINISHED_WORKFLOW_STATUSES or (deadline and time.monotonic() > deadline):
                if tty:
                    self.stdout.write("")
                return workflow.status
            time.sleep(interval)
