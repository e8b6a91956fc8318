"""Reads of devices that cross relations, each with the joins its callers need."""

from django.db.models import Prefetch, QuerySet

from devices.choices import BookingStatus
from devices.models import ActionType, Booking, Device


def device_list() -> QuerySet[Device]:
    """Devices with their active booking (if any) prefetched: one query for the lot."""
    return Device.objects.prefetch_related(
        Prefetch(
            "bookings",
            queryset=Booking.objects.filter(status=BookingStatus.ACTIVE),
            to_attr="active_bookings",
        )
    ).order_by("id")


def device_holder_workflow_id(device: Device) -> int | None:
    """The workflow that holds ``device``, read from the prefetch when ``device_list`` made it."""
    active = getattr(device, "active_bookings", None)
    if active is None:
        active = list(device.bookings.filter(status=BookingStatus.ACTIVE))
    return active[0].workflow_id if active else None


def action_type_list() -> QuerySet[ActionType]:
    return ActionType.objects.order_by("name")
