"""Chainable filters for devices, bookings and queue entries."""

from django.db import models

from devices.choices import BookingStatus, DeviceStatus, QueueEntryStatus


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
        return self.order_by("priority", "id")
