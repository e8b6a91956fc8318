"""The booking and queue services: exclusive bookings, service order, hand-off, all or nothing."""

import pytest

from devices.choices import BookingStatus, DeviceStatus, Priority, QueueEntryStatus
from devices.models import Booking, Device, QueueEntry
from devices.services import (
    booking_create,
    booking_release,
    device_force_release,
    queue_entry_create,
    queue_entry_withdraw,
    workflow_devices_acquire,
    workflow_devices_release,
)
from devices.signals import workflow_devices_granted
from labcore.exceptions import ApplicationError, ConflictError
from tests.factories import DeviceFactory, UserFactory, WorkflowFactory
from workflows.choices import WorkflowStatus
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def granted(django_capture_on_commit_callbacks):
    """Workflow ids the hand-off announced, with on-commit callbacks run."""
    received = []

    def receiver(sender, workflow_id, **kwargs):
        received.append(workflow_id)

    workflow_devices_granted.connect(receiver)
    yield received
    workflow_devices_granted.disconnect(receiver)


def active_holder(device):
    booking = Booking.objects.active().filter(device=device).first()
    return booking.workflow_id if booking else None


def test_booking_a_free_device_makes_it_busy():
    device, workflow = DeviceFactory(), WorkflowFactory()
    booking = booking_create(device=device, workflow=workflow)
    assert booking.status == BookingStatus.ACTIVE
    device.refresh_from_db()
    assert device.status == DeviceStatus.BUSY


def test_booking_a_busy_device_names_the_holder():
    device, holder = DeviceFactory(), WorkflowFactory()
    booking_create(device=device, workflow=holder)
    with pytest.raises(ConflictError, match=f"booked by workflow {holder.pk}"):
        booking_create(device=device, workflow=WorkflowFactory())


def test_booking_again_by_the_holder_returns_its_booking():
    device, workflow = DeviceFactory(), WorkflowFactory()
    first = booking_create(device=device, workflow=workflow)
    assert booking_create(device=device, workflow=workflow).pk == first.pk
    assert Booking.objects.count() == 1


def test_a_finished_workflow_cannot_book():
    with pytest.raises(ConflictError, match="completed"):
        booking_create(device=DeviceFactory(), workflow=WorkflowFactory(status=WorkflowStatus.COMPLETED))


def test_release_by_a_non_holder_is_a_conflict():
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    with pytest.raises(ConflictError, match="does not hold"):
        booking_release(device=device, workflow=WorkflowFactory())


def test_release_makes_the_device_available():
    device, workflow = DeviceFactory(), WorkflowFactory()
    booking_create(device=device, workflow=workflow)
    booking = booking_release(device=device, workflow=workflow)
    assert booking.status == BookingStatus.RELEASED and booking.released_at
    device.refresh_from_db()
    assert device.status == DeviceStatus.AVAILABLE


def test_queueing_for_a_free_device_books_it_at_once():
    device, workflow = DeviceFactory(), WorkflowFactory()
    result = queue_entry_create(device=device, workflow=workflow, priority=Priority.NORMAL)
    assert isinstance(result, Booking) and result.created
    assert not QueueEntry.objects.exists()


def test_queueing_the_same_workflow_twice_makes_no_duplicate():
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    workflow = WorkflowFactory()
    first = queue_entry_create(device=device, workflow=workflow, priority=Priority.LOW)
    second = queue_entry_create(device=device, workflow=workflow, priority=Priority.LOW)
    assert first.pk == second.pk and first.created and not second.created
    assert QueueEntry.objects.waiting().count() == 1
    # Raised to urgent it moves (a new entry replaces the old one): still one waiting request.
    raised = queue_entry_create(device=device, workflow=workflow, priority=Priority.URGENT)
    assert raised.pk != first.pk and raised.priority == Priority.URGENT
    assert QueueEntry.objects.waiting().count() == 1


def test_release_books_the_next_urgent_request(granted, django_capture_on_commit_callbacks):
    device, holder = DeviceFactory(), WorkflowFactory()
    booking_create(device=device, workflow=holder)
    low, normal, urgent = WorkflowFactory(), WorkflowFactory(), WorkflowFactory()
    queue_entry_create(device=device, workflow=low, priority=Priority.LOW)
    queue_entry_create(device=device, workflow=normal, priority=Priority.NORMAL)
    queue_entry_create(device=device, workflow=urgent, priority=Priority.URGENT)
    with django_capture_on_commit_callbacks(execute=True):
        booking_release(device=device, workflow=holder)
    assert active_holder(device) == urgent.pk
    assert granted == [urgent.pk]
    assert QueueEntry.objects.get(workflow=urgent).status == QueueEntryStatus.GRANTED


