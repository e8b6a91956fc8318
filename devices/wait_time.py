"""How long a workflow will wait for a device: the remaining work of everything served before it.

The estimate is the sum, along the device's queue, of

- the holder's remaining run-steps (pending, or in flight less the time already spent), and
- the whole remaining plan of every waiting request served before the asking workflow,

each run-step costing the median measured latency of its action type on its device in the
execution log when there is history (successful dispatches), else its ActionType's
``estimated_duration_seconds``. A workflow that has no run-steps at all (a booking made by hand
through the original API) counts ``LABCORE_WAIT_FALLBACK_SECONDS`` (default 60). The estimate is
0 only for a free device nobody waits for; a busy or reserved device is never less than 1 s.
Method and caveats: docs/booking.md. The remaining work of a workflow (its run-steps, priced with
the execution log) is computed by workflows (workflows.remaining_work), above devices, and
handed in through devices.workflow_rules.
"""

from django.conf import settings

from devices.choices import Priority
from devices.models import Booking, Device
from devices.selectors import device_queue
from devices.workflow_rules import remaining_work_seconds

MINIMUM_BUSY_WAIT_SECONDS = 1.0


def fallback_seconds() -> float:
    return float(getattr(settings, "LABCORE_WAIT_FALLBACK_SECONDS", 60.0))


def wait_time_estimate(*, device: Device, workflow=None) -> dict:
    """Position of ``workflow`` for ``device`` and its estimated wait in seconds.

    Position 0: it holds the device. Otherwise 1 is served next; a workflow that is not queued
    gets the position a new request at its priority would take (the end of the queue without one).
    """
    holder = Booking.objects.active().filter(device=device).first()
    entries = list(device_queue(device))
    result = {
        "device_id": device.pk,
        "workflow_id": workflow.pk if workflow else None,
        "holder_workflow_id": holder.workflow_id if holder else None,
        "queued": False,
    }
    if workflow is not None and holder is not None and holder.workflow_id == workflow.pk:
        return result | {"position": 0, "estimated_wait_seconds": 0.0}
    own = next((entry for entry in entries if workflow and entry.workflow_id == workflow.pk), None)
    if own:
        ahead = entries[: entries.index(own)]
    else:
        priority = workflow.priority if workflow is not None else Priority.LOW
        ahead = [entry for entry in entries if entry.priority <= priority]
    before = ([holder.workflow_id] if holder else []) + [entry.workflow_id for entry in ahead]
    seconds = sum(remaining_work_seconds(before).values()) if before else 0.0
    if before:
        seconds = max(seconds, MINIMUM_BUSY_WAIT_SECONDS)
    return result | {"position": len(ahead) + 1, "queued": own is not None, "estimated_wait_seconds": round(seconds, 3)}


__all__ = ["fallback_seconds", "wait_time_estimate"]
