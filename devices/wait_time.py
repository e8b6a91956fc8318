"""How long a workflow will wait for a device: the remaining work of everything served before it.

A device has ``capacity`` slots. Each slot frees when its holder's remaining run-steps are done
(pending, or in flight less the time already spent; a free slot at once); every waiting request
served before the asking workflow takes the slot that frees first and keeps it for its whole
remaining plan; the asking workflow's wait is when the first slot frees after all of those. With
capacity 1 that is the holder's remaining work plus the plans of everyone ahead.

Each run-step costs the median measured latency of its action type on its device when there is
history (successful real dispatches, read from the latency statistics the execution log keeps
up to date, so an estimate costs the same at any log size), else its ActionType's
``estimated_duration_seconds`` (scaled like the mock's latency with mock hardware:
``estimated_action_seconds``). A workflow that has no run-steps at all (a booking made by hand
through the original API) counts ``LABCORE_WAIT_FALLBACK_SECONDS`` (default 60); a manual run
counts it on top of its steps left (its operator's part, until ``complete``). The estimate is
0 only when a slot is free for the asker now (capacity 1: a free device nobody waits for); else
it is never less than 1 s. Method and caveats: docs/booking.md. The remaining work of a workflow
(its run-steps, priced with the execution log) is computed by workflows
(workflows.remaining_work), above devices, and handed in through devices.workflow_rules.
"""

import heapq

from django.conf import settings
from django.db.models import Q

from devices.choices import Priority
from devices.models import Booking, Device
from devices.selectors import device_queue
from devices.workflow_rules import planned_wait_seconds, remaining_work_seconds
from labcore.exceptions import ApplicationError

MINIMUM_BUSY_WAIT_SECONDS = 1.0


def fallback_seconds() -> float:
    return float(getattr(settings, "LABCORE_WAIT_FALLBACK_SECONDS", 60.0))


def estimated_action_seconds(action_type) -> float:
    """What one action of ``action_type`` is expected to take when its device has no history:
    its ``estimated_duration_seconds`` (what the real instrument takes), or with mock hardware
    that duration scaled as the mock scales its latency (``LABCORE_MOCK_LATENCY_SCALE`` times
    ``LABCORE_TIME_SCALE``), since that is how long the mock will really take."""
    seconds = action_type.estimated_duration_seconds
    if settings.LABCORE_MOCK_HARDWARE:
        seconds *= settings.LABCORE_MOCK_LATENCY_SCALE * settings.LABCORE_TIME_SCALE
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


def _may_use(workflow, device: Device) -> bool:
    """Whether ``workflow`` could ever wait for ``device``: a run-step on it, or an unpinned one of
    its kind (booked on any free device of the kind), or no run-steps at all (a booking made by
    hand through the original API may name any device)."""
    steps = workflow.run_steps.all()  # the reverse relation: devices does not import workflows
    on_device = Q(device=device) | Q(pinned=False, action_type__device_kind=device.kind)
    return steps.filter(on_device).exists() or not steps.exists()


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
    if workflow is not None and own is None and not _may_use(workflow, device):
        raise ApplicationError(
            f"workflow {workflow.pk} does not use {device.pk}; it waits for no such device",
            fields={"workflow_id": [f"workflow {workflow.pk} has no step that runs on {device.pk}"]},
        )
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
    planned = planned_wait_seconds(device.pk, workflow.pk) if workflow is not None else None
    if planned is not None:
        # A protocol run booked step by step: the scheduler's plan says when its step on this
        # device starts (its due time, windows and every other run's units), so the answers agree.
        seconds = planned
    return result | {"position": len(ahead) + 1, "queued": own is not None, "estimated_wait_seconds": round(seconds, 3)}


__all__ = ["earliest_slot_seconds", "estimated_action_seconds", "fallback_seconds", "wait_time_estimate"]
