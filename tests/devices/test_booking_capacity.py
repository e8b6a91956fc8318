"""Device capacity: a device serves up to ``capacity`` workflows at once, one slot each."""

import pytest
from django.db import IntegrityError, connection, transaction

from devices.choices import BookingStatus, DeviceKind, DeviceStatus, Priority, QueueEntryStatus
from devices.models import Booking, Device, QueueEntry
from devices.services import (
    booking_create,
    booking_release,
    device_capacity_set,
    device_force_release,
    device_status_set,
    queue_entry_create,
    workflow_devices_acquire,
    workflow_devices_release,
)
from devices.signals import workflow_devices_granted
from devices.wait_time import earliest_slot_seconds
from labcore.exceptions import ConflictError
from tests.factories import DeviceFactory, UserFactory, WorkflowFactory
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def workflows(count):
    return Workflow.objects.bulk_create(Workflow(name=f"w{i}") for i in range(count))


def holders(device):
    return set(Booking.objects.active().filter(device=device).values_list("workflow_id", flat=True))


def test_an_incubator_of_capacity_44_takes_44_bookings_and_queues_the_45th():
    incubator = DeviceFactory(id="incubator-44", kind=DeviceKind.INCUBATOR, capacity=44)
    plates = workflows(45)
    for plate in plates[:44]:
        assert queue_entry_create(device=incubator, workflow=plate, priority=Priority.NORMAL).created
    assert holders(incubator) == {plate.pk for plate in plates[:44]}
    assert sorted(Booking.objects.active().filter(device=incubator).values_list("slot", flat=True)) == list(range(44))
    assert Device.objects.get(pk=incubator.pk).status == DeviceStatus.BUSY  # every slot is taken

    forty_fifth = queue_entry_create(device=incubator, workflow=plates[44], priority=Priority.URGENT)
    assert isinstance(forty_fifth, QueueEntry) and forty_fifth.status == QueueEntryStatus.WAITING
    with pytest.raises(ConflictError, match="is full: all 44 slots are booked"):
        booking_create(device=incubator, workflow=WorkflowFactory())


def test_a_shared_device_is_available_while_it_has_a_free_slot():
    device = DeviceFactory(capacity=3)
    first, second = workflows(2)
    booking_create(device=device, workflow=first)
    booking_create(device=device, workflow=second)
    assert Device.objects.get(pk=device.pk).status == DeviceStatus.AVAILABLE
    assert holders(device) == {first.pk, second.pk}


def test_a_workflow_holds_at_most_one_slot_of_a_device():
    device, workflow = DeviceFactory(capacity=5), WorkflowFactory()
    booking = booking_create(device=device, workflow=workflow)
    again = booking_create(device=device, workflow=workflow)
    assert again.pk == booking.pk and again.created is False
    assert queue_entry_create(device=device, workflow=workflow, priority=Priority.URGENT).pk == booking.pk
    assert Booking.objects.active().filter(device=device).count() == 1


def test_release_hands_the_freed_slot_to_the_next_request_in_the_same_transaction(django_capture_on_commit_callbacks):
    device = DeviceFactory(capacity=2)
    first, second, low, urgent = workflows(4)
    booking_create(device=device, workflow=first)
    booking_create(device=device, workflow=second)
    queue_entry_create(device=device, workflow=low, priority=Priority.LOW)
    queue_entry_create(device=device, workflow=urgent, priority=Priority.URGENT)
    freed_slot = Booking.objects.active().get(device=device, workflow=first).slot
    granted = []

    def receiver(sender, workflow_id, **kwargs):
        granted.append(workflow_id)

    workflow_devices_granted.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            booking_release(device=device, workflow=first)
            # Still inside the releasing transaction: the slot is already the urgent one's.
            assert holders(device) == {second.pk, urgent.pk}
            assert Booking.objects.active().get(device=device, workflow=urgent).slot == freed_slot
    finally:
        workflow_devices_granted.disconnect(receiver)
    assert granted == [urgent.pk]
    assert QueueEntry.objects.get(workflow=low).status == QueueEntryStatus.WAITING


def test_each_waiting_request_ahead_reserves_a_free_slot():
    shared, other = DeviceFactory(capacity=2), DeviceFactory()
    other_holder, multi, newcomer, third = workflows(4)
    booking_create(device=other, workflow=other_holder)
    # `multi` waits for `other`; it reserves one of the two free slots of `shared`.
    assert workflow_devices_acquire(workflow=multi, devices=[shared, other], priority=Priority.NORMAL) is False
    assert queue_entry_create(device=shared, workflow=newcomer, priority=Priority.NORMAL).created
    assert holders(shared) == {newcomer.pk}  # the second free slot was not reserved
    with pytest.raises(ConflictError, match=f"reserved for queued workflow {multi.pk}"):
        booking_create(device=shared, workflow=third)
    booking_release(device=other, workflow=other_holder)
    assert holders(shared) == {newcomer.pk, multi.pk} and holders(other) == {multi.pk}


def test_multi_device_request_is_granted_whole_when_each_device_has_a_free_slot():
    shared, single = DeviceFactory(capacity=2), DeviceFactory()
    a, b, c = workflows(3)
    booking_create(device=shared, workflow=a)
    booking_create(device=single, workflow=b)
    assert workflow_devices_acquire(workflow=c, devices=[shared, single], priority=Priority.NORMAL) is False
    assert holders(shared) == {a.pk}  # nothing held while it waits for `single`
    workflow_devices_release(workflow=b)
    assert holders(shared) == {a.pk, c.pk} and holders(single) == {c.pk}


