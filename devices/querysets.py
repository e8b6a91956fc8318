"""Chainable filters for devices, bookings and queue entries."""

from datetime import UTC, datetime

from django.db import models
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from devices.choices import BookingStatus, DeviceStatus, QueueEntryStatus

# The deadline of a request with no window: after every real one, and never null, so the
# service order (priority, deadline, id) is total and cursor-paginable.
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)
SERVICE_ORDER = ("priority", "deadline", "id")


class DeviceQuerySet(models.QuerySet):
    def available(self):
        return self.filter(status=DeviceStatus.AVAILABLE)

    def of_kind(self, kind: str):
        return self.filter(kind=kind)


class BookingQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=BookingStatus.ACTIVE)


class QueueEntryQuerySet(models.QuerySet):
    def waiting(self):
        return self.filter(status=QueueEntryStatus.WAITING)

    def in_service_order(self):
        return self.order_by(*SERVICE_ORDER)


def served_before(priority, deadline, pk) -> Q:
    """Entries served before one at (``priority``, ``deadline``, ``pk``): by priority, then the
    earliest window deadline, then arrival. Values or ``OuterRef``s alike."""
    return (
        Q(priority__lt=priority)
        | Q(priority=priority, deadline__lt=deadline)
        | Q(priority=priority, deadline=deadline, id__lt=pk)
    )


def waiting_ahead_count(queue_entries):
    """How many waiting entries of the same device are served before each entry (a subquery over
    ``queue_entries``, the QueueEntry manager: models import this module, not the reverse)."""
    ahead = queue_entries.waiting().filter(device_id=OuterRef("device_id"))
    ahead = ahead.filter(served_before(OuterRef("priority"), OuterRef("deadline"), OuterRef("id")))
    count = ahead.order_by().values("device_id").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(count, output_field=IntegerField()), 0)