def test_release_serves_arrival_order_within_a_priority():
    device, holder = DeviceFactory(), WorkflowFactory()
    booking_create(device=device, workflow=holder)
    first, second = WorkflowFactory(), WorkflowFactory()
    queue_entry_create(device=device, workflow=first, priority=Priority.NORMAL)
    queue_entry_create(device=device, workflow=second, priority=Priority.NORMAL)
    booking_release(device=device, workflow=holder)
    assert active_holder(device) == first.pk
    booking_release(device=device, workflow=first)
    assert active_holder(device) == second.pk


def test_a_direct_booking_cannot_jump_the_queue():
    a, b = DeviceFactory(), DeviceFactory()
    booking_create(device=b, workflow=WorkflowFactory())
    waiting = WorkflowFactory()
    assert workflow_devices_acquire(workflow=waiting, devices=[a, b], priority=Priority.LOW) is False
    with pytest.raises(ConflictError, match=f"reserved for queued workflow {waiting.pk}"):
        booking_create(device=a, workflow=WorkflowFactory())


def test_acquire_books_the_whole_set_when_free():
    a, b, workflow = DeviceFactory(), DeviceFactory(), WorkflowFactory()
    assert workflow_devices_acquire(workflow=workflow, devices=[b, a], priority=Priority.NORMAL) is True
    assert active_holder(a) == active_holder(b) == workflow.pk


def test_acquire_books_nothing_when_one_device_is_busy():
    a, b, workflow = DeviceFactory(), DeviceFactory(), WorkflowFactory()
    booking_create(device=b, workflow=WorkflowFactory())
    assert workflow_devices_acquire(workflow=workflow, devices=[a, b], priority=Priority.NORMAL) is False
    assert active_holder(a) is None
    entries = QueueEntry.objects.waiting().filter(workflow=workflow)
    assert {e.device_id for e in entries} == {a.pk, b.pk}
    assert len({e.request_id for e in entries}) == 1


def test_acquire_again_while_queued_makes_no_duplicates():
    a, b, workflow = DeviceFactory(), DeviceFactory(), WorkflowFactory()
    booking_create(device=b, workflow=WorkflowFactory())
    for _ in range(3):
        assert workflow_devices_acquire(workflow=workflow, devices=[a, b], priority=Priority.NORMAL) is False
    assert QueueEntry.objects.filter(workflow=workflow).count() == 2


def test_a_multi_device_request_is_granted_when_its_whole_set_is_free(granted, django_capture_on_commit_callbacks):
    a, b = DeviceFactory(), DeviceFactory()
    holder_a, holder_b, both = WorkflowFactory(), WorkflowFactory(), WorkflowFactory()
    booking_create(device=a, workflow=holder_a)
    booking_create(device=b, workflow=holder_b)
    assert workflow_devices_acquire(workflow=both, devices=[a, b], priority=Priority.NORMAL) is False
    with django_capture_on_commit_callbacks(execute=True):
        booking_release(device=a, workflow=holder_a)
    assert active_holder(a) is None and granted == []  # a stays reserved, never half-granted
    with django_capture_on_commit_callbacks(execute=True):
        booking_release(device=b, workflow=holder_b)
    assert active_holder(a) == active_holder(b) == both.pk
    assert granted == [both.pk]


def test_a_waiting_multi_device_request_is_not_starved_by_later_single_requests():
    a, b = DeviceFactory(), DeviceFactory()
    holder_a, holder_b, both = WorkflowFactory(), WorkflowFactory(), WorkflowFactory()
    booking_create(device=a, workflow=holder_a)
    booking_create(device=b, workflow=holder_b)
    workflow_devices_acquire(workflow=both, devices=[a, b], priority=Priority.NORMAL)
    later = WorkflowFactory()
    queue_entry_create(device=a, workflow=later, priority=Priority.NORMAL)
    booking_release(device=a, workflow=holder_a)
    assert active_holder(a) is None  # reserved for `both`, not handed to `later`
    booking_release(device=b, workflow=holder_b)
    assert active_holder(a) == both.pk


