"""Reads of workflows with everything their API representation needs, in constant queries."""

from dataclasses import dataclass

from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from samples.models import Plate
from workflows.choices import (
    DONE_STEP_STATUSES,
    FINISHED_WORKFLOW_STATUSES,
    IN_FLIGHT_STEP_STATUSES,
    LOGGED_STEP_STATUSES,
    UNFINISHED_WORKFLOW_STATUSES,
    RunStepStatus,
    WorkflowStatus,
)
from workflows.models import (
    Action,
    Campaign,
    Project,
    Protocol,
    RunStep,
    RunUnit,
    Step,
    Workflow,
    WorkflowEvent,
    WorkflowSample,
)


def workflow_list() -> QuerySet[Workflow]:
    """Workflows with samples and run-steps: three queries whatever the number of rows."""
    return Workflow.objects.select_related("protocol", "device").prefetch_related(
        Prefetch("workflow_samples", queryset=WorkflowSample.objects.select_related("sample").order_by("position")),
        run_steps_for_progress(),
    )


def run_steps_for_progress() -> Prefetch:
    """The prefetch ``workflow_progress`` reads: run-steps with their action types, in plan order."""
    return Prefetch("run_steps", queryset=RunStep.objects.select_related("action_type", "unit").order_by("position"))


def run_steps_for_counts() -> Prefetch:
    """The prefetch for a progress that is only counted (a list page): each step's status, nothing
    else. A page of 100 runs holds about 1,400 steps; building them whole, with their JSON
    parameters and results and their joined types and units, was most of the run list's time."""
    steps = RunStep.objects.only("id", "workflow_id", "position", "status").order_by("position")
    return Prefetch("run_steps", queryset=steps)


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


# --- Campaigns ---------------------------------------------------------------------------------


def window_violations() -> QuerySet:
    """What counts as one window violation: a booking unit that started after its window closed.

    The one definition the campaign summary, the API and the admin count; callers only need
    rows with a ``workflow``.
    """
    return RunUnit.objects.filter(window_missed_seconds__isnull=False)


def _campaign_window_violations() -> Coalesce:
    """A campaign's violations as one subquery column, so a page of campaigns costs no extra query."""
    counted = (
        window_violations()
        .filter(workflow__campaign=OuterRef("pk"))
        .order_by()
        .values("workflow__campaign")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _campaigns(runs: QuerySet[Workflow]) -> QuerySet[Campaign]:
    return (
        Campaign.objects.select_related("protocol", "created_by")
        .annotate(window_violations=_campaign_window_violations())
        .prefetch_related(Prefetch("workflows", queryset=runs))
    )


def campaign_list() -> QuerySet[Campaign]:
    """Campaigns with their runs' progress and violations: three queries whatever the number of rows."""
    return _campaigns(Workflow.objects.order_by("id").prefetch_related(run_steps_for_progress()))


def campaign_detail() -> QuerySet[Campaign]:
    """``campaign_list`` plus each run's samples and their plate (one query more, for any size)."""
    samples = WorkflowSample.objects.select_related("sample__plate").order_by("position")
    return _campaigns(
        Workflow.objects.order_by("id").prefetch_related(
            run_steps_for_progress(), Prefetch("workflow_samples", queryset=samples)
        )
    )


def workflow_plate_barcode(workflow: Workflow) -> str | None:
    """The plate of a campaign run: its samples' plate (``campaign_detail`` prefetches them)."""
    link = next(iter(workflow.workflow_samples.all()), None)
    return link.sample.plate.barcode if link is not None and link.sample.plate_id else None


@dataclass(frozen=True)
class CampaignSummary:
    """Where a campaign stands: its runs by status, plates done, window violations and summed progress."""

    workflows: int
    by_status: dict[str, int]
    plates_done: int
    window_violations: int
    progress: Progress


def campaign_summary(campaign: Campaign) -> CampaignSummary:
    """The one summary of a campaign, for the API, the admin and ``run_campaign``.

    Reads ``campaign.workflows.all()`` with their run-steps and the ``window_violations``
    annotation (``campaign_list`` / ``campaign_detail``); without the annotation it counts
    them with one query. A plate is done when its run completed.
    """
    runs = list(campaign.workflows.all())
    by_status = dict.fromkeys(WorkflowStatus.values, 0)
    totals = dict.fromkeys(("succeeded", "skipped", "failed", "unknown", "total"), 0)
    for run in runs:
        by_status[run.status] += 1
        progress = workflow_progress(run)
        for key in totals:
            totals[key] += getattr(progress, key)
    violations = getattr(campaign, "window_violations", None)
    if violations is None:
        violations = window_violations().filter(workflow__campaign=campaign).count()
    return CampaignSummary(
        workflows=len(runs),
        by_status=by_status,
        plates_done=by_status[WorkflowStatus.COMPLETED],
        window_violations=violations,
        progress=Progress(**totals, current=None),
    )


def run_steps_without_log_entry() -> QuerySet[RunStep]:
    """Finished run-steps with no execution log entry: their record was removed, or never written."""
    return (
        RunStep.objects.filter(status__in=LOGGED_STEP_STATUSES, execution_logs__isnull=True)
        .order_by("workflow_id", "position")
        .only("id", "workflow_id", "position", "status", "step_name")
    )


def run_step_log_coverage_problems(limit: int = 20) -> list[str]:
    """verify_logs's check that every finished run-step has its log entry, as sentences (the first ``limit``)."""
    missing = run_steps_without_log_entry()
    problems = [
        f"run-step #{step.pk} (workflow {step.workflow_id}, step {step.position} {step.step_name!r}, "
        f"{step.status}) has no execution log entry"
        for step in missing[:limit]
    ]
    more = missing.count() - limit if len(problems) == limit else 0
    if more > 0:
        problems.append(f"{more} more finished run-steps have no execution log entry")
    return problems


def plates_for_campaign() -> QuerySet[Plate]:
    """Plates by barcode with their number of samples and whether one is in an unfinished campaign run
    (``campaign_create`` refuses those): one query for any number of plates."""
    busy = WorkflowSample.objects.filter(
        sample__plate=OuterRef("pk"),
        workflow__campaign__isnull=False,
        workflow__status__in=UNFINISHED_WORKFLOW_STATUSES,
    )
    return Plate.objects.annotate(sample_count=Count("samples"), in_campaign_run=Exists(busy)).order_by("barcode")
