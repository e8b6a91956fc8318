"""How long a workflow will wait for a device: the remaining work of everything served before it.

A device has ``capacity`` slots. Each slot frees when its holder's remaining run-steps are done
(pending, or in flight less the time already spent; a free slot at once); every waiting request
served before the asking workflow takes the slot that frees first and keeps it for its whole
remaining plan; the asking workflow's wait is when the first slot frees after all of those. With
capacity 1 that is the holder's remaining work plus the plans of everyone ahead.

Each run-step costs the median measured latency of its action type on its device in the
execution log when there is history (successful dispatches), else its ActionType's
``estimated_duration_seconds``. A workflow that has no run-steps at all (a booking made by hand
through the original API) counts ``LABCORE_WAIT_FALLBACK_SECONDS`` (default 60). The estimate is
0 only when a slot is free for the asker now (capacity 1: a free device nobody waits for); else
it is never less than 1 s.
Method and caveats: docs/booking.md.
"""

import heapq

from django.conf import settings
from django.db.models import Aggregate, FloatField
from django.utils import timezone

from devices.choices import Priority
from devices.models import Booking, Device
from devices.selectors import device_queue
from executionlogs.choices import LogStatus
from executionlogs.models import ExecutionLog
from workflows.choices import RunStepStatus
from workflows.models import RunStep

REMAINING_STEP_STATUSES = (RunStepStatus.PENDING, RunStepStatus.DISPATCHING, RunStepStatus.WAITING)
IN_FLIGHT_STEP_STATUSES = (RunStepStatus.DISPATCHING, RunStepStatus.WAITING)
MINIMUM_BUSY_WAIT_SECONDS = 1.0


def fallback_seconds() -> float:
    return float(getattr(settings, "LABCORE_WAIT_FALLBACK_SECONDS", 60.0))


class Median(Aggregate):
    """PostgreSQL's continuous median: ``percentile_cont(0.5) WITHIN GROUP (ORDER BY x)``."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def measured_medians(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """Median successful latency in seconds per (action type name, device id), where logged."""
    if not pairs:
        return {}
    rows = (
        ExecutionLog.objects.filter(
            action_type__in={name for name, _ in pairs},
            device_id__in={device_id for _, device_id in pairs},
            status=LogStatus.SUCCESS,
            latency_ms__isnull=False,
        )
        .order_by()
        .values("action_type", "device_id")
        .annotate(median_ms=Median("latency_ms"))
    )
    return {(row["action_type"], row["device_id"]): row["median_ms"] / 1000.0 for row in rows}


def remaining_work_seconds(workflow_ids: list[int]) -> dict[int, float]:
    """Estimated seconds of work each workflow still has to do (two queries for any number)."""
    workflow_ids = list(dict.fromkeys(workflow_ids))
    steps = list(RunStep.objects.filter(workflow_id__in=workflow_ids).select_related("action_type"))
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
        cost = medians.get((step.action_type.name, step.device_id), step.action_type.estimated_duration_seconds)
        started = step.started_at or step.dispatched_at
        if step.status in IN_FLIGHT_STEP_STATUSES and started:
            cost = max(0.0, cost - (now - started).total_seconds())
        seconds[step.workflow_id] += cost
    for workflow_id in workflow_ids:
        if workflow_id not in has_steps:
            seconds[workflow_id] = fallback_seconds()
    return seconds


def earliest_slot_seconds(*, capacity: int, holding: list[float], ahead: list[float]) -> float:
    """When a slot is first free for a newcomer: ``holding`` are the remaining seconds of the
    slots' holders, ``ahead`` the plans of the requests served before it, in order (each takes
    the slot that frees first)."""
    slots = sorted(holding[:capacity]) + [0.0] * max(capacity - len(holding), 0)
    heapq.heapify(slots)
    for seconds in ahead:
        heapq.heappush(slots, heapq.heappop(slots) + seconds)
    return slots[0]


def wait_time_estimate(*, device: Device, workflow=None) -> dict:
    """Position of ``workflow`` for ``device`` and its estimated wait in seconds.

    Position 0: it holds the device. Otherwise 1 is served next; a workflow that is not queued
    gets the position a new request at its priority would take (the end of the queue without one).
    """
    holders = [booking.workflow_id for booking in Booking.objects.active().filter(device=device).order_by("slot")]
    entries = list(device_queue(device))
    result = {
        "device_id": device.pk,
        "workflow_id": workflow.pk if workflow else None,
        "holder_workflow_id": holders[0] if holders else None,
        "queued": False,
    }
    if workflow is not None and workflow.pk in holders:
        return result | {"holder_workflow_id": workflow.pk, "position": 0, "estimated_wait_seconds": 0.0}
    own = next((entry for entry in entries if workflow and entry.workflow_id == workflow.pk), None)
    if own:
        ahead = entries[: entries.index(own)]
    else:
        priority = workflow.priority if workflow is not None else Priority.LOW
        ahead = [entry for entry in entries if entry.priority <= priority]
    ahead_ids = [entry.workflow_id for entry in ahead]
    work = remaining_work_seconds(holders + ahead_ids) if holders or ahead_ids else {}
    seconds = earliest_slot_seconds(
        capacity=device.capacity, holding=[work[w] for w in holders], ahead=[work[w] for w in ahead_ids]
    )
    if len(holders) + len(ahead_ids) >= device.capacity:  # no slot is left for it right now
        seconds = max(seconds, MINIMUM_BUSY_WAIT_SECONDS)
    return result | {"position": len(ahead) + 1, "queued": own is not None, "estimated_wait_seconds": round(seconds, 3)}


__all__ = ["earliest_slot_seconds", "measured_medians", "remaining_work_seconds", "wait_time_estimate"]
