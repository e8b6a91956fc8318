"""The devices admin: status, holder and queue; force-release and withdraw as recorded actions."""

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import Client

from devices.choices import BookingStatus, DeviceKind, DeviceStatus, Priority, QueueEntryStatus
from devices.models import Booking, Device, QueueEntry
from devices.services import booking_create, queue_entry_create
from tests.factories import DeviceFactory, UserFactory, WorkflowFactory
from tests.utils import queries_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator_client():
    operator = UserFactory(username="operator-1", is_staff=True)
    operator.groups.set(Group.objects.filter(name="operator"))
    client = Client()
    client.force_login(operator)
    return client


def busy_device_with_queue(waiting=2):
    device, holder = DeviceFactory(), WorkflowFactory(name="holder run")
    booking_create(device=device, workflow=holder)
    entries = [
        queue_entry_create(device=device, workflow=WorkflowFactory(), priority=Priority.NORMAL) for _ in range(waiting)
    ]
    return device, holder, entries


def test_device_changelist_shows_status_holder_and_queue_length(admin_client):
    device, holder, _ = busy_device_with_queue(waiting=2)
    html = admin_client.get("/admin/devices/device/").content.decode()
    assert "holder run" in html and 'class="field-status">busy<' in html.lower()
    assert 'class="field-queue_length">2<' in html
    assert f"/admin/workflows/workflow/{holder.pk}/change/" in html


def test_device_change_page_shows_holder_and_queue(admin_client):
    device, holder, entries = busy_device_with_queue(waiting=2)
    html = admin_client.get(f"/admin/devices/device/{device.pk}/change/").content.decode().lower()
    assert "holder run" in html and "queue (in the order it will be served)" in html
    assert html.index(str(entries[0].request_id)) < html.index(str(entries[1].request_id))


def test_editing_a_device_in_the_admin_still_works(admin_client):
    device, holder, _ = busy_device_with_queue(waiting=1)
    form = {"id": device.pk, "name": "Renamed", "kind": device.kind, "status": "busy", "adapter": "mock"}
    response = admin_client.post(f"/admin/devices/device/{device.pk}/change/", form | {"endpoint": "", "config": "{}"})
    assert response.status_code == 302
    assert admin_client.get("/admin/devices/device/add/").status_code == 200


@pytest.mark.parametrize("path", ["/admin/devices/device/", "/admin/devices/booking/", "/admin/devices/queueentry/"])
def test_changelists_use_constant_queries(admin_client, path):
    for _ in range(3):
        busy_device_with_queue(waiting=1)
    few = queries_for(lambda: admin_client.get(path))
    for _ in range(27):
        busy_device_with_queue(waiting=1)
    many = queries_for(lambda: admin_client.get(path))
    assert few == many


def test_force_release_action_is_recorded_with_the_operator_and_hands_on(operator_client):
    device, holder, entries = busy_device_with_queue(waiting=1)
    response = operator_client.post(
        "/admin/devices/device/", {"action": "force_release", "_selected_action": [device.pk]}, follow=True
    )
    assert response.status_code == 200 and b"Force-released 1 device" in response.content
    released = Booking.objects.get(device=device, workflow=holder)
    assert released.status == BookingStatus.RELEASED
    assert released.released_by.username == "operator-1" and "admin action" in released.release_reason
    assert Booking.objects.active().get(device=device).workflow_id == entries[0].workflow_id


def test_withdraw_action_withdraws_the_entry_and_hands_on(operator_client):
    device, holder, entries = busy_device_with_queue(waiting=2)
    response = operator_client.post(
        "/admin/devices/queueentry/", {"action": "withdraw", "_selected_action": [entries[0].pk]}, follow=True
    )
    assert response.status_code == 200 and b"Withdrew 1 queue entries" in response.content
    assert QueueEntry.objects.get(pk=entries[0].pk).status == QueueEntryStatus.WITHDRAWN
    assert QueueEntry.objects.get(pk=entries[1].pk).status == QueueEntryStatus.WAITING


def test_a_viewer_cannot_force_release(client):
    viewer = UserFactory(username="viewer-1", is_staff=True)
    viewer.groups.set(Group.objects.filter(name="viewer"))
    client.force_login(viewer)
    device, holder, _ = busy_device_with_queue(waiting=0)
    client.post("/admin/devices/device/", {"action": "force_release", "_selected_action": [device.pk]})
    assert Booking.objects.active().get(device=device).workflow_id == holder.pk


def test_bookings_cannot_be_added_or_edited_in_the_admin(admin_client):
    device, holder, _ = busy_device_with_queue(waiting=0)
    assert admin_client.get("/admin/devices/booking/add/").status_code == 403
    booking = Booking.objects.get(device=device)
    admin_client.post(f"/admin/devices/booking/{booking.pk}/change/", {"status": "released"})
    booking.refresh_from_db()
    assert booking.status == BookingStatus.ACTIVE


def test_maintenance_actions_go_through_the_service(operator_client):
    device, holder, entries = busy_device_with_queue(waiting=1)
    operator_client.post("/admin/devices/device/", {"action": "take_out_of_service", "_selected_action": [device.pk]})
    assert Device.objects.get(pk=device.pk).status == DeviceStatus.MAINTENANCE
    Booking.objects.active().get(device=device)  # the holder keeps it
    operator_client.post("/admin/devices/device/", {"action": "put_back_in_service", "_selected_action": [device.pk]})
    assert Device.objects.get(pk=device.pk).status == DeviceStatus.BUSY


