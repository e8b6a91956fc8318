"""The devices read API."""

import pytest

from tests.factories import BookingFactory, DeviceFactory
from tests.utils import queries_for


@pytest.mark.django_db
def test_device_list_shows_the_demo_devices(api_client, demo_lab):
    response = api_client.get("/api/devices")
    assert response.status_code == 200
    ids = [device["id"] for device in response.json()["results"]]
    assert "liquid-handler-1" in ids
    assert ids == sorted(ids)


@pytest.mark.django_db
def test_device_detail_shows_the_holder(api_client):
    booking = BookingFactory(device=DeviceFactory(id="incubator-9", kind="incubator"))
    response = api_client.get("/api/devices/incubator-9")
    assert response.status_code == 200
    assert response.json()["holder_workflow_id"] == booking.workflow_id
    assert response.json()["kind"] == "incubator"


@pytest.mark.django_db
def test_device_list_filters_by_kind(api_client, demo_lab):
    response = api_client.get("/api/devices", {"kind": "liquid_handler"})
    assert [d["id"] for d in response.json()["results"]] == ["liquid-handler-1", "liquid-handler-2"]


@pytest.mark.django_db
def test_device_list_rejects_an_unknown_kind(api_client):
    response = api_client.get("/api/devices", {"kind": "toaster"})
    assert response.status_code == 400
    assert "kind" in response.json()["fields"]


@pytest.mark.django_db
def test_device_list_queries_do_not_grow_with_rows(api_client):
    for _ in range(3):
        BookingFactory()
    few = queries_for(lambda: api_client.get("/api/devices", {"page_size": 100}))
    for _ in range(27):
        BookingFactory()
    many = queries_for(lambda: api_client.get("/api/devices", {"page_size": 100}))
    assert few == many


@pytest.mark.django_db
def test_device_detail_shows_its_capacity_and_the_slots_in_use(api_client):
    incubator = DeviceFactory(id="incubator-8", kind="incubator", capacity=44)
    BookingFactory(device=incubator, slot=0)
    BookingFactory(device=incubator, slot=7)
    body = api_client.get("/api/devices/incubator-8").json()
    assert (body["capacity"], body["slots_in_use"], body["status"]) == (44, 2, "available")