def test_release_by_a_workflow_without_a_slot_names_the_holders():
    device = DeviceFactory(capacity=2)
    first, second, stranger = workflows(3)
    booking_create(device=device, workflow=first)
    booking_create(device=device, workflow=second)
    with pytest.raises(ConflictError, match=f"booked by workflows {first.pk}, {second.pk}"):
        booking_release(device=device, workflow=stranger)


def test_force_release_of_a_shared_device_names_the_holder():
    device, operator = DeviceFactory(capacity=2), UserFactory()
    first, second = workflows(2)
    booking_create(device=device, workflow=first)
    booking_create(device=device, workflow=second)
    with pytest.raises(ConflictError, match="name the workflow"):
        device_force_release(device=device, user=operator, reason="jammed")
    booking = device_force_release(device=device, user=operator, reason="jammed", workflow=second)
    assert booking.workflow_id == second.pk and booking.status == BookingStatus.RELEASED
    assert holders(device) == {first.pk}


def test_capacity_lowered_below_the_active_bookings_is_refused():
    device = DeviceFactory(capacity=4)
    for workflow in workflows(3):
        booking_create(device=device, workflow=workflow)
    with pytest.raises(ConflictError, match="has 3 active bookings; its capacity cannot be lowered below 3"):
        device_capacity_set(device=device, capacity=2)
    assert Device.objects.get(pk=device.pk).capacity == 4


def test_capacity_lowered_to_the_bookings_moves_them_into_the_remaining_slots():
    device = DeviceFactory(capacity=4)
    kept = workflows(4)
    for workflow in kept:
        booking_create(device=device, workflow=workflow)
    booking_release(device=device, workflow=kept[0])  # frees slot 0; slots 1, 2, 3 stay in use
    device_capacity_set(device=device, capacity=3)
    device.refresh_from_db()
    assert device.capacity == 3 and device.status == DeviceStatus.BUSY
    assert sorted(Booking.objects.active().filter(device=device).values_list("slot", flat=True)) == [0, 1, 2]


def test_capacity_raised_serves_the_queue_at_once():
    device = DeviceFactory()
    holder, first, second, third = workflows(4)
    booking_create(device=device, workflow=holder)
    for workflow in (first, second, third):
        queue_entry_create(device=device, workflow=workflow, priority=Priority.NORMAL)
    device_capacity_set(device=device, capacity=3)
    assert holders(device) == {holder.pk, first.pk, second.pk}
    assert QueueEntry.objects.waiting().get(device=device).workflow_id == third.pk


def test_back_in_service_fills_every_free_slot():
    device = DeviceFactory(capacity=2)
    device_status_set(device=device, status=DeviceStatus.MAINTENANCE)
    first, second, third = workflows(3)
    for workflow in (first, second, third):
        assert isinstance(queue_entry_create(device=device, workflow=workflow, priority=Priority.NORMAL), QueueEntry)
    device_status_set(device=device, status=DeviceStatus.AVAILABLE)
    assert holders(device) == {first.pk, second.pk}
    assert Device.objects.get(pk=device.pk).status == DeviceStatus.BUSY


def test_the_database_refuses_a_slot_at_or_above_the_capacity():
    device, workflow = DeviceFactory(capacity=2), WorkflowFactory()
    with pytest.raises(IntegrityError, match="not below its capacity"), transaction.atomic():
        Booking.objects.create(device=device, workflow=workflow, slot=2)


def test_the_database_refuses_two_active_bookings_in_one_slot_or_of_one_workflow():
    device = DeviceFactory(capacity=3)
    first, second = workflows(2)
    Booking.objects.create(device=device, workflow=first, slot=0)
    with pytest.raises(IntegrityError, match="one_active_booking_per_slot"), transaction.atomic():
        Booking.objects.create(device=device, workflow=second, slot=0)
    with pytest.raises(IntegrityError, match="one_active_booking_per_device_and_workflow"), transaction.atomic():
        Booking.objects.create(device=device, workflow=first, slot=1)


def test_the_database_refuses_a_capacity_below_an_active_slot_or_below_one():
    device, workflow = DeviceFactory(capacity=3), WorkflowFactory()
    Booking.objects.create(device=device, workflow=workflow, slot=2)
    # Raw SQL: the guarantee does not depend on the ORM or the services.
    refused = pytest.raises(IntegrityError, match="active booking in slot 2")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE devices_device SET capacity = 2 WHERE id = %s", [device.pk])
    with pytest.raises(IntegrityError, match="device_capacity_at_least_one"), transaction.atomic():
        Device.objects.filter(pk=DeviceFactory().pk).update(capacity=0)


def test_earliest_slot_goes_to_the_requests_ahead_first():
    # Two slots: holders finish in 10 s and 30 s; the one ahead takes the slot free at 10 s
    # and keeps it 50 s, so the asker gets the slot freed at 30 s.
    assert earliest_slot_seconds(capacity=2, holding=[30.0, 10.0], ahead=[50.0]) == 30.0
    assert earliest_slot_seconds(capacity=1, holding=[30.0], ahead=[50.0, 5.0]) == 85.0  # capacity 1: the sum
    assert earliest_slot_seconds(capacity=3, holding=[30.0], ahead=[50.0]) == 0.0  # a slot left for it
