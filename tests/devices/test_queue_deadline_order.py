"""Within a priority, a request for a step with an earlier window deadline is served first."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.choices import Priority
from devices.models import Booking, QueueEntry
from devices.selectors import device_queue, queue_entry_position
from devices.services import booking_create, booking_release, workflow_devices_acquire
from tests.factories import DeviceFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


def holder(device):
    booking = Booking.objects.active().filter(device=device).first()
    return booking.workflow_id if booking else None


@pytest.fixture
def busy_microscope():
    microscope = DeviceFactory(id="deadline-microscope")
    booking_create(device=microscope, workflow=WorkflowFactory())
    return microscope


def test_an_earlier_deadline_is_served_before_an_earlier_arrival_of_the_same_priority(busy_microscope):
    now = timezone.now()
    first_in, loose, tight = WorkflowFactory(), WorkflowFactory(), WorkflowFactory()
    for workflow, deadline in (
        (first_in, now + timedelta(hours=2)),
        (loose, None),
        (tight, now + timedelta(minutes=5)),
    ):
        assert not workflow_devices_acquire(
            workflow=workflow, devices=[busy_microscope], priority=Priority.NORMAL, deadline=deadline
        )
    assert [e.workflow_id for e in device_queue(busy_microscope)] == [tight.pk, first_in.pk, loose.pk]
    assert [e.position for e in device_queue(busy_microscope)] == [1, 2, 3]
    entry = QueueEntry.objects.get(workflow=loose)
    assert queue_entry_position(entry) == 3
    booking_release(device=busy_microscope, workflow=Booking.objects.active().get(device=busy_microscope).workflow)
    assert holder(busy_microscope) == tight.pk  # the hand-off follows the same order


def test_priority_still_comes_before_any_deadline(busy_microscope):
    tight_normal, urgent = WorkflowFactory(), WorkflowFactory()
    workflow_devices_acquire(
        workflow=tight_normal,
        devices=[busy_microscope],
        priority=Priority.NORMAL,
        deadline=timezone.now() + timedelta(seconds=30),
    )
    workflow_devices_acquire(workflow=urgent, devices=[busy_microscope], priority=Priority.URGENT)
    assert [e.workflow_id for e in device_queue(busy_microscope)] == [urgent.pk, tight_normal.pk]


def test_a_new_request_with_an_earlier_deadline_may_take_a_free_slot_before_later_deadlines():
    incubator = DeviceFactory(id="deadline-incubator", capacity=2)
    booking_create(device=incubator, workflow=WorkflowFactory())
    booking_create(device=incubator, workflow=WorkflowFactory())
    late = WorkflowFactory()
    assert not workflow_devices_acquire(
        workflow=late, devices=[incubator], priority=Priority.NORMAL, deadline=timezone.now() + timedelta(hours=1)
    )
    booking_release(device=incubator, workflow=Booking.objects.active().filter(device=incubator).first().workflow)
    assert holder(incubator) is not None and Booking.objects.active().filter(workflow=late).exists()
    # One slot free again, nobody waiting with an earlier deadline: a tight request books at once.
    booking_release(device=incubator, workflow=Booking.objects.active().exclude(workflow=late).get().workflow)
    tight = WorkflowFactory()
    assert workflow_devices_acquire(
        workflow=tight, devices=[incubator], priority=Priority.NORMAL, deadline=timezone.now() + timedelta(minutes=1)
    )
