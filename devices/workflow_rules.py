"""What devices needs to know about workflows, handed in by workflows when the apps are ready.

Bookings and queue entries point at ``workflows.Workflow`` by a lazy foreign key, but devices
sits below workflows and does not import it (tests/labcore/test_import_graph.py). The two rules
of devices that depend on what a workflow is are answered by workflows, which registers them in
``WorkflowsConfig.ready()``:

- which workflow statuses are finished: a finished workflow books nothing, and its queued
  requests are withdrawn, never granted (devices.handoff);
- how many seconds of work some workflows still have (their run-steps, priced with the
  execution log's latencies): the wait-time estimate (devices.wait_time);
- when the scheduler's forward plan starts a workflow's next use of a device (protocol runs
  booked step by step), so that wait-time agrees with the schedule.

Asking before workflows registered is a configuration error, never a silent default.
"""

from collections.abc import Callable, Iterable

from django.core.exceptions import ImproperlyConfigured

RemainingWork = Callable[[list[int]], dict[int, float]]
PlannedWait = Callable[[str, int], float | None]

_finished_statuses: frozenset[str] | None = None
_remaining_work_seconds: RemainingWork | None = None
_planned_wait_seconds: PlannedWait | None = None


def workflow_rules_register(
    *, finished_statuses: Iterable[str], remaining_work_seconds: RemainingWork, planned_wait_seconds: PlannedWait
) -> None:
    """Called once by ``WorkflowsConfig.ready()``."""
    global _finished_statuses, _remaining_work_seconds, _planned_wait_seconds
    _finished_statuses = frozenset(finished_statuses)
    _remaining_work_seconds = remaining_work_seconds
    _planned_wait_seconds = planned_wait_seconds


def _not_registered() -> ImproperlyConfigured:
    return ImproperlyConfigured("devices asked about workflows before the workflows app registered its rules")


def finished_workflow_statuses() -> frozenset[str]:
    """Statuses of a workflow that will never run again (completed, failed, cancelled)."""
    if _finished_statuses is None:
        raise _not_registered()
    return _finished_statuses


def remaining_work_seconds(workflow_ids: list[int]) -> dict[int, float]:
    """Estimated seconds of work each of ``workflow_ids`` still has to do."""
    if _remaining_work_seconds is None:
        raise _not_registered()
    return _remaining_work_seconds(workflow_ids)


def planned_wait_seconds(device_id: str, workflow_id: int) -> float | None:
    """Seconds from now until the plan starts ``workflow_id`` on ``device_id`` (None: not in the plan)."""
    if _planned_wait_seconds is None:
        raise _not_registered()
    return _planned_wait_seconds(device_id, workflow_id)
