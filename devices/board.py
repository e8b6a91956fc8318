"""The devices page's read: each device with who holds its slots (which workflow, started by whom,
since when) and the head of its queue with positions and estimated waits, in a constant number of
queries for any number of devices, bookings and queue entries.

The waits follow the wait-time rule of ``devices.wait_time`` (each request served before takes the
slot that frees first, ``earliest_slot_seconds``; never under a second while no slot is free),
priced with one ``remaining_work_seconds`` call for the whole page instead of one estimate (and
its queries) per entry. ``wait_time_estimate`` also asks the scheduler's plan for a protocol run
booked step by step (``planned_wait_seconds``: the whole plan, per call), which a page of many
queues cannot afford; for those runs the device timeline shows the plan itself.
"""

from collections.abc import Iterable

from django.db.models import Count, Prefetch, Q, QuerySet

from devices.choices import BookingStatus, QueueEntryStatus
from devices.models import Booking, Device, QueueEntry
from devices.querysets import waiting_ahead_count
from devices.wait_time import MINIMUM_BUSY_WAIT_SECONDS, earliest_slot_seconds
from devices.workflow_rules import remaining_work_seconds

# The changelist shows the first few waiting requests of each device; the device's page shows all.
QUEUE_HEAD = 5


def _queue_entries() -> QuerySet[QueueEntry]:
    """Waiting entries in service order, each with its ``position`` (1 = served next) and workflow."""
    position = waiting_ahead_count(QueueEntry.objects) + 1
    return (
        QueueEntry.objects.waiting()
        .in_service_order()
        .annotate(position=position)
        .select_related("workflow__created_by")
    )


def device_board_list() -> QuerySet[Device]:
    """Devices with ``active_bookings`` (by slot, with workflow and its starter), ``queue_head``
    (the first ``QUEUE_HEAD`` waiting entries, with positions) and ``queue_length``: three queries."""
    return Device.objects.annotate(
        queue_length=Count("queue_entries", filter=Q(queue_entries__status=QueueEntryStatus.WAITING))
    ).prefetch_related(
        Prefetch(
            "bookings",
            queryset=Booking.objects.filter(status=BookingStatus.ACTIVE)
            .order_by("slot")
            .select_related("workflow__created_by"),
            to_attr="active_bookings",
        ),
        # A sliced prefetch: one query with a window function, at most QUEUE_HEAD rows per device.
        Prefetch("queue_entries", queryset=_queue_entries()[:QUEUE_HEAD], to_attr="queue_head"),
    )


def device_board_queue(device: Device) -> list[QueueEntry]:
    """The whole queue of one device, in service order with positions (the device's page)."""
    return list(_queue_entries().filter(device=device))


def queue_waits_attach(devices: Iterable[Device], *, queue: str = "queue_head") -> None:
    """Set ``estimated_wait_seconds`` on each entry of each device's list ``queue`` (in service
    order, from the front of the queue) and ``remaining_seconds`` on each active booking: one
    ``remaining_work_seconds`` call (a constant number of queries) for all of them."""
    devices = list(devices)
    workflow_ids = [row.workflow_id for device in devices for row in [*device.active_bookings, *getattr(device, queue)]]
    work = remaining_work_seconds(workflow_ids) if workflow_ids else {}
    for device in devices:
        holders = device.active_bookings
        holding = [work[booking.workflow_id] for booking in holders]
        for booking, seconds in zip(holders, holding, strict=True):
            booking.remaining_seconds = seconds
        ahead: list[float] = []
        for entry in getattr(device, queue):
            seconds = earliest_slot_seconds(capacity=device.capacity, holding=holding, ahead=ahead)
            if len(holders) + len(ahead) >= device.capacity:  # no slot is left for it right now
                seconds = max(seconds, MINIMUM_BUSY_WAIT_SECONDS)
            entry.estimated_wait_seconds = round(seconds, 3)
            ahead.append(work[entry.workflow_id])
