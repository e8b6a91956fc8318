"""What the live run page shows, read in a constant number of queries (invariant 8).

One read of a run for its admin page and the fragment that page polls: the run with its
run-steps (action type, device, booking unit), samples (plate, well, type), history and window
violations, its progress, what is in flight, and which controls its state allows. Who may use a
control is the page's question (roles), not this module's.
"""

from dataclasses import dataclass

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404

from samples.models import Sample
from workflows.choices import (
    FINISHED_WORKFLOW_STATUSES,
    IN_FLIGHT_STEP_STATUSES,
    RunStepStatus,
    WorkflowStatus,
)
from workflows.models import RunStep, RunUnit, Workflow, WorkflowEvent, WorkflowSample
from workflows.selectors import Progress, window_violations, workflow_progress

# Controls a run page offers, in the order its buttons appear.
START, PAUSE, RESUME, CANCEL = "start", "pause", "resume", "cancel"
RESOLVE_DECISIONS = ("retry", "mark_succeeded", "mark_failed")
CONTROLS = (START, PAUSE, RESUME, CANCEL, *RESOLVE_DECISIONS)


@dataclass(frozen=True)
class Segment:
    """One coloured part of the progress bar: a status group, its count and its share in percent."""

    key: str
    label: str
    count: int
    percent: float


@dataclass(frozen=True)
class RunPage:
    workflow: Workflow
    progress: Progress
    steps: list[RunStep]
    samples: list[Sample]
    events: list[WorkflowEvent]
    violations: list[RunUnit]
    in_flight: RunStep | None  # the action a device is doing now, if any
    decision_step: RunStep | None  # the first step whose outcome is unknown: an operator decides
    controls: tuple[str, ...]  # what the run's state allows, before asking who is asking

    @property
    def finished(self) -> bool:
        return self.workflow.status in FINISHED_WORKFLOW_STATUSES

    @property
    def live(self) -> bool:
        """Still changing: not finished, or finished with an action still running (cancelling)."""
        return not self.finished or self.in_flight is not None

    @property
    def cancelling(self) -> bool:
        """Cancelled, while the action in flight finishes (its device is released once it is recorded)."""
        return self.workflow.status == WorkflowStatus.CANCELLED and self.in_flight is not None

    @property
    def pausing(self) -> bool:
        """Paused, while the action in flight finishes (no next one starts)."""
        return self.workflow.status == WorkflowStatus.PAUSED and self.in_flight is not None

    @property
    def state_label(self) -> str:
        if self.cancelling:
            return "Cancelling"
        if self.pausing:
            return "Pausing"
        return self.workflow.get_status_display()

    @property
    def has_errors(self) -> bool:
        """Any step with an error or an operator's decision (else the page leaves that column out)."""
        return any(step.error or step.resolution for step in self.steps)

    @property
    def has_windows(self) -> bool:
        """Any step booked as a unit with a start window (else no window column)."""
        return any(step.unit_id and step.unit.window_seconds is not None for step in self.steps)

    @property
    def segments(self) -> list[Segment]:
        """The bar: succeeded, skipped, failed, unknown, in flight, pending (each counted apart)."""
        progress = self.progress
        in_flight = sum(1 for step in self.steps if step.status in IN_FLIGHT_STEP_STATUSES)
        counts = [
            ("succeeded", "done", progress.succeeded),
            ("skipped", "skipped", progress.skipped),
            ("failed", "failed", progress.failed),
            ("unknown", "unknown", progress.unknown),
            ("in-flight", "in flight", in_flight),
            ("pending", "to do", progress.total - progress.settled - in_flight),
        ]
        total = progress.total or 1
        return [Segment(key, label, count, round(100 * count / total, 3)) for key, label, count in counts if count]


def run_page_controls(workflow: Workflow, steps: list[RunStep]) -> tuple[str, ...]:
    """The controls the services would accept now (a button for anything else only earns a 409).

    Created: start or cancel. Queued: cancel. Running: pause or cancel. Paused: resume (unless a
    step's outcome is unknown: that is decided first), cancel. A step with an unknown outcome:
    retry, mark succeeded, mark failed. Finished: nothing.
    """
    status = workflow.status
    if status in FINISHED_WORKFLOW_STATUSES:
        return ()
    unknown = any(step.status == RunStepStatus.UNKNOWN for step in steps)
    controls = []
    if status == WorkflowStatus.CREATED:
        controls.append(START)
    if status == WorkflowStatus.RUNNING:
        controls.append(PAUSE)
    if status == WorkflowStatus.PAUSED and not unknown:
        controls.append(RESUME)
    controls.append(CANCEL)
    if unknown:
        controls.extend(RESOLVE_DECISIONS)
    return tuple(controls)


def run_page(workflow_id: int) -> RunPage:
    """The live run page of ``workflow_id`` (404 if none): five queries whatever the run's size."""
    run_steps = RunStep.objects.select_related("action_type", "device", "unit").order_by("position")
    samples = WorkflowSample.objects.select_related("sample__plate").order_by("position")
    workflow = get_object_or_404(
        Workflow.objects.select_related("protocol", "campaign", "device", "created_by").prefetch_related(
            Prefetch("run_steps", queryset=run_steps),
            Prefetch("workflow_samples", queryset=samples),
            Prefetch("events", queryset=WorkflowEvent.objects.select_related("run_step").order_by("id")),
        ),
        pk=workflow_id,
    )
    steps = list(workflow.run_steps.all())
    in_flight = next((step for step in steps if step.status in IN_FLIGHT_STEP_STATUSES), None)
    return RunPage(
        workflow=workflow,
        progress=workflow_progress(workflow),
        steps=steps,
        samples=[link.sample for link in workflow.workflow_samples.all()],
        events=list(workflow.events.all()),
        violations=list(window_violations().filter(workflow_id=workflow.pk).order_by("position")),
        in_flight=in_flight,
        decision_step=next((step for step in steps if step.status == RunStepStatus.UNKNOWN), None),
        controls=run_page_controls(workflow, steps),
    )
