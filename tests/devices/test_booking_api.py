"""The booking and queue endpoints: shapes, status codes and bad input."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.services import token_issue
from devices.choices import BookingStatus, Priority
from devices.models import Booking, QueueEntry
from devices.services import booking_create, queue_entry_create
from tests.factories import BookingFactory, DeviceFactory, RunStepFactory, UserFactory, WorkflowFactory
from tests.utils import queries_for

pytestmark = pytest.mark.django_db


def client_with_role(role):
    user = UserFactory()
    user.groups.set(Group.objects.filter(name=role))
    _, key = token_issue(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_book_a_free_device_is_201_with_the_booking(api_client):
    device, workflow = DeviceFactory(), WorkflowFactory()
    response = api_client.post(f"/api/devices/{device.pk}/book", {"workflow_id": workflow.pk}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["device_id"] == device.pk and body["workflow_id"] == workflow.pk and body["status"] == "active"
    detail = api_client.get(f"/api/devices/{device.pk}").json()
    assert detail["status"] == "busy" and detail["holder_workflow_id"] == workflow.pk


def test_booking_again_by_the_holder_is_200(api_client):
    device, workflow = DeviceFactory(), WorkflowFactory()
    api_client.post(f"/api/devices/{device.pk}/book", {"workflow_id": workflow.pk}, format="json")
    response = api_client.post(f"/api/devices/{device.pk}/book", {"workflow_id": workflow.pk}, format="json")
    assert response.status_code == 200


def test_book_a_busy_device_is_409_naming_the_holder(api_client):
    device, holder = DeviceFactory(), WorkflowFactory()
    booking_create(device=device, workflow=holder)
    response = api_client.post(f"/api/devices/{device.pk}/book", {"workflow_id": WorkflowFactory().pk}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert f"workflow {holder.pk}" in response.json()["detail"]


def test_release_is_200_and_hands_the_device_on(api_client):
    device, holder, waiting = DeviceFactory(), WorkflowFactory(), WorkflowFactory()
    booking_create(device=device, workflow=holder)
    queue_entry_create(device=device, workflow=waiting, priority=Priority.NORMAL)
    response = api_client.post(f"/api/devices/{device.pk}/release", {"workflow_id": holder.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "released" and response.json()["released_by"] == "scientist"
    assert Booking.objects.active().get(device=device).workflow_id == waiting.pk


def test_release_by_a_non_holder_is_409(api_client):
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    stranger = WorkflowFactory()
    response = api_client.post(f"/api/devices/{device.pk}/release", {"workflow_id": stranger.pk}, format="json")
    assert response.status_code == 409
    assert "does not hold" in response.json()["detail"]


def test_queue_on_a_free_device_books_at_once(api_client):
    device, workflow = DeviceFactory(), WorkflowFactory()
    response = api_client.post(
        f"/api/devices/{device.pk}/queue", {"workflow_id": workflow.pk, "priority": "low"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["outcome"] == "booked" and body["position"] == 0 and body["entry"] is None
    assert body["booking"]["workflow_id"] == workflow.pk


def test_queue_on_a_busy_device_is_201_with_entry_and_position(api_client):
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    first, second = WorkflowFactory(), WorkflowFactory()
    api_client.post(f"/api/devices/{device.pk}/queue", {"workflow_id": first.pk, "priority": "low"}, format="json")
    response = api_client.post(
        f"/api/devices/{device.pk}/queue", {"workflow_id": second.pk, "priority": "urgent"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["outcome"] == "queued" and body["position"] == 1 and body["booking"] is None
    assert body["entry"]["priority"] == "urgent" and body["entry"]["workflow_id"] == second.pk


def test_queueing_twice_returns_the_existing_entry(api_client):
    device, workflow = DeviceFactory(), WorkflowFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    path, body = f"/api/devices/{device.pk}/queue", {"workflow_id": workflow.pk, "priority": "normal"}
    first = api_client.post(path, body, format="json")
    second = api_client.post(path, body, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["outcome"] == "already_queued"
    assert second.json()["entry"]["id"] == first.json()["entry"]["id"]
    assert QueueEntry.objects.filter(workflow=workflow).count() == 1


def test_queue_lists_entries_in_service_order(api_client):
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    low, normal, urgent = WorkflowFactory(), WorkflowFactory(), WorkflowFactory()
    for workflow, priority in [(low, Priority.LOW), (normal, Priority.NORMAL), (urgent, Priority.URGENT)]:
        queue_entry_create(device=device, workflow=workflow, priority=priority)
    results = api_client.get(f"/api/devices/{device.pk}/queue").json()["results"]
    assert [(r["workflow_id"], r["priority"], r["position"]) for r in results] == [
        (urgent.pk, "urgent", 1),
        (normal.pk, "normal", 2),
        (low.pk, "low", 3),
    ]
    assert all(r["created_at"] for r in results)


def test_queue_positions_stay_right_on_later_pages(api_client):
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    for _ in range(5):
        queue_entry_create(device=device, workflow=WorkflowFactory(), priority=Priority.NORMAL)
    page = api_client.get(f"/api/devices/{device.pk}/queue", {"page_size": 2}).json()
    page = api_client.get(page["next"]).json()
    assert [r["position"] for r in page["results"]] == [3, 4]


def test_queue_listing_queries_do_not_grow_with_entries(api_client):
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    for _ in range(3):
        queue_entry_create(device=device, workflow=WorkflowFactory(), priority=Priority.LOW)
    few = queries_for(lambda: api_client.get(f"/api/devices/{device.pk}/queue", {"page_size": 100}))
    for _ in range(27):
        queue_entry_create(device=device, workflow=WorkflowFactory(), priority=Priority.URGENT)
    many = queries_for(lambda: api_client.get(f"/api/devices/{device.pk}/queue", {"page_size": 100}))
    assert few == many


def test_withdraw_a_queue_entry_is_204_and_removes_it(api_client):
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    entry = queue_entry_create(device=device, workflow=WorkflowFactory(), priority=Priority.LOW)
    response = api_client.delete(f"/api/devices/{device.pk}/queue/{entry.pk}")
    assert response.status_code == 204
    assert api_client.get(f"/api/devices/{device.pk}/queue").json()["results"] == []
    assert api_client.delete(f"/api/devices/{device.pk}/queue/{entry.pk}").status_code == 409


def test_withdraw_an_entry_of_another_device_is_404(api_client):
    device, other = DeviceFactory(), DeviceFactory()
    booking_create(device=other, workflow=WorkflowFactory())
    entry = queue_entry_create(device=other, workflow=WorkflowFactory(), priority=Priority.LOW)
    assert api_client.delete(f"/api/devices/{device.pk}/queue/{entry.pk}").status_code == 404


def test_wait_time_of_a_free_device_is_zero(api_client):
    device = DeviceFactory()
    response = api_client.get(f"/api/devices/{device.pk}/wait-time", {"workflow_id": WorkflowFactory().pk})
    assert response.status_code == 200
    assert response.json()["estimated_wait_seconds"] == 0 and response.json()["position"] == 1


def test_wait_time_of_a_queued_workflow(api_client):
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    workflow = WorkflowFactory()
    queue_entry_create(device=device, workflow=workflow, priority=Priority.NORMAL)
    body = api_client.get(f"/api/devices/{device.pk}/wait-time", {"workflow_id": workflow.pk}).json()
    assert body["queued"] is True and body["position"] == 1 and body["estimated_wait_seconds"] > 0


def test_bookings_list_filters_by_device_workflow_and_status(api_client):
    device, workflow = DeviceFactory(), WorkflowFactory()
    booking_create(device=device, workflow=workflow)
    BookingFactory(status=BookingStatus.RELEASED)
    rows = api_client.get("/api/bookings", {"device": device.pk}).json()["results"]
    assert [(r["device_id"], r["workflow_id"]) for r in rows] == [(device.pk, workflow.pk)]
    assert len(api_client.get("/api/bookings", {"workflow": workflow.pk}).json()["results"]) == 1
    assert len(api_client.get("/api/bookings", {"status": "released"}).json()["results"]) == 1
    assert api_client.get("/api/bookings", {"status": "lost"}).status_code == 400


def test_bookings_list_queries_do_not_grow_with_rows(api_client):
    for _ in range(3):
        BookingFactory(status=BookingStatus.RELEASED, released_by=UserFactory())
    few = queries_for(lambda: api_client.get("/api/bookings", {"page_size": 100}))
    for _ in range(27):
        BookingFactory(status=BookingStatus.RELEASED, released_by=UserFactory())
    many = queries_for(lambda: api_client.get("/api/bookings", {"page_size": 100}))
    assert few == many


# --- Bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["book", "release", "queue"])
def test_unknown_device_is_404(api_client, action):
    response = api_client.post(f"/api/devices/no-such-device/{action}", {"workflow_id": 1}, format="json")
    assert response.status_code == 404
    assert "no-such-device" in response.json()["detail"]


@pytest.mark.parametrize("action", ["book", "release", "queue"])
def test_unknown_workflow_in_the_body_is_400_naming_workflow_id(api_client, action):
    device = DeviceFactory()
    response = api_client.post(f"/api/devices/{device.pk}/{action}", {"workflow_id": 999999}, format="json")
    assert response.status_code == 400
    assert "workflow_id" in response.json()["fields"]


def test_unknown_workflow_for_wait_time_is_400_naming_workflow_id(api_client):
    response = api_client.get(f"/api/devices/{DeviceFactory().pk}/wait-time", {"workflow_id": 999999})
    assert response.status_code == 400 and "workflow_id" in response.json()["fields"]


def test_priority_outside_the_three_is_400_listing_them(api_client):
    device = DeviceFactory()
    body = {"workflow_id": WorkflowFactory().pk, "priority": "asap"}
    response = api_client.post(f"/api/devices/{device.pk}/queue", body, format="json")
    assert response.status_code == 400
    message = response.json()["fields"]["priority"][0]
    assert "urgent" in message and "normal" in message and "low" in message
    assert not QueueEntry.objects.exists() and not Booking.objects.exists()


@pytest.mark.parametrize("body", [{}, {"workflow_id": "seven"}, {"workflow_id": None}, {"workflow_id": -1}])
def test_missing_or_bad_workflow_id_is_400(api_client, body):
    response = api_client.post(f"/api/devices/{DeviceFactory().pk}/book", body, format="json")
    assert response.status_code == 400
    assert "workflow_id" in response.json()["fields"]


def test_non_json_body_is_400(api_client):
    response = api_client.post(f"/api/devices/{DeviceFactory().pk}/book", "{nope", content_type="application/json")
    assert response.status_code == 400


def test_a_viewer_may_read_the_queue_but_not_book(api_client):
    viewer, device = client_with_role("viewer"), DeviceFactory()
    assert viewer.get(f"/api/devices/{device.pk}/queue").status_code == 200
    response = viewer.post(f"/api/devices/{device.pk}/book", {"workflow_id": WorkflowFactory().pk}, format="json")
    assert response.status_code == 403
    assert "operate devices" in response.json()["detail"]


def test_an_operator_may_book(api_client):
    operator, device = client_with_role("operator"), DeviceFactory()
    response = operator.post(f"/api/devices/{device.pk}/book", {"workflow_id": WorkflowFactory().pk}, format="json")
    assert response.status_code == 201


def test_wait_time_queries_do_not_grow_with_the_queue(api_client):
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    asking = WorkflowFactory(priority=Priority.LOW)

    def queue_planned(count):
        for _ in range(count):
            workflow = WorkflowFactory()
            RunStepFactory(workflow=workflow, device=device)
            queue_entry_create(device=device, workflow=workflow, priority=Priority.NORMAL)

    path = f"/api/devices/{device.pk}/wait-time"
    queue_planned(3)
    few = queries_for(lambda: api_client.get(path, {"workflow_id": asking.pk}))
    queue_planned(27)
    many = queries_for(lambda: api_client.get(path, {"workflow_id": asking.pk}))
    assert few == many
    assert api_client.get(path, {"workflow_id": asking.pk}).json()["position"] == 31


def test_queueing_again_at_a_higher_priority_moves_the_request_up(api_client):
    device = DeviceFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    ahead, workflow = WorkflowFactory(), WorkflowFactory()
    queue_entry_create(device=device, workflow=ahead, priority=Priority.NORMAL)
    path = f"/api/devices/{device.pk}/queue"
    first = api_client.post(path, {"workflow_id": workflow.pk, "priority": "normal"}, format="json").json()
    assert first["position"] == 2
    raised = api_client.post(path, {"workflow_id": workflow.pk, "priority": "urgent"}, format="json")
    assert raised.status_code == 201
    body = raised.json()
    assert body["outcome"] == "queued" and body["position"] == 1 and body["entry"]["priority"] == "urgent"
    assert QueueEntry.objects.get(pk=first["entry"]["id"]).status == "withdrawn"


def test_queueing_again_at_a_lower_priority_is_a_409_saying_how(api_client):
    device, workflow = DeviceFactory(), WorkflowFactory()
    booking_create(device=device, workflow=WorkflowFactory())
    path = f"/api/devices/{device.pk}/queue"
    api_client.post(path, {"workflow_id": workflow.pk, "priority": "urgent"}, format="json")
    response = api_client.post(path, {"workflow_id": workflow.pk, "priority": "low"}, format="json")
    assert response.status_code == 409
    assert "withdraw it" in response.json()["detail"] and set(response.json()["fields"]) == {"priority"}
