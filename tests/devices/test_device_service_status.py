"""Maintenance and offline: nobody is booked onto a device out of service; back in service, its queue is served."""

import pytest

from devices.choices import DeviceStatus, Priority
from devices.models import Booking, Device
from devices.services import (
    booking_create,
    booking_release,
    device_status_set,
    queue_entry_create,
    workflow_devices_acquire,
)
from labcore.exceptions import ApplicationError, ConflictError
from tests.factories import DeviceFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


def holder_of(device):
    booking = Booking.objects.active().filter(device=device).first()
    return booking.workflow_id if booking else None


def test_a_device_in_maintenance_cannot_be_booked():
    device = DeviceFactory()
    device_status_set(device=device, status=DeviceStatus.MAINTENANCE)
    with pytest.raises(ConflictError, match="maintenance"):
        booking_create(device=device, workflow=WorkflowFactory())


def test_requests_wait_for_a_device_in_maintenance_and_are_served_when_it_is_back():
    device, other = DeviceFactory(), DeviceFactory()
    device_status_set(device=device, status=DeviceStatus.OFFLINE)
    single, both = WorkflowFactory(), WorkflowFactory()
    assert not isinstance(queue_entry_create(device=device, workflow=single, priority=Priority.NORMAL), Booking)
    assert workflow_devices_acquire(workflow=both, devices=[device, other], priority=Priority.LOW) is False
    assert holder_of(other) is None  # all or nothing
    device_status_set(device=device, status=DeviceStatus.AVAILABLE)
    assert holder_of(device) == single.pk
    assert Device.objects.get(pk=device.pk).status == DeviceStatus.BUSY


def test_maintenance_does_not_break_a_booking_but_holds_the_queue():
    device, holder, waiting = DeviceFactory(), WorkflowFactory(), WorkflowFactory()
    booking_create(device=device, workflow=holder)
    queue_entry_create(device=device, workflow=waiting, priority=Priority.NORMAL)
    device_status_set(device=device, status=DeviceStatus.MAINTENANCE)
    assert holder_of(device) == holder.pk
    booking_release(device=device, workflow=holder)
    assert holder_of(device) is None
    assert Device.objects.get(pk=device.pk).status == DeviceStatus.MAINTENANCE
    device_status_set(device=device, status=DeviceStatus.AVAILABLE)
    assert holder_of(device) == waiting.pk


def test_back_in_service_while_booked_is_busy():
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    device_status_set(device=device, status=DeviceStatus.MAINTENANCE)
    assert device_status_set(device=device, status=DeviceStatus.AVAILABLE).status == DeviceStatus.BUSY


def test_an_unknown_status_is_refused_listing_the_statuses():
    with pytest.raises(ApplicationError, match="maintenance"):
        device_status_set(device=DeviceFactory(), status="broken")
