"""How much work a workflow still has to do, in seconds: what the devices' wait-time estimate adds up.

Each remaining run-step (pending, or in flight less the time already spent) costs the median
measured latency of its action type on its device in the execution log when there is history
(successful dispatches), else its ActionType's ``estimated_duration_seconds`` (scaled as the mock
scales latency with mock hardware, ``devices.wait_time.estimated_action_seconds``); a workflow with
no run-steps at all counts ``LABCORE_WAIT_FALLBACK_SECONDS``. A manual run adds that fallback to its
steps: it holds its device until an operator calls ``complete`` (its steps run when someone
executes them, at a pace the log does not know), so with its steps done it still holds the device;
counting its steps alone said "about 1 s" (the busy floor) behind a manual holder. It reads run-steps and the
execution log, both above devices, so workflows provides it to devices.wait_time
(registered in WorkflowsConfig.ready through devices.workflow_rules).
"""

from django.db.models import Q
from django.utils import timezone

from devices.wait_time import estimated_action_seconds, fallback_seconds
from executionlogs.selectors import latency_medians_seconds
from workflows.choices import IN_FLIGHT_STEP_STATUSES, RunStepStatus, WorkflowMode
from workflows.models import RunStep, Workflow

# Steps still to run: pending, or in flight (less the time already spent).
REMAINING_STEP_STATUSES = (RunStepStatus.PENDING, *IN_FLIGHT_STEP_STATUSES)


def measured_medians(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """Median successful latency in seconds per (action type name, device id), where logged: from
    the latency statistics the log keeps up to date, so it costs the same at any log size."""
    return latency_medians_seconds(pairs)


def remaining_work_seconds(workflow_ids: list[int]) -> dict[int, float]:
    """Estimated seconds of work each workflow still has to do (three queries for any number)."""
    workflow_ids = list(dict.fromkeys(workflow_ids))
    # A protocol run booked unit by unit holds (or waits for) one unit at a time: only the steps of
    # the unit it is in, or is due next, count (the one with a due time and no end).
    current = Q(unit__isnull=True) | Q(unit__due_at__isnull=False, unit__ended_at__isnull=True)
    steps = list(RunStep.objects.filter(current, workflow_id__in=workflow_ids).select_related("action_type"))
    medians = measured_medians(
        {(step.action_type.name, step.device_id) for step in steps if step.status in REMAINING_STEP_STATUSES}
    )
    now = timezone.now()
    seconds = dict.fromkeys(workflow_ids, 0.0)
    has_steps = set()
    for step in steps:
        has_steps.add(step.workflow_id)
        if step.status not in REMAINING_STEP_STATUSES:
            continue
        measured = medians.get((step.action_type.name, step.device_id))
        cost = measured if measured is not None else estimated_action_seconds(step.action_type)
        started = step.started_at or step.dispatched_at
        if step.status in IN_FLIGHT_STEP_STATUSES and started:
            cost = max(0.0, cost - (now - started).total_seconds())
        seconds[step.workflow_id] += cost
    manual = set(Workflow.objects.filter(pk__in=workflow_ids, mode=WorkflowMode.MANUAL).values_list("pk", flat=True))
    for workflow_id in workflow_ids:
        if workflow_id not in has_steps:
            seconds[workflow_id] = fallback_seconds()
        elif workflow_id in manual:
            seconds[workflow_id] += fallback_seconds()  # the operator's turns, up to `complete`
    return seconds
