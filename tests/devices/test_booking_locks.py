"""devices_lock: one pk-ordered lock over the whole scope, retried when the scope grows."""

import threading
import time

import pytest
from django.db import connection, transaction

from devices.choices import Priority
from devices.handoff import devices_lock
from devices.models import Booking, Device
from devices.services import booking_create, booking_release, queue_entry_create
from labcore.exceptions import ConflictError
from labcore.locking import lock_row
from tests.factories import DeviceFactory, QueueEntryFactory, WorkflowFactory
from workflows.models import Workflow

pytestmark = pytest.mark.django_db(transaction=True)


def locked_elsewhere(device_id) -> bool:
    """Whether another connection finds ``device_id`` locked (it gives up after 100 ms)."""
    result = {}

    def probe():
        try:
            with transaction.atomic():
                lock_row(Device.objects.filter(pk=device_id), timeout_ms=100)
            result["locked"] = False
        except ConflictError:
            result["locked"] = True
        finally:
            connection.close()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(10)
    return result["locked"]


def test_the_scope_includes_every_device_of_a_request_waiting_for_ours():
    x, y, z = DeviceFactory(), DeviceFactory(), DeviceFactory()
    workflow = WorkflowFactory()
    first = QueueEntryFactory(device=x, workflow=workflow)
    QueueEntryFactory(device=y, workflow=workflow, request_id=first.request_id)  # one request for {x, y}
    with transaction.atomic():
        assert devices_lock(lambda: {x.pk}, what="test") == {x.pk}
        assert locked_elsewhere(x.pk) and locked_elsewhere(y.pk) and not locked_elsewhere(z.pk)


def test_a_scope_that_grows_under_the_lock_is_locked_whole_on_a_retry():
    x, y = DeviceFactory(), DeviceFactory()
    calls = []

    def base():
        calls.append(1)
        return {x.pk} if len(calls) == 1 else {x.pk, y.pk}  # grows after the first read

    with transaction.atomic():
        assert devices_lock(base, what="test") == {x.pk, y.pk}
        assert locked_elsewhere(x.pk) and locked_elsewhere(y.pk)
    assert len(calls) == 3  # the first read, the check that failed, the check that passed


def test_the_locks_are_given_back_at_the_end_of_the_transaction():
    x = DeviceFactory()
    with transaction.atomic():
        devices_lock(lambda: {x.pk}, what="test")
    assert not locked_elsewhere(x.pk)


def test_a_deadlock_through_a_workflow_lock_held_elsewhere_is_a_409_not_a_500():
    """A caller holding a workflow FOR UPDATE and then wanting a device, against a release whose
    hand-off books that workflow (its insert waits for the workflow's KEY SHARE lock)."""
    device, holder, waiting = DeviceFactory(), WorkflowFactory(), WorkflowFactory()
    booking_create(device=device, workflow=holder)
    queue_entry_create(device=device, workflow=waiting, priority=Priority.NORMAL)
    workflow_locked, outcome = threading.Event(), {}

    def executor_like():
        try:
            with transaction.atomic():
                lock_row(Workflow.objects.filter(pk=waiting.pk))
                workflow_locked.set()
                time.sleep(0.5)  # the release below is now waiting for this workflow's row
                lock_row(Device.objects.filter(pk=device.pk))
            outcome["executor"] = "ok"
        except Exception as exc:  # noqa: BLE001 - inspected below
            outcome["executor"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=executor_like)
    thread.start()
    assert workflow_locked.wait(10)
    try:
        booking_release(device=device, workflow=holder)
        outcome["release"] = "ok"
    except Exception as exc:  # noqa: BLE001 - inspected below
        outcome["release"] = exc
    thread.join(20)
    failures = [value for value in outcome.values() if value != "ok"]
    assert len(failures) <= 1 and all(isinstance(failure, ConflictError) for failure in failures), outcome
    active = list(Booking.objects.active().filter(device=device).values_list("workflow_id", flat=True))
    assert active == ([holder.pk] if outcome["release"] != "ok" else [waiting.pk])


@pytest.mark.parametrize("repeat", range(5))
@pytest.mark.parametrize("service", ["book", "queue"])
def test_a_booking_racing_a_cancel_never_leaves_the_cancelled_workflow_holding_the_device(service, repeat):
    """The caller read the workflow as running; a cancel holding the workflow's row commits
    while the booking runs. The booking must see the cancel (409) instead of booking a device
    for a cancelled workflow that nothing would ever release."""
    from workflows.choices import WorkflowStatus

    device = DeviceFactory()
    workflow = WorkflowFactory(status=WorkflowStatus.RUNNING)
    stale = Workflow.objects.get(pk=workflow.pk)  # what the API view loaded
    cancel_holds_the_row = threading.Event()
    outcome = {}

    def cancel():
        try:
            with transaction.atomic():
                lock_row(Workflow.objects.filter(pk=workflow.pk))
                Workflow.objects.filter(pk=workflow.pk).update(status=WorkflowStatus.CANCELLED)
                cancel_holds_the_row.set()
                time.sleep(0.3)  # the booking starts meanwhile
        finally:
            connection.close()

    def book():
        cancel_holds_the_row.wait(5)
        try:
            if service == "book":
                booking_create(device=device, workflow=stale)
            else:
                queue_entry_create(device=device, workflow=stale, priority=Priority.NORMAL)
            outcome["result"] = "booked"
        except ConflictError as exc:
            outcome["result"] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=cancel), threading.Thread(target=book)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert "cancelled" in outcome["result"]
    assert not Booking.objects.active().filter(workflow_id=workflow.pk).exists()
    assert Device.objects.get(pk=device.pk).status == "available"


def test_booking_for_a_workflow_cancelled_since_it_was_read_is_refused():
    from workflows.choices import WorkflowStatus

    device = DeviceFactory()
    stale = WorkflowFactory(status=WorkflowStatus.RUNNING)
    Workflow.objects.filter(pk=stale.pk).update(status=WorkflowStatus.CANCELLED)
    with pytest.raises(ConflictError, match="cancelled"):
        booking_create(device=device, workflow=stale)
    assert not Booking.objects.filter(workflow_id=stale.pk).exists()
