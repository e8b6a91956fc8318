"""Reads of workflows with everything their API representation needs, in constant queries."""

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from workflows.choices import DONE_STEP_STATUSES, FINISHED_WORKFLOW_STATUSES, IN_FLIGHT_STEP_STATUSES, RunStepStatus
from workflows.models import Action, Project, Protocol, RunStep, Step, Workflow, WorkflowEvent, WorkflowSample


def workflow_list() -> QuerySet[Workflow]:
    """Workflows with samples and run-steps: three queries whatever the number of rows."""
    return Workflow.objects.select_related("protocol", "device").prefetch_related(
        Prefetch("workflow_samples", queryset=WorkflowSample.objects.select_related("sample").order_by("position")),
        run_steps_for_progress(),
    )


def run_steps_for_progress() -> Prefetch:
    """The prefetch ``workflow_progress`` reads: run-steps with their action types, in plan order."""
    return Prefetch("run_steps", queryset=RunStep.objects.select_related("action_type").order_by("position"))


@dataclass(frozen=True)
class Progress:
    """How far a run is: each count separately, so a cancelled run does not read as done."""

    succeeded: int
    skipped: int
    failed: int
    unknown: int
    total: int
    current: RunStep | None  # the step in flight, else the next to run; None once the run is finished

    @property
    def settled(self) -> int:
        """Steps with nothing left to do (succeeded, skipped, failed or unknown)."""
        return self.succeeded + self.skipped + self.failed + self.unknown


def workflow_progress(workflow: Workflow) -> Progress:
    """The one progress of a run, for the API, the admin and ``run_workflow``.

    Reads ``workflow.run_steps.all()``: callers prefetch it (``workflow_list``,
    ``run_steps_for_progress``), so a page of runs costs one query, not one per run.
    """
    steps = list(workflow.run_steps.all())
    counts = dict.fromkeys(RunStepStatus.values, 0)
    for step in steps:
        counts[step.status] += 1
    current = None
    if workflow.status not in FINISHED_WORKFLOW_STATUSES:
        current = next((s for s in steps if s.status in IN_FLIGHT_STEP_STATUSES), None) or next(
            (s for s in steps if s.status not in DONE_STEP_STATUSES), None
        )
    return Progress(
        succeeded=counts[RunStepStatus.SUCCEEDED],
        skipped=counts[RunStepStatus.SKIPPED],
        failed=counts[RunStepStatus.FAILED],
        unknown=counts[RunStepStatus.UNKNOWN],
        total=len(steps),
        current=current,
    )


def workflow_events(workflow_id: int) -> QuerySet[WorkflowEvent]:
    """A run's history, oldest first, with the run-step's position (one query)."""
    return WorkflowEvent.objects.filter(workflow_id=workflow_id).select_related("run_step").order_by("id")


def project_list() -> QuerySet[Project]:
    return Project.objects.order_by("name")


def protocol_list() -> QuerySet[Protocol]:
    """Protocols with their project, steps and actions (with types): four queries for any number."""
    actions = Action.objects.select_related("action_type", "device").order_by("position")
    steps = Step.objects.order_by("position").prefetch_related(Prefetch("actions", queryset=actions))
    return Protocol.objects.select_related("project").prefetch_related(Prefetch("steps", queryset=steps))


def protocol_versions(protocol: Protocol) -> QuerySet[Protocol]:
    """Every version of ``protocol`` (same project and name), oldest first."""
    return Protocol.objects.filter(project_id=protocol.project_id, name=protocol.name).order_by(
        "version_major", "version_minor"
    )


@dataclass(frozen=True)
class ProtocolSummary:
    """What a scientist checks before running a protocol."""

    step_count: int
    action_count: int
    device_kinds: list[str]
    devices: list[str]
    estimated_duration_seconds: float


def protocol_summary(protocol: Protocol) -> ProtocolSummary:
    """Counts, kinds, pinned devices and estimated time, from the prefetch of ``protocol_list``.

    Unpinned actions run on any device of their kind, so only pinned devices are named.
    """
    steps = list(protocol.steps.all())
    actions = [action for step in steps for action in step.actions.all()]
    return ProtocolSummary(
        step_count=len(steps),
        action_count=len(actions),
        device_kinds=sorted({action.action_type.device_kind for action in actions}),
        devices=sorted({action.device_id for action in actions if action.device_id}),
        estimated_duration_seconds=sum(action.action_type.estimated_duration_seconds for action in actions),
    )
