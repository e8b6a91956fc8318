"""``manage.py device_queue``: show the queue; force-release through the service."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devices.choices import BookingStatus, Priority
from devices.models import Booking
from devices.services import booking_create, queue_entry_create
from tests.factories import DeviceFactory, UserFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("device_queue", *args, stdout=out)
    return out.getvalue()


def test_it_shows_the_holder_and_the_queue_in_serve_order():
    device, holder, low, urgent = DeviceFactory(), WorkflowFactory(), WorkflowFactory(), WorkflowFactory()
    booking_create(device=device, workflow=holder)
    queue_entry_create(device=device, workflow=low, priority=Priority.LOW)
    queue_entry_create(device=device, workflow=urgent, priority=Priority.URGENT)
    lines = run(device.pk).splitlines()
    assert lines[0] == f"{device.pk}: held by workflow {holder.pk}"
    assert lines[1].startswith(f"  1. workflow {urgent.pk} (urgent)")
    assert lines[2].startswith(f"  2. workflow {low.pk} (low)")


def test_force_release_is_recorded_and_hands_on():
    device, holder, waiting = DeviceFactory(), WorkflowFactory(), WorkflowFactory()
    UserFactory(username="night-operator")
    booking_create(device=device, workflow=holder)
    queue_entry_create(device=device, workflow=waiting, priority=Priority.NORMAL)
    output = run(device.pk, "--force-release", "--reason", "robot jammed", "--user", "night-operator")
    assert f"held by workflow {waiting.pk}" in output
    released = Booking.objects.get(device=device, workflow=holder)
    assert released.status == BookingStatus.RELEASED and released.released_by.username == "night-operator"


def test_force_release_without_a_reason_or_of_an_unknown_device_fails():
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    with pytest.raises(CommandError, match="reason"):
        run(device.pk, "--force-release")
    with pytest.raises(CommandError, match="does not exist"):
        run("no-such-device")


def test_it_shows_the_slots_in_use_of_a_shared_device_and_force_releases_one_holder():
    device, first, second = DeviceFactory(capacity=3), WorkflowFactory(), WorkflowFactory()
    booking_create(device=device, workflow=first)
    booking_create(device=device, workflow=second)
    assert (
        run(device.pk).splitlines()[0] == f"{device.pk}: 2 of 3 slots in use: held by workflows {first.pk}, {second.pk}"
    )
    with pytest.raises(CommandError, match="name the workflow"):
        run(device.pk, "--force-release", "--reason", "door open")
    output = run(device.pk, "--force-release", "--reason", "door open", "--workflow", str(second.pk))
    assert f"released {device.pk} from workflow {second.pk}" in output
    assert f"1 of 3 slots in use: held by workflows {first.pk}" in output
