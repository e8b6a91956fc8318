"""Reads of devices that cross relations, each with the joins its callers need."""

from django.db.models import Prefetch, QuerySet

from devices.choices import BookingStatus
from devices.models import ActionType, Booking, Device, QueueEntry
from devices.querysets import served_before, waiting_ahead_count


def device_list() -> QuerySet[Device]:
    """Devices with their active bookings (one per slot in use) prefetched: one query for the lot."""
    return Device.objects.prefetch_related(
        Prefetch(
            "bookings",
            queryset=Booking.objects.filter(status=BookingStatus.ACTIVE).order_by("slot"),
            to_attr="active_bookings",
        )
    ).order_by("id")


def device_active_bookings(device: Device) -> list[Booking]:
    """The active bookings of ``device`` by slot, from the prefetch when ``device_list`` made it."""
    active = getattr(device, "active_bookings", None)
    if active is None:
        active = list(device.bookings.filter(status=BookingStatus.ACTIVE).order_by("slot"))
    return active


def device_holder_workflow_id(device: Device) -> int | None:
    """The workflow that holds ``device`` (of a shared device: the one in the lowest slot)."""
    active = device_active_bookings(device)
    return active[0].workflow_id if active else None


def action_type_list() -> QuerySet[ActionType]:
    return ActionType.objects.order_by("name")


def booking_list() -> QuerySet[Booking]:
    """Bookings with the device and the user who released them (the API and admin read both)."""
    return Booking.objects.select_related("device", "released_by")


def device_queue(device: Device) -> QuerySet[QueueEntry]:
    """The waiting entries of ``device`` in service order, each annotated with its ``position``.

    The position (1 = served next) is a correlated count rather than a window function, so it
    stays right on every page of a cursor-paginated listing.
    """
    return QueueEntry.objects.waiting().filter(device=device).in_service_order().annotate(position=_position())


def queue_entry_position(entry: QueueEntry) -> int:
    """Where a waiting entry stands in its device's queue (1 = served next)."""
    ahead = QueueEntry.objects.waiting().filter(device_id=entry.device_id)
    return ahead.filter(served_before(entry.priority, entry.deadline, entry.id)).count() + 1


def _position():
    return waiting_ahead_count(QueueEntry.objects) + 1


def queue_entry_list() -> QuerySet[QueueEntry]:
    """Queue entries of every device with their device and workflow (admin)."""
    return QueueEntry.objects.select_related("device", "workflow")


def device_in_use(device: Device) -> bool:
    """True when a protocol action is pinned to ``device`` or a run-step was planned on it."""
    # Both models belong to workflows, above devices: reached through relations, not imports
    # (Action.device is ``pinned_actions``; run-steps through the workflow a booking points at).
    workflow_model = Booking._meta.get_field("workflow").related_model
    return device.pinned_actions.exists() or workflow_model.objects.filter(run_steps__device=device).exists()