def test_the_change_form_does_not_write_the_status(admin_client):
    device, holder, _ = busy_device_with_queue(waiting=0)
    form = {"id": device.pk, "name": "Renamed", "kind": device.kind, "status": "available", "adapter": "mock"}
    admin_client.post(f"/admin/devices/device/{device.pk}/change/", form | {"endpoint": "", "config": "{}"})
    device.refresh_from_db()
    assert device.name == "Renamed" and device.status == DeviceStatus.BUSY


def test_the_change_form_cannot_change_a_devices_id(admin_client):
    # A new primary key saved a second device and left the first, with its bookings, behind.
    device, holder, _ = busy_device_with_queue(waiting=0)
    form = {
        "id": "renamed-id",
        "name": "Renamed",
        "kind": device.kind,
        "adapter": "mock",
        "endpoint": "",
        "config": "{}",
    }
    response = admin_client.post(f"/admin/devices/device/{device.pk}/change/", form)
    assert response.status_code == 302
    assert list(Device.objects.values_list("pk", flat=True)) == [device.pk]
    assert Device.objects.get(pk=device.pk).name == "Renamed"
    assert Booking.objects.get(workflow=holder, status=BookingStatus.ACTIVE).device_id == device.pk


@pytest.mark.django_db(transaction=True)
def test_a_maintenance_action_on_a_device_locked_elsewhere_reports_busy_instead_of_failing(operator_client, settings):
    settings.LABCORE_LOCK_TIMEOUT_MS = 200
    device = DeviceFactory()
    locked, finish = threading.Event(), threading.Event()

    def hold_the_device_row():
        with transaction.atomic():
            list(Device.objects.select_for_update().filter(pk=device.pk))
            locked.set()
            finish.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_the_device_row)
    holder.start()
    assert locked.wait(10)
    try:
        response = operator_client.post(
            "/admin/devices/device/", {"action": "take_out_of_service", "_selected_action": [device.pk]}, follow=True
        )
    finally:
        finish.set()
        holder.join()
    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"]]
    assert any(f"{device.pk}:" in text and "busy" in text for text in shown), shown
    assert Device.objects.get(pk=device.pk).status == DeviceStatus.AVAILABLE


def device_form(device, **changes) -> dict:
    return {"name": device.name, "kind": device.kind, "adapter": "mock", "endpoint": "", "config": "{}"} | changes


def test_a_device_in_use_keeps_its_kind(admin_client):
    # Run-steps planned on it (and actions pinned to it) chose it for its kind.
    from tests.workflows.executor_support import action_type_make, workflow_make

    device = DeviceFactory(kind=DeviceKind.LIQUID_HANDLER)
    workflow_make([(action_type_make("test.kind_in_use"), device)])
    admin_client.post(f"/admin/devices/device/{device.pk}/change/", device_form(device, kind=DeviceKind.INCUBATOR))
    assert Device.objects.get(pk=device.pk).kind == DeviceKind.LIQUID_HANDLER


def test_a_device_nothing_uses_may_change_kind(admin_client):
    device = DeviceFactory(kind=DeviceKind.LIQUID_HANDLER)
    admin_client.post(f"/admin/devices/device/{device.pk}/change/", device_form(device, kind=DeviceKind.INCUBATOR))
    assert Device.objects.get(pk=device.pk).kind == DeviceKind.INCUBATOR


@pytest.mark.parametrize("reserved", ["search", "export"])
def test_a_device_cannot_take_an_id_the_log_api_reserves(admin_client, reserved):
    response = admin_client.post(
        "/admin/devices/device/add/",
        {"id": reserved, "name": "x", "kind": "other"} | {"adapter": "mock", "endpoint": "", "config": "{}"},
    )
    assert response.status_code == 200 and "reserved by the API" in response.content.decode()
    assert not Device.objects.filter(pk=reserved).exists()


def test_capacity_lowered_below_the_active_bookings_is_refused_in_the_admin(admin_client):
    device = DeviceFactory(capacity=4)
    for _ in range(3):
        booking_create(device=device, workflow=WorkflowFactory())
    response = admin_client.post(
        f"/admin/devices/device/{device.pk}/change/", device_form(device, capacity=2) | {"id": device.pk}
    )
    assert response.status_code == 200  # the form again, with the reason
    assert "has 3 active bookings; its capacity cannot be lowered below 3" in response.content.decode()
    assert Device.objects.get(pk=device.pk).capacity == 4


def test_capacity_raised_in_the_admin_serves_the_queue(admin_client):
    device, holder, entries = busy_device_with_queue(waiting=2)
    response = admin_client.post(
        f"/admin/devices/device/{device.pk}/change/", device_form(device, capacity=3) | {"id": device.pk}
    )
    assert response.status_code == 302
    assert Device.objects.get(pk=device.pk).capacity == 3
    active = set(Booking.objects.active().filter(device=device).values_list("workflow_id", flat=True))
    assert active == {holder.pk, *(entry.workflow_id for entry in entries)}