def test_an_urgent_request_is_served_before_a_waiting_normal_multi_device_request():
    a, b = DeviceFactory(), DeviceFactory()
    holder_a, holder_b, both, urgent = WorkflowFactory(), WorkflowFactory(), WorkflowFactory(), WorkflowFactory()
    booking_create(device=a, workflow=holder_a)
    booking_create(device=b, workflow=holder_b)
    workflow_devices_acquire(workflow=both, devices=[a, b], priority=Priority.NORMAL)
    queue_entry_create(device=a, workflow=urgent, priority=Priority.URGENT)
    booking_release(device=a, workflow=holder_a)
    assert active_holder(a) == urgent.pk


def test_withdrawing_the_head_hands_a_reserved_device_on():
    a, b = DeviceFactory(), DeviceFactory()
    booking_create(device=b, workflow=WorkflowFactory())
    both, single = WorkflowFactory(), WorkflowFactory()
    workflow_devices_acquire(workflow=both, devices=[a, b], priority=Priority.NORMAL)
    entry = queue_entry_create(device=a, workflow=single, priority=Priority.NORMAL)
    assert isinstance(entry, QueueEntry)
    withdrawn = queue_entry_withdraw(entry=QueueEntry.objects.get(workflow=both, device=a))
    assert {e.device_id for e in withdrawn} == {a.pk, b.pk}  # the whole request goes
    assert active_holder(a) == single.pk
    assert not QueueEntry.objects.waiting().exists()


def test_withdrawing_twice_is_a_conflict():
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    entry = queue_entry_create(device=device, workflow=WorkflowFactory(), priority=Priority.LOW)
    queue_entry_withdraw(entry=entry)
    with pytest.raises(ConflictError, match="no longer waiting"):
        queue_entry_withdraw(entry=entry)


def test_workflow_release_frees_everything_and_withdraws_its_entries():
    a, b, c = DeviceFactory(), DeviceFactory(), DeviceFactory()
    workflow, other, next_a = WorkflowFactory(), WorkflowFactory(), WorkflowFactory()
    workflow_devices_acquire(workflow=workflow, devices=[a, b], priority=Priority.NORMAL)
    booking_create(device=c, workflow=other)
    queue_entry_create(device=c, workflow=workflow, priority=Priority.NORMAL)
    queue_entry_create(device=a, workflow=next_a, priority=Priority.NORMAL)
    released = workflow_devices_release(workflow=workflow, reason="cancelled")
    assert {booking.device_id for booking in released} == {a.pk, b.pk}
    assert not QueueEntry.objects.waiting().filter(workflow=workflow).exists()
    assert active_holder(a) == next_a.pk and active_holder(b) is None
    assert Device.objects.get(pk=b.pk).status == DeviceStatus.AVAILABLE
    assert Booking.objects.get(device=b).release_reason == "cancelled"


def test_force_release_is_recorded_and_hands_on():
    device, holder, waiting = DeviceFactory(), WorkflowFactory(), WorkflowFactory()
    operator = UserFactory()
    booking_create(device=device, workflow=holder)
    queue_entry_create(device=device, workflow=waiting, priority=Priority.LOW)
    booking = device_force_release(device=device, user=operator, reason="stuck plate")
    assert booking.released_by == operator and "stuck plate" in booking.release_reason
    assert active_holder(device) == waiting.pk


def test_force_release_needs_a_reason_and_a_booking():
    device = DeviceFactory()
    with pytest.raises(ApplicationError, match="reason"):
        device_force_release(device=device, user=UserFactory(), reason=" ")
    with pytest.raises(ConflictError, match="not booked"):
        device_force_release(device=device, user=UserFactory(), reason="why")


def test_the_hand_off_skips_and_withdraws_a_finished_workflow_left_in_the_queue():
    a, b = DeviceFactory(), DeviceFactory()
    holder, stale, next_up = WorkflowFactory(), WorkflowFactory(), WorkflowFactory()
    booking_create(device=a, workflow=holder)
    workflow_devices_acquire(workflow=stale, devices=[a, b], priority=Priority.URGENT)
    queue_entry_create(device=a, workflow=next_up, priority=Priority.LOW)
    Workflow.objects.filter(pk=stale.pk).update(status=WorkflowStatus.CANCELLED)  # cancelled, never released
    booking_release(device=a, workflow=holder)
    assert active_holder(a) == next_up.pk
    assert not QueueEntry.objects.waiting().filter(workflow=stale).exists()
